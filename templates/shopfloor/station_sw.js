// The station's service worker (scope /station/): keeps the station page and its scripts, so a
// tablet that lost the server still opens the station; reports wait in the page's IndexedDB.
// Network first: online the station is always fresh; only a failed fetch falls back to the copy.
const CACHE = "mes-station-{{ version }}";
const SHELL = "{% url 'station' %}";
// Work instructions live in a cache of their own that outlives a new version of the station: their
// addresses carry their content's hash (?v=), so a kept copy is never stale and is answered first.
const INSTRUCTIONS = "mes-instructions";
const INSTRUCTION_PATH = "{% url 'station-instruction' 0 %}".replace(/0$/, "");
const ASSETS = [{% for asset in assets %}"{{ asset|escapejs }}"{% if not forloop.last %}, {% endif %}{% endfor %}];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll([SHELL, ...ASSETS])).then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((name) => name.startsWith("mes-station-") && name !== CACHE).map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  );
});

async function networkFirst(request, key) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && !response.redirected) {
      await cache.put(key, response.clone());
      return response;
    }
    if (response.status >= 500) return (await cache.match(key)) || response; // a proxy in front of a stopped server
    return response;
  } catch (error) {
    const copy = await cache.match(key);
    if (copy) return copy;
    throw error;
  }
}

// The page names the instructions of its queued and open operations: fetch the missing ones, drop the others.
async function keepInstructions(urls) {
  const cache = await caches.open(INSTRUCTIONS);
  const wanted = new Set(urls.map((url) => new URL(url, self.location.origin).href));
  for (const request of await cache.keys()) {
    if (!wanted.has(request.url)) await cache.delete(request);
  }
  for (const url of wanted) {
    if (await cache.match(url)) continue;
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (response.ok) await cache.put(url, response);
    } catch {
      // Offline now: kept at the next message.
    }
  }
  return (await cache.keys()).length;
}

self.addEventListener("message", (event) => {
  if (!event.data || event.data.type !== "keep-instructions") return;
  const port = event.ports[0];
  event.waitUntil(keepInstructions(event.data.urls || []).then((kept) => port && port.postMessage({ kept })));
});

async function instructionFirstFromCache(request) {
  const cache = await caches.open(INSTRUCTIONS);
  const copy = await cache.match(request.url);
  if (copy) return copy;
  const response = await fetch(request);
  if (response.ok) await cache.put(request.url, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return; // reports and actions: the page itself keeps what cannot go
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname === SHELL) {
    event.respondWith(networkFirst(request, SHELL));
  } else if (url.pathname.startsWith(INSTRUCTION_PATH)) {
    event.respondWith(instructionFirstFromCache(request));
  } else if (ASSETS.includes(url.pathname)) {
    event.respondWith(networkFirst(request, url.pathname));
  }
});
