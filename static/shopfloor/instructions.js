// Work instructions at the station: the open operation's documents as buttons; a tap opens the viewer
// (an image inline, a PDF in a frame with a link to open it in a new tab, for phones that cannot frame
// a PDF). The service worker keeps the documents of the queued and the open operations, so a
// tablet that lost the server still shows them.

const $ = (id) => document.getElementById(id);

/** Show the operation's instructions (or hide the card when it has none). */
export function renderInstructions(operation, t) {
  const documents = operation && Array.isArray(operation.instructions) ? operation.instructions : [];
  $("instructions").hidden = documents.length === 0;
  $("instruction-list").replaceChildren(
    ...documents.map((document_) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.instruction = document_.url;
      button.dataset.image = document_.is_image ? "true" : "false";
      button.dataset.name = document_.name;
      button.textContent = `${document_.is_image ? "🖼" : "📄"} ${document_.name}`;
      button.title = t("instruction_open", { name: document_.name });
      item.append(button);
      return item;
    }),
  );
}

function openViewer(button) {
  const { instruction: url, image, name } = button.dataset;
  $("instruction-viewer-title").textContent = name;
  $("instruction-viewer-tab").href = url;
  let content;
  if (image === "true") {
    content = document.createElement("img");
    content.alt = name;
  } else {
    content = document.createElement("iframe");
    content.title = name;
  }
  content.src = url;
  $("instruction-viewer-body").replaceChildren(content);
  $("instruction-viewer").showModal();
}

function closeViewer() {
  $("instruction-viewer").close();
  $("instruction-viewer-body").replaceChildren();
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button");
  if (!button) return;
  if (button.dataset.instruction) openViewer(button);
  else if (button.id === "instruction-viewer-close") closeViewer();
});
$("instruction-viewer").addEventListener("close", () => $("instruction-viewer-body").replaceChildren());

/** The instructions the work queue lists for an operation (what an operation opened offline, never seen before, shows). */
export function queuedInstructions(number, sequence) {
  const row = [...document.querySelectorAll("#queue [data-operation]")].find((button) => button.dataset.operation === `${number}/${sequence}`);
  return row && row.dataset.instructions ? JSON.parse(row.dataset.instructions) : [];
}

/** The instructions worth keeping offline: those of the queued operations and of the open one. */
function wanted(operation) {
  const urls = new Set();
  for (const row of document.querySelectorAll("#queue [data-instructions]")) {
    for (const document_ of JSON.parse(row.dataset.instructions)) urls.add(document_.url);
  }
  for (const document_ of (operation && operation.instructions) || []) urls.add(document_.url);
  return [...urls];
}

/** Ask the service worker to keep them; ``body[data-instructions-kept]`` says how many it holds. */
export async function keepInstructionsOffline(operation) {
  if (!("serviceWorker" in navigator)) return;
  const registration = await navigator.serviceWorker.getRegistration();
  const worker = registration && registration.active;
  if (!worker) return;
  const urls = wanted(operation);
  const channel = new MessageChannel();
  channel.port1.onmessage = (event) => {
    document.body.dataset.instructionsKept = String(event.data.kept);
  };
  worker.postMessage({ type: "keep-instructions", urls }, [channel.port2]);
}
