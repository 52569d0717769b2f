// The station's memory on the tablet (IndexedDB): reports not yet sent ("outbox", in the order
// they were made), reports the server refused on replay ("refused", until acknowledged), and
// small values ("kv": who is signed in, the open operation, operations seen lately).

const NAME = "mes-station";
const VERSION = 1;

function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function committed(transaction) {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error);
  });
}

export class Store {
  constructor(db) {
    this.db = db;
  }

  static async open() {
    const request = indexedDB.open(NAME, VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      db.createObjectStore("outbox", { keyPath: "seq", autoIncrement: true });
      db.createObjectStore("refused", { keyPath: "client_id" });
      db.createObjectStore("kv");
    };
    return new Store(await done(request));
  }

  async #one(storeName, mode, work) {
    const transaction = this.db.transaction(storeName, mode);
    const finished = committed(transaction); // listened to before the transaction can end
    const result = done(work(transaction.objectStore(storeName)));
    await finished;
    return result;
  }

  get(storeName, key) {
    return this.#one(storeName, "readonly", (store) => store.get(key));
  }

  put(storeName, value, key) {
    return this.#one(storeName, "readwrite", (store) => (key === undefined ? store.put(value) : store.put(value, key)));
  }

  add(storeName, value) {
    return this.#one(storeName, "readwrite", (store) => store.add(value));
  }

  delete(storeName, key) {
    return this.#one(storeName, "readwrite", (store) => store.delete(key));
  }

  all(storeName) {
    return this.#one(storeName, "readonly", (store) => store.getAll());
  }

  count(storeName) {
    return this.#one(storeName, "readonly", (store) => store.count());
  }

  /** The oldest report not yet sent, or undefined. */
  async first(storeName) {
    const cursor = await this.#one(storeName, "readonly", (store) => store.openCursor());
    return cursor ? cursor.value : undefined;
  }

  /** Move a report from the outbox to the refused list in one transaction: it is never in neither. */
  async refuse(seq, record) {
    const transaction = this.db.transaction(["outbox", "refused"], "readwrite");
    const finished = committed(transaction);
    transaction.objectStore("refused").put(record);
    transaction.objectStore("outbox").delete(seq);
    await finished;
  }
}
