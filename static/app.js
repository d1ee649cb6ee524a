/*
 * The page: picks a model, downloads it (once; Cache Storage keeps it), hands it to the engine's
 * worker (worker.js) and shows the story as the tokens arrive. All computing happens in the
 * worker, so this thread only moves bytes and appends text.
 *
 * Written for every current browser and for HtmlUnit, which tests the JavaScript build: arrow
 * functions, const/let, template literals and Promises, but no classes or async/await, which
 * HtmlUnit's engine cannot parse. Downloads with fetch, streaming and Cache Storage run only in
 * real browsers (HtmlUnit takes the XMLHttpRequest path) and are tested in Chromium.
 *
 * The engine's worker is created here, by top-level code rather than inside a function: HtmlUnit
 * delivers a worker's messages only to a Worker made in the page's global scope.
 */
'use strict';

const engineWorker = new Worker(`worker.js?engine=${chooseEngine(new URLSearchParams(location.search))}` +
    workersParameter(chooseWorkers(new URLSearchParams(location.search))));

/** 'wasm' unless the URL asks for 'js' or the browser cannot run WebAssembly GC. */
function chooseEngine(query) {
  return query.get('engine') !== 'js' && supportsWasmGc() ? 'wasm' : 'js';
}

/**
 * How many workers share the model: ?workers=N, else one per core when the page is cross-origin
 * isolated (shared memory; sw.js or the server makes it so), at most two per GB the device reports
 * and eight in all. One without isolation: exchanging by messages costs more than a core gains.
 * The worker uses no more than the model has key/value heads. In the Train view ?workers=N is
 * the trainer's (train.js), not the story model's.
 */
function chooseWorkers(query) {
  const asked = query.get('view') === 'train' ? NaN : parseInt(query.get('workers'), 10);
  if (asked >= 1) {
    return Math.min(asked, 64);
  }
  if (self.crossOriginIsolated !== true) {
    return 1;
  }
  const cores = navigator.hardwareConcurrency || 1;
  const memory = navigator.deviceMemory ? Math.max(1, Math.floor(2 * navigator.deviceMemory)) : cores;
  return Math.max(1, Math.min(cores, memory, 8));
}

/** ?shared=0 makes the workers exchange by messages even when they could share memory (to compare). */
function workersParameter(count) {
  return count > 1 ? `&workers=${count}${new URLSearchParams(location.search).get('shared') === '0' ? '&shared=0' : ''}` : '';
}

/** Validates the smallest module that declares a GC struct type. */
function supportsWasmGc() {
  try {
    return WebAssembly.validate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 3, 1, 0x5f, 0]));
  } catch (e) {
    return false; // no WebAssembly at all
  }
}

