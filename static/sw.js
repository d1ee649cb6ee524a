/*
 * The page's service worker: after one visit, the page opens and writes stories offline.
 *
 * It keeps the app shell (page, script, engine builds, model list) in a cache named after the
 * build, so a deploy (a new build, so a new sw.js) installs a fresh copy and drops the old one.
 * Models are not its business: the page keeps them (Cache Storage, 'llama2-models-v1') and reads
 * them from there before it asks the network, so their downloads stay the page's own (progress,
 * Cancel). Registered as 'sw.js' relative to the page, so its scope is the site's folder, also
 * under a subpath such as https://user.github.io/<repo>/.
 *
 * One file for every concern of a service worker: responses that need other headers (for
 * example cross-origin isolation for shared memory) belong in respond() below.
 */
'use strict';

const BUILD = '@build.time@'; // set by the build (Maven resource filtering)
const SHELL = 'llama2-shell-' + BUILD;
const SHELL_FILES = ['./', 'index.html', 'style.css', 'app.js', 'worker.js', 'icon.svg', 'manifest.webmanifest',
  'models/models.json', 'wasm/engine.wasm', 'wasm/classes.wasm-runtime.js', 'js/engine.js'];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(SHELL_FILES)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
      .then((names) => Promise.all(names
          .filter((name) => name.startsWith('llama2-shell-') && name !== SHELL)
          .map((name) => caches.delete(name))))
      .then(() => self.clients.claim()));
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  const path = url.pathname.substring(new URL(self.registration.scope).pathname.length);
  if (event.request.method === 'GET' && url.origin === self.location.origin && isShell(path)) {
    event.respondWith(respond(event.request));
  }
});

function isShell(path) {
  return path === '' || SHELL_FILES.indexOf(path) >= 0;
}

/**
 * The shell's stored copy if there is one, else the network. The query string is ignored
 * (index.html?model=… is index.html, worker.js?engine=js is worker.js), and the copy is answered
 * as a new response, which carries no URL of its own: the page and the worker then keep the one
 * they asked for, query included, and read their settings from it.
 */
function respond(request) {
  return caches.match(request, {ignoreSearch: true}).then((stored) => stored
      ? new Response(stored.body, {status: stored.status, statusText: stored.statusText, headers: stored.headers})
      : fetch(request));
}
