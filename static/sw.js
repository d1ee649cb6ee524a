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
 * It also makes the site cross-origin isolated, which a static host such as GitHub Pages cannot
 * (it sends no such headers): the page and its workers are answered with
 * Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: credentialless, so
 * the page may share memory between the workers that split a model (shards.js). Credentialless
 * still lets the page download models from other sites that allow it (CORS, as Hugging Face and
 * GitHub do); requests to other origins pass by untouched. A first visit, which this worker does
 * not control yet, reloads once when it takes over (app.js).
 */
'use strict';

const BUILD = '@build.time@'; // set by the build (Maven resource filtering)
const SHELL = 'llama2-shell-' + BUILD;
const SHELL_FILES = ['./', 'index.html', 'style.css', 'app.js', 'worker.js', 'read.js', 'shards.js', 'icon.svg', 'manifest.webmanifest',
  'models/models.json', 'wasm/engine.wasm', 'wasm/classes.wasm-runtime.js', 'js/engine.js'];
// The Train view's files (trainer.wasm alone is ~230 KB gzipped) are stored the first time they are
// used, not at install: a visitor who only reads stories never downloads them.
const ON_DEMAND = ['train.js', 'presets.js', 'train.css', 'train-worker.js', 'wasm/trainer.wasm', 'js/trainer.js'];

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
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) {
    return;
  }
  const path = url.pathname.substring(new URL(self.registration.scope).pathname.length);
  if (isShell(path) || ON_DEMAND.indexOf(path) >= 0) {
    event.respondWith(respond(request, ON_DEMAND.indexOf(path) >= 0));
  } else if (request.mode === 'navigate' || request.destination === 'worker' || request.destination === 'script') {
    event.respondWith(fetch(request).then(isolated)); // pages and scripts outside the shell need the headers too
  }
});

function isShell(path) {
  return path === '' || SHELL_FILES.indexOf(path) >= 0;
}

/**
 * The shell's stored copy if there is one, else the network (and, for an on-demand file, a copy
 * stored for next time). The query string is ignored
 * (index.html?model=… is index.html, worker.js?engine=js is worker.js), and the copy is answered
 * as a new response, which carries no URL of its own: the page and the worker then keep the one
 * they asked for, query included, and read their settings from it.
 */
function respond(request, store) {
  return caches.match(request, {ignoreSearch: true}).then((stored) => stored ? isolated(stored) : fetch(request).then((response) => {
    if (store && response.ok) {
      const copy = response.clone();
      caches.open(SHELL).then((cache) => cache.put(request, copy));
    }
    return isolated(response);
  }));
}

/**
 * A new response with the response's body, status and headers, and the two headers of
 * cross-origin isolation. (It carries no URL of its own, see respond.)
 */
function isolated(response) {
  if (!response || response.type === 'opaque' || response.status === 0) {
    return response;
  }
  const headers = new Headers(response.headers);
  headers.set('Cross-Origin-Opener-Policy', 'same-origin');
  headers.set('Cross-Origin-Embedder-Policy', 'credentialless');
  return new Response(response.body, {status: response.status, statusText: response.statusText, headers});
}