(() => {
  const CACHE_NAME = 'llama2-models-v1';
  const FILES_CHOICE = '__files__';
  const MAX_SEED = Number.MAX_SAFE_INTEGER; // 2^53 - 1: the largest integer a JavaScript number holds exactly

  const ui = {};
  ['model', 'files', 'model-file', 'tokenizer-file', 'chat-ok', 'quantize', 'download', 'progress', 'progress-text',
   'cancel', 'facts', 'clear-cache', 'prompt', 'prompt-label', 'system', 'system-row', 'mode-row',
   'mode-chat', 'mode-generate', 'temperature', 'topp', 'steps', 'seed', 'generate', 'stop', 'output',
   'status', 'count', 'tokps', 'engine', 'seed-used', 'story-actions', 'copy', 'save', 'share',
   'permalink', 'no-link', 'drop-hint', 'new-chat', 'advanced', 'story']
      .forEach((id) => { ui[id.replace(/-(\w)/g, (_, c) => c.toUpperCase())] = document.getElementById(id); });

  const BIG_DOWNLOAD = 100e6;  // bytes: larger downloads ask first
  const query = new URLSearchParams(location.search);
  let manifest = [];
  let modelLoaded = false;     // the worker holds a usable model (inUse)
  let inUse = null;            // that model: {id (null for local files), name, chat}
  let coming = null;           // the model being downloaded or read: {id, name, chat}
  let loadNumber = 0;          // ignores downloads that finish after another model was chosen
  let download = null;         // the download in progress: {controller, number}
  let waitingLoad = null;      // a 'load' message held back until the story being written ends
  let storyText = null;        // the Text node tokens are appended to (never innerHTML)
  const unwritten = {text: '', count: 0, tokps: 0, timer: 0}; // tokens not yet written (writeStory)
  let lastSeed = null;
  let following = false;       // the page scrolls with the story until the visitor scrolls away
  let runFromLink = query.get('run') === '1'; // a "Link to this story": generate once ready
  const localFiles = {model: null, tokenizer: null};
  let chatOpen = false;        // a conversation waits for the user's next message
  let notice = '';             // said once the model is ready
  let modelFacts = null;       // what the engine said about the model in use (format, quantizedOnLoad, …)
  let preparing = '';          // the status while the engine reads a model, before its percent

  applySettingsFromUrl();
  registerServiceWorker();
  const worker = listenTo(engineWorker);
  bindControls();
  afterIsolation(loadManifest);

  /** sw.js keeps the page and its engine for offline visits (not in HtmlUnit, which has none). */
  function registerServiceWorker() {
    if (navigator.serviceWorker && location.protocol !== 'file:') {
      navigator.serviceWorker.register('sw.js').catch(() => {}); // without it the page still works online
    }
  }

  /**
   * On a static host the page is cross-origin isolated (so its workers can share memory) only
   * once sw.js answers it. A visit it does not control yet reloads once when it takes over
   * (at most once per tab session: no loop, whatever happens); meanwhile, for up to three seconds,
   * the model waits, so it is not downloaded twice. Then `next` runs.
   */
  function afterIsolation(next) {
    const KEY = 'llama2-isolation-reload';
    let tried = true;
    try {
      tried = self.crossOriginIsolated === true || !navigator.serviceWorker || location.protocol === 'file:' ||
          sessionStorage.getItem(KEY) === '1';
    } catch (e) {
      // no sessionStorage here: never reload
    }
    if (tried) {
      next();
      return;
    }
    const timer = navigator.serviceWorker.controller ? null : setTimeout(next, 3000);
    navigator.serviceWorker.addEventListener('controllerchange', () => {
      sessionStorage.setItem(KEY, '1');
      if (timer !== null) {
        clearTimeout(timer);
      }
      location.reload();
    });
    if (timer === null) {
      next(); // controlled, yet not isolated: an older sw.js, which an update will replace
    }
  }

  /** Once a model is stored, asks the browser not to evict it under storage pressure. */
  function keepStorage() {
    if (navigator.storage && navigator.storage.persist) {
      navigator.storage.persist().catch(() => {});
    }
  }

  // ---- Engine and worker ----------------------------------------------------------------

  function listenTo(started) {
    started.onmessage = (event) => onWorkerMessage(event.data);
    started.onerror = (event) => {
      fail(`The engine stopped unexpectedly${event && event.message ? `: ${event.message}` : '.'}`);
      if (event && event.preventDefault) {
        event.preventDefault();
      }
    };
    return started;
  }

  function onWorkerMessage(message) {
    switch (message.type) {
      case 'engine':
        ui.engine.textContent = message.engine === 'wasm' ? 'WebAssembly GC' : 'JavaScript';
        if (message.engine === 'js' && query.get('engine') !== 'js') {
          ui.engine.title = message.note || 'This browser lacks WebAssembly GC, so the JavaScript build runs.';
          ui.engine.textContent += ' (fallback: no WebAssembly GC here)';
        }
        document.body.dataset.engine = message.engine;
        break;
      case 'progress':
        if (message.reading) {
          if (message.stalled) { // the worker reads the rest another way (tests report it)
            document.body.dataset.readStalled = String(message.loaded);
          }
          showReading(message.loaded, message.total);
        } else {
          showProgress(message.what, message.loaded, message.total);
        }
        break;
      case 'ready':
        modelLoaded = true;
        inUse = coming;
        chatOpen = false;
        ui.download.hidden = true;
        modelFacts = message.info;
        showFacts(message.info);
        showModelInUse();
        setState('ready', `Ready. Press ${ui.generate.textContent}.${notice}`);
        notice = '';
        if (runFromLink) {
          runFromLink = false;
          generate();
        }
        break;
      case 'token':
        showToken(message);
        break;
      case 'done':
        writeStory(); // the last tokens, now
        ui.output.dataset.ids = message.ids.join(' ');
        ui.output.dataset.tokps = message.tokps.toFixed(2);
        ui.tokps.textContent = message.tokps.toFixed(1);
        chatOpen = message.reason === 'turn';
        if (chatOpen) {
          ui.prompt.value = '';
        }
        setState('done', finishedBecause(message.reason, message.count) + (message.note ? ` ${message.note}` : ''));
        follow();
        showStoryActions();
        sendWaitingLoad();
        break;
      case 'error':
        if (document.body.dataset.state === 'loading') {
          modelLoaded = false; // the worker dropped its model to read the new one
          inUse = null;
        }
        fail(message.message);
        sendWaitingLoad();
        break;
      default:
        break;
    }
  }

  function finishedBecause(reason, count) {
    const tokens = `${count} ${count === 1 ? 'token' : 'tokens'}`;
    switch (reason) {
      case 'stopped': return `Stopped after ${tokens}.`;
      case 'bos': return `The model ended the story after ${tokens}.`;
      case 'turn': return `Your turn (${tokens} so far in this turn).`;
      case 'context': return 'The conversation has filled the model\'s context; start a new chat.';
      default: return `Reached the step limit after ${tokens}.`;
    }
  }

  // ---- Models -------------------------------------------------------------------------

  function loadManifest() {
    downloadBytes('models/models.json', null, 0, null, (buffer) => {
      try {
        manifest = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer)));
      } catch (e) {
        fail(`The model list (models/models.json) is not valid JSON: ${e.message}`);
        return;
      }
      fillModelPicker();
      const wanted = query.get('model');
      const entry = findModel(wanted) || manifest[0];
      if (wanted && !findModel(wanted)) {
        notice = ` (This site has no model "${wanted}", so the default is loaded.)`;
      }
      if (entry) {
        ui.model.value = entry.id;
        loadFromManifest(entry);
      } else {
        ui.model.value = FILES_CHOICE;
        showFilePicker();
      }
    }, (problem) => fail(`The model list could not be loaded: ${problem}`));
  }

  function fillModelPicker() {
    manifest.forEach((entry) => {
      ui.model.appendChild(new Option(entry.name + (entry.bytes ? ` · ${megabytes(entry.bytes)}` : ''), entry.id));
    });
    ui.model.appendChild(new Option('Open files…', FILES_CHOICE));
  }

  /** The picker shows the model the worker holds; chat is offered only if that model can chat. */
  function showModelInUse() {
    if (inUse) {
      ui.model.value = inUse.id || FILES_CHOICE;
    }
    const canChat = Boolean(inUse && inUse.chat);
    ui.modeRow.hidden = !canChat;
    if (!canChat && ui.modeChat.checked) {
      ui.modeGenerate.checked = true;
    }
    showMode();
  }

  function findModel(id) {
    return manifest.find((entry) => entry.id === id) || null;
  }

  /**
   * Downloads a listed model (asking first when it is big and not stored yet); the model in use
   * stays usable meanwhile, and again if the download fails or is cancelled.
   */
  function loadFromManifest(entry) {
    const url = (what) => new URL(entry[what], document.baseURI).href;
    isStored(url('model')).then((stored) => {
      if (!stored && entry.bytes > BIG_DOWNLOAD && !confirm(bigDownloadQuestion(entry))) {
        showModelInUse();
        return;
      }
      const thisLoad = beginLoad(`Downloading ${entry.name}…`, {id: entry.id, name: entry.name, chat: entry.chat === true});
      const controller = typeof AbortController === 'function' ? new AbortController() : null;
      download = {controller, number: thisLoad};
      ui.cancel.hidden = !controller;
      const bytes = {};
      let failed = false;
      ['model', 'tokenizer'].forEach((what) => {
        downloadBytes(url(what), what, what === 'model' ? entry.bytes || 0 : 0, controller, (buffer) => {
          bytes[what] = buffer;
          if (bytes.model && bytes.tokenizer && !failed && thisLoad === loadNumber) {
            download = null;
            sendToEngine(bytes.model, fileName(entry.model), bytes.tokenizer, fileName(entry.tokenizer));
          }
        }, (problem) => {
          if (!failed && thisLoad === loadNumber) {
            failed = true;
            if (controller) {
              controller.abort(); // the other file too
            }
            download = null;
            downloadFailed(problem === ABORTED ? `Download of ${entry.name} cancelled.`
                : `Could not download the ${what} of ${entry.name}: ${problem}`);
          }
        });
      });
    });
  }

  const ABORTED = 'cancelled';

  function cancelDownload() {
    if (download && download.controller) {
      download.controller.abort();
    }
  }

  /** After a failed or cancelled download: back to the model in use, if there is one. */
  function downloadFailed(text) {
    ui.download.hidden = true;
    coming = null;
    loadNumber++;
    if (modelLoaded) {
      showModelInUse();
      fail(`${text} Still using ${inUse.name}.`);
    } else {
      fail(text);
    }
  }

  function bigDownloadQuestion(entry) {
    const memory = navigator.deviceMemory ? ` This device reports about ${navigator.deviceMemory} GB of memory.` : '';
    const q8 = ui.quantize.checked && !/q8|Q8_0/.test(entry.name + entry.id);
    return `${entry.name} is a ${megabytes(entry.bytes)} download, and the browser tab will need about ` +
        `${megabytes(entry.bytes * (q8 ? 0.5 : 1.3))} of memory to run it` +
        `${q8 ? ' (quantized to Q8_0 on load)' : ''}.${memory} Download it?`;
  }

  function isStored(url) {
    if (typeof caches !== 'object') {
      return Promise.resolve(false);
    }
    return caches.open(CACHE_NAME).then((cache) => cache.match(url)).then((hit) => Boolean(hit), () => false);
  }

  function loadLocalFiles() {
    if (!localFiles.model || !localFiles.tokenizer) {
      setState(modelLoaded ? document.body.dataset.state : 'loading',
          `Choose ${localFiles.model ? 'a tokenizer' : 'a model'} file as well.`);
      return;
    }
    const thisLoad = beginLoad(`Reading ${localFiles.model.name}…`,
        {id: null, name: localFiles.model.name, chat: ui.chatOk.checked});
    // The model goes to the worker as the File itself, which reads it a megabyte at a time
    // into the engine; only the small tokenizer is read here.
    const reader = new FileReader();
    reader.onload = () => {
      if (thisLoad === loadNumber) {
        sendToEngine(localFiles.model, localFiles.model.name, reader.result, localFiles.tokenizer.name);
      }
    };
    reader.onerror = () => fail(`Could not read ${localFiles.tokenizer.name} from your disk.`);
    reader.readAsArrayBuffer(localFiles.tokenizer);
  }

  /** While a model downloads, the one in use stays usable: only without one is the page 'loading'. */
  function beginLoad(text, model) {
    loadNumber++;
    cancelDownload();
    coming = model;
    if (modelLoaded) {
      ui.status.textContent = text;
    } else {
      setState('loading', text);
    }
    return loadNumber;
  }

  /** Hands the files to the worker, which drops the model in use; not while it writes a story. */
  function sendToEngine(model, modelName, tokenizer, tokenizerName) {
    waitingLoad = {type: 'load', model, modelName, tokenizer, tokenizerName, quantize: ui.quantize.checked};
    if (document.body.dataset.state !== 'generating') {
      sendWaitingLoad();
    }
  }

  function sendWaitingLoad() {
    if (!waitingLoad) {
      return;
    }
    const message = waitingLoad;
    waitingLoad = null;
    modelLoaded = false;
    ui.facts.textContent = '';
    ui.download.hidden = true;
    modelFacts = null;
    preparing = `Preparing ${message.modelName}${message.quantize ? ' (quantizing to Q8_0)' : ''}…`;
    setState('loading', preparing);
    // ArrayBuffers move to the worker (no copy); a File is only a handle the worker reads.
    worker.postMessage(message, [message.model, message.tokenizer].filter((part) => part instanceof ArrayBuffer));
  }

  /** While the engine reads a big model: how far it got. */
  function showReading(loaded, total) {
    if (document.body.dataset.state === 'loading' && total > 8e6) {
      ui.status.textContent = `${preparing} ${Math.floor(100 * loaded / total)}%`;
    }
  }

  /**
   * "Quantize to Q8_0 on load" changed: the model in use is read again if that changes it (an
   * fp32 model to quantize, or one quantized on load to keep in fp32).
   */
  function quantizeChanged() {
    updateUrl();
    const affected = modelFacts && (ui.quantize.checked ? modelFacts.version !== 2 : modelFacts.quantizedOnLoad);
    if (!affected || !inUse || document.body.dataset.state === 'loading') {
      return;
    }
    if (inUse.id === null) {
      loadLocalFiles();
    } else if (findModel(inUse.id)) {
      loadFromManifest(findModel(inUse.id));
    }
  }

  function showFacts(info) {
    ui.facts.textContent = [
      `${formatCount(info.parameters)} parameters`,
      `dim ${info.dim}, hidden ${info.hiddenDim}`,
      `${info.nLayers} layers, ${info.nHeads} heads` +
          (info.nKvHeads !== info.nHeads ? ` (${info.nKvHeads} key/value)` : ''),
      `vocabulary ${info.vocabSize}, context ${info.seqLen}`,
      info.quantizedOnLoad ? `${info.format}, quantized on load` : info.format,
      megabytes(info.bytes)
    ].concat(info.shards > 1 ? [`${info.shards} workers (${info.transport})`] : []).join(' · ');
    document.body.dataset.shards = String(info.shards || 1);
    document.body.dataset.transport = info.transport || 'none';
  }

  function showFilePicker() {
    ui.files.hidden = false;
    cancelDownload();
    setState(modelLoaded ? document.body.dataset.state : 'loading',
        `Choose a model file and its tokenizer.${modelLoaded ? ` Until then, ${inUse.name} stays in use.` : ''}`);
  }

  // ---- Downloads: Cache Storage first, then the network ----------------------------------

  /**
   * Calls onBytes(ArrayBuffer) or onError(sentence). With fetch and Cache Storage (every current
   * browser) the bytes are streamed with progress and kept for the next visit; otherwise
   * (HtmlUnit) XMLHttpRequest fetches them.
   */
  function downloadBytes(url, what, expectedBytes, controller, onBytes, onError) {
    const cacheable = what !== null && typeof caches === 'object' && typeof fetch === 'function';
    if (!cacheable) {
      downloadWithXhr(url, what, expectedBytes, controller, onBytes, onError);
      return;
    }
    caches.open(CACHE_NAME)
        .then((cache) => cache.match(url).then((hit) => {
          if (hit) {
            return hit.arrayBuffer().then((buffer) => {
              showProgress(what, buffer.byteLength, buffer.byteLength, true);
              return buffer;
            });
          }
          return streamDownload(url, what, expectedBytes, controller).then((buffer) =>
            // Keep a copy before the buffer is handed (transferred) to the worker. Storage full
            // or refused: the model still works, it just downloads again next time.
            cache.put(url, new Response(buffer)).then(keepStorage, () => {}).then(() => buffer));
        }))
        .then(onBytes, (failure) => onError(failure && failure.name === 'AbortError' ? ABORTED : explainFailure(failure)));
  }

  /** Streams the bytes in, with progress; an abort stops it, and nothing partial is kept. */
  function streamDownload(url, what, expectedBytes, controller) {
    return fetch(url, controller ? {signal: controller.signal} : {}).then((response) => {
      if (!response.ok) {
        throw new Error(`the server answered ${response.status} ${response.statusText}.`);
      }
      const announced = Number(response.headers.get('Content-Length')) || 0;
      const total = announced || expectedBytes || 0;
      const reader = response.body.getReader();
      const bytes = growable(announced || expectedBytes);
      const pump = () => reader.read().then(({done, value}) => {
        if (done) {
          return bytes.buffer();
        }
        bytes.append(value);
        showProgress(what, bytes.length(), total);
        return pump();
      });
      showProgress(what, 0, total);
      return pump();
    });
  }

  /**
   * Bytes arriving in chunks. When the server announced the size, they go straight into one
   * buffer of that size, so a large model needs its own size in memory rather than twice that.
   */
  function growable(expected) {
    let store = new Uint8Array(expected > 0 ? expected : 1 << 20);
    let length = 0;
    return {
      length: () => length,
      append: (chunk) => {
        if (length + chunk.byteLength > store.byteLength) {
          const bigger = new Uint8Array(Math.max(store.byteLength * 2, length + chunk.byteLength));
          bigger.set(store.subarray(0, length));
          store = bigger;
        }
        store.set(chunk, length);
        length += chunk.byteLength;
      },
      buffer: () => length === store.byteLength ? store.buffer : store.slice(0, length).buffer
    };
  }

  function downloadWithXhr(url, what, expectedBytes, controller, onBytes, onError) {
    const request = new XMLHttpRequest();
    if (controller) {
      controller.signal.addEventListener('abort', () => request.abort());
    }
    request.onabort = () => onError(ABORTED);
    request.open('GET', url);
    request.responseType = 'arraybuffer';
    request.onprogress = (event) => showProgress(what, event.loaded, event.lengthComputable ? event.total : expectedBytes);
    request.onload = () => {
      if (request.status >= 200 && request.status < 300) {
        onBytes(request.response);
      } else {
        onError(`the server answered ${request.status}.`);
      }
    };
    request.onerror = () => onError('the network request failed (offline, or the server does not let this page read it).');
    request.send();
  }

  let progressStart = {};   // per file: when its download started, for speed and time left

  /** "model 12.3 MB of 60.8 MB (20%) · 2.1 MB/s · 23 s left" */
  function showProgress(what, loaded, total, fromCache) {
    if (!what) {
      return;
    }
    ui.download.hidden = false;
    if (total > 0) {
      ui.progress.setAttribute('max', String(total));
      ui.progress.setAttribute('value', String(Math.min(loaded, total)));
    } else {
      ui.progress.removeAttribute('value');
    }
    if (fromCache) {
      ui.progressText.textContent = `From this browser's storage: ${what} ${megabytes(loaded)}`;
      return;
    }
    const now = Date.now();
    if (loaded === 0 || !progressStart[what]) {
      progressStart[what] = now;
    }
    const seconds = (now - progressStart[what]) / 1000;
    const speed = seconds > 0.5 ? loaded / seconds : 0;
    let text = `${what} ${megabytes(loaded)}`;
    if (total > 0) {
      text += ` of ${megabytes(total)} (${Math.floor(100 * Math.min(loaded, total) / total)}%)`;
    }
    if (speed > 0 && loaded < total) {
      text += ` · ${megabytes(speed)}/s · ${duration((total - loaded) / speed)} left`;
    }
    ui.progressText.textContent = text;
  }

  function duration(seconds) {
    return seconds < 90 ? `${Math.ceil(seconds)} s` : `${Math.ceil(seconds / 60)} min`;
  }

  // ---- Generating ------------------------------------------------------------------------

  function generate() {
    const state = document.body.dataset.state;
    if (!modelLoaded || state === 'generating' || state === 'loading') {
      return;
    }
    const seed = readSeed();
    if (typeof seed === 'string') {
      fail(seed);
      return;
    }
    const mode = ui.modeChat.checked ? 'chat' : 'generate';
    const newChat = mode === 'chat' && !chatOpen;
    if (mode !== 'chat' || newChat) {
      lastSeed = seed;
      ui.output.textContent = '';
    }
    ui.output.removeAttribute('data-ids');
    ui.output.removeAttribute('data-tokps');
    if (mode === 'chat') {
      const said = document.createElement('p');
      said.className = 'user-turn';
      said.textContent = ui.prompt.value;
      ui.output.appendChild(said);
    }
    storyText = document.createTextNode('');
    ui.output.appendChild(storyText);
    ui.count.textContent = '0';
    ui.tokps.textContent = '0.0';
    ui.seedUsed.textContent = String(lastSeed);
    ui.story.removeAttribute('data-empty'); // until now the card showed only the engine
    ui.storyActions.hidden = true;
    setState('generating', 'Writing…');
    ui.stop.focus({preventScroll: true});
    following = true;
    ui.output.scrollIntoView({block: 'nearest'});
    updateUrl();
    // The engine checks temperature, top-p and steps, and says which one is wrong.
    worker.postMessage({type: 'generate', prompt: ui.prompt.value, temperature: number(ui.temperature),
                        topp: number(ui.topp), seed, steps: number(ui.steps), mode, system: ui.system.value,
                        newChat});
    chatOpen = false;
  }

  /** A field's number; blank is NaN (not 0), so the engine refuses it. */
  function number(field) {
    return field.value.trim() === '' ? NaN : Number(field.value);
  }

  /**
   * The seed typed, or a random one when blank (like run.c's clock seed: any 32-bit value); a
   * sentence when it is not a whole number a JavaScript number (and so a link) holds exactly.
   */
  function readSeed() {
    const text = ui.seed.value.trim();
    if (text === '') {
      return Math.floor(Math.random() * 4294967296);
    }
    if (/^\d+$/.test(text) && Number(text) <= MAX_SEED) {
      return Number(text);
    }
    return `The seed must be a whole number from 0 to ${MAX_SEED}, or blank for a random one.`;
  }

  function startNewChat() {
    chatOpen = false;
    if (document.body.dataset.state !== 'generating') {
      ui.output.textContent = '';
      ui.prompt.focus();
    }
  }

  function stop() {
    if (document.body.dataset.state === 'generating') {
      worker.postMessage({type: 'stop'});
      ui.status.textContent = 'Stopping…';
    }
  }

  /**
   * Tokens can come faster than anyone reads, and every write to the story costs this thread
   * layout, scrolling and paint, which take the second core's slack from the workers (15M, two
   * workers: written once per animation frame they ran at 0.7x-0.8x of one worker; written
   * every 100 ms, 1.0x-1.2x, which is 1.5x-1.8x the per-frame page's tokens/s). So the tokens
   * wait here and are written together every WRITE_EVERY_MS; the end of a story and an error
   * write what waits at once. A timer, not an animation frame: a hidden tab ends the same way.
   */
  const WRITE_EVERY_MS = 100;

  function showToken(message) {
    unwritten.text += message.text;
    unwritten.count = message.count;
    unwritten.tokps = message.tokps;
    if (!unwritten.timer) {
      unwritten.timer = setTimeout(writeStory, WRITE_EVERY_MS);
    }
  }

  /** Writes the tokens that wait (text, count, tok/s), then follows the story. */
  function writeStory() {
    if (!unwritten.timer) {
      return;
    }
    clearTimeout(unwritten.timer);
    unwritten.timer = 0;
    storyText.appendData(unwritten.text);
    unwritten.text = '';
    ui.count.textContent = String(unwritten.count);
    ui.tokps.textContent = unwritten.tokps.toFixed(1);
    follow();
  }

  /** Keeps the end of the story in view while it grows, unless the visitor has scrolled away. */
  function follow() {
    if (!following) {
      return;
    }
    const below = ui.output.getBoundingClientRect().bottom - window.innerHeight;
    if (below > 0) {
      autoScrolling = true;
      window.scrollBy(0, below + 8);
    }
  }

  let autoScrolling = false;

  /** Scrolling up (by hand) stops the page from following the story; back at its end, it follows again. */
  function watchScrolling() {
    let lastY = window.scrollY;
    window.addEventListener('scroll', () => {
      if (autoScrolling) {
        autoScrolling = false;
      } else if (window.scrollY < lastY) {
        following = false;
      } else if (ui.output.getBoundingClientRect().bottom <= window.innerHeight) {
        following = document.body.dataset.state === 'generating';
      }
      lastY = window.scrollY;
    });
  }

  // ---- The story: copy, download, share, link ----------------------------------------------

  function storyAsText() {
    return ui.output.textContent;
  }

  function showStoryActions() {
    ui.storyActions.hidden = storyAsText() === '';
    const local = !inUse || inUse.id === null;
    ui.permalink.hidden = local;
    ui.noLink.hidden = !local;
    ui.share.hidden = typeof navigator.share !== 'function';
  }

  function copyStory() {
    if (!navigator.clipboard) {
      ui.status.textContent = 'This browser does not let the page copy; select the story instead.';
      return;
    }
    navigator.clipboard.writeText(storyAsText()).then(
        () => { ui.status.textContent = 'The story is copied.'; },
        () => { ui.status.textContent = 'Copying was refused; select the story instead.'; });
  }

  function saveStory() {
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([storyAsText()], {type: 'text/plain;charset=utf-8'}));
    link.download = 'story.txt';
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }

  function shareStory() {
    const shared = {title: 'A story from llama2.java', text: storyAsText()};
    if (!ui.permalink.hidden) {
      shared.url = ui.permalink.href;
    }
    navigator.share(shared).catch(() => {}); // dismissed: nothing to say
  }

  // ---- Settings in the URL -----------------------------------------------------------------

  function applySettingsFromUrl() {
    const fields = {prompt: ui.prompt, seed: ui.seed, temperature: ui.temperature, topp: ui.topp, steps: ui.steps};
    Object.keys(fields).forEach((name) => {
      if (query.has(name)) {
        fields[name].value = query.get(name);
      }
    });
    if (query.get('mode') === 'chat') {
      ui.modeChat.checked = true;
    }
    ui.quantize.checked = query.get('q8') === '1';
    showMode();
  }

  /**
   * The address bar keeps the settings as typed (a blank seed stays blank, so a reload stays
   * random); "Link to this story" adds the seed actually used and run=1, so it writes the same
   * story when opened.
   */
  function updateUrl() {
    const params = new URLSearchParams();
    const model = coming && coming.id !== null ? coming.id : inUse && inUse.id;
    if (model) {
      params.set('model', model);
    }
    params.set('prompt', ui.prompt.value);
    params.set('temperature', ui.temperature.value);
    params.set('topp', ui.topp.value);
    params.set('steps', ui.steps.value);
    if (ui.seed.value.trim() !== '') {
      params.set('seed', ui.seed.value.trim());
    }
    if (ui.modeChat.checked) {
      params.set('mode', 'chat');
    }
    if (ui.quantize.checked) {
      params.set('q8', '1');
    }
    if (query.has('engine')) {
      params.set('engine', query.get('engine'));
    }
    history.replaceState(null, '', `${location.pathname}?${params}`);
    if (lastSeed !== null) {
      params.set('seed', String(lastSeed));
      params.set('run', '1');
      ui.permalink.href = `${location.pathname}?${params}`;
    }
  }

  // ---- Controls -------------------------------------------------------------------------

  function bindControls() {
    ui.generate.addEventListener('click', generate);
    ui.stop.addEventListener('click', stop);
    ui.cancel.addEventListener('click', cancelDownload);
    ui.copy.addEventListener('click', copyStory);
    ui.save.addEventListener('click', saveStory);
    ui.share.addEventListener('click', shareStory);
    document.addEventListener('keydown', (event) => {
      const inField = event.target && /^(INPUT|TEXTAREA)$/.test(event.target.tagName) && event.target.type !== 'file'
          && event.target !== ui.system;
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey || (inField && !event.shiftKey))) {
        event.preventDefault(); // Enter in a field generates; Shift+Enter is a new line in the prompt
        generate();
      } else if (event.key === 'Escape') {
        stop();
      }
    });
    ui.chatOk.addEventListener('change', () => {
      if (inUse && inUse.id === null) {
        inUse.chat = ui.chatOk.checked;
        showModelInUse();
      }
    });
    watchScrolling();
    ui.model.addEventListener('change', () => {
      if (ui.model.value === FILES_CHOICE) {
        showFilePicker();
        return;
      }
      ui.files.hidden = true;
      const entry = findModel(ui.model.value);
      if (entry && inUse && inUse.id === entry.id) {
        cancelDownload(); // back to the model in use: nothing to download
        loadNumber++;
        ui.download.hidden = true;
        coming = null;
        setState(document.body.dataset.state === 'loading' ? 'ready' : document.body.dataset.state,
            `Using ${entry.name}.`);
      } else if (entry) {
        loadFromManifest(entry);
      }
      updateUrl();
    });
    // The Train view (train.js) hands over the model it trained, as local files.
    document.addEventListener('llama2-use-model', (event) => {
      const trained = event.detail;
      beginLoad(`Loading ${trained.name}…`, {id: null, name: trained.name, chat: false});
      sendToEngine(trained.model, trained.name, trained.tokenizer, 'tokenizer.bin');
    });
    ui.modelFile.addEventListener('change', () => {
      localFiles.model = ui.modelFile.files[0] || null;
      loadLocalFiles();
    });
    ui.tokenizerFile.addEventListener('change', () => {
      localFiles.tokenizer = ui.tokenizerFile.files[0] || null;
      loadLocalFiles();
    });
    ui.quantize.addEventListener('change', quantizeChanged);
    ui.modeChat.addEventListener('change', showMode);
    ui.modeGenerate.addEventListener('change', showMode);
    ui.clearCache.addEventListener('click', clearCache);
    ui.newChat.addEventListener('click', startNewChat);
    bindDragAndDrop();
  }

  function showMode() {
    const chat = ui.modeChat.checked;
    chatOpen = false;
    ui.systemRow.hidden = !chat;
    ui.newChat.hidden = !chat;
    ui.generate.textContent = chat ? 'Send' : 'Generate';
    ui.promptLabel.textContent = chat ? 'Your message' : 'Start of the story';
  }

  function bindDragAndDrop() {
    let depth = 0;
    document.addEventListener('dragenter', (event) => {
      event.preventDefault();
      depth++;
      ui.dropHint.hidden = false;
    });
    document.addEventListener('dragleave', () => {
      depth = Math.max(0, depth - 1);
      ui.dropHint.hidden = depth > 0;
    });
    document.addEventListener('dragover', (event) => event.preventDefault());
    document.addEventListener('drop', (event) => {
      event.preventDefault();
      depth = 0;
      ui.dropHint.hidden = true;
      const dropped = Array.from(event.dataTransfer ? event.dataTransfer.files : []);
      if (dropped.length === 0) {
        return;
      }
      ui.model.value = FILES_CHOICE;
      showFilePicker();
      assignDroppedFiles(dropped);
      loadLocalFiles();
    });
  }

  /** Two files: the smaller is the tokenizer. One file: its name decides ("tok…" is a tokenizer). */
  function assignDroppedFiles(dropped) {
    if (dropped.length >= 2) {
      dropped.sort((a, b) => a.size - b.size);
      localFiles.tokenizer = dropped[0];
      localFiles.model = dropped[dropped.length - 1];
    } else if (/tok/i.test(dropped[0].name)) {
      localFiles.tokenizer = dropped[0];
    } else {
      localFiles.model = dropped[0];
    }
  }

  function clearCache() {
    if (typeof caches !== 'object') {
      ui.status.textContent = 'This browser keeps no downloaded models.';
      return;
    }
    caches.delete(CACHE_NAME).then(() => {
      ui.status.textContent = 'Downloaded models forgotten; they will download again when chosen.';
    });
  }

  // ---- State and messages ------------------------------------------------------------------

  /**
   * One of loading, ready, generating, done, error: tests and CSS read it from <body>. It is set
   * last, so whoever sees the new state also sees the buttons and status that go with it.
   */
  function setState(state, text) {
    const wasGenerating = document.body.dataset.state === 'generating';
    ui.status.textContent = text;
    ui.generate.disabled = !modelLoaded || state === 'generating' || state === 'loading';
    ui.stop.disabled = state !== 'generating';
    ui.output.setAttribute('aria-busy', String(state === 'generating'));
    document.body.dataset.state = state;
    if (wasGenerating && state !== 'generating' && (document.activeElement === ui.stop || document.activeElement === document.body)) {
      ui.generate.focus({preventScroll: true}); // back where the visitor started
    }
  }

  /** Errors are said in #status, brought into view: it sits by the controls that cause them. */
  function fail(text) {
    writeStory(); // the tokens before the failure
    setState('error', text);
    ui.status.scrollIntoView({block: 'nearest'});
  }

  function explainFailure(failure) {
    const text = failure && failure.message ? failure.message : String(failure);
    if (failure && failure.name === 'RangeError') {
      return 'not enough memory to hold it in this browser tab.';
    }
    if (failure && failure.name === 'TypeError' && /fetch/i.test(text)) {
      return 'the network request failed (offline, or the server does not let this page read it).';
    }
    return text;
  }

  function megabytes(bytes) {
    if (bytes < 1e6) {
      return `${(bytes / 1e3).toFixed(bytes < 1e4 ? 1 : 0)} kB`;
    }
    return `${(bytes / 1e6).toFixed(1)} MB`;
  }

  function formatCount(n) {
    if (n >= 1e9) { return `${(n / 1e9).toFixed(1)}B`; }
    if (n >= 1e6) { return `${(n / 1e6).toFixed(1)}M`; }
    if (n >= 1e3) { return `${(n / 1e3).toFixed(0)}K`; }
    return String(n);
  }

  function fileName(url) {
    return String(url).substring(String(url).lastIndexOf('/') + 1);
  }
})();
