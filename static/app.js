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

const engineWorker = new Worker(`worker.js?engine=${chooseEngine(new URLSearchParams(location.search))}`);

/** 'wasm' unless the URL asks for 'js' or the browser cannot run WebAssembly GC. */
function chooseEngine(query) {
  return query.get('engine') !== 'js' && supportsWasmGc() ? 'wasm' : 'js';
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
  ['model', 'files', 'model-file', 'tokenizer-file', 'download', 'progress', 'progress-text', 'facts',
   'clear-cache', 'prompt', 'prompt-label', 'system', 'system-row', 'mode-chat', 'mode-generate',
   'temperature', 'topp', 'steps', 'seed', 'generate', 'stop', 'output', 'status', 'count', 'tokps',
   'engine', 'seed-used', 'permalink', 'drop-hint', 'new-chat']
      .forEach((id) => { ui[id.replace(/-(\w)/g, (_, c) => c.toUpperCase())] = document.getElementById(id); });

  const query = new URLSearchParams(location.search);
  let manifest = [];
  let modelLoaded = false;
  let currentModelId = null;   // a manifest id, or null for local files
  let loadNumber = 0;          // ignores downloads that finish after another model was chosen
  let storyText = null;        // the Text node tokens are appended to (never innerHTML)
  let lastSeed = null;
  const localFiles = {model: null, tokenizer: null};
  let chatOpen = false;        // a conversation waits for the user's next message
  let notice = '';             // said once the model is ready

  applySettingsFromUrl();
  const worker = listenTo(engineWorker);
  bindControls();
  loadManifest();

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
        showProgress(message.what, message.loaded, message.total);
        break;
      case 'ready':
        modelLoaded = true;
        chatOpen = false;
        ui.download.hidden = true;
        showFacts(message.info);
        setState('ready', `Ready. Press ${ui.generate.textContent}.${notice}`);
        notice = '';
        break;
      case 'token':
        storyText.appendData(message.text);
        ui.count.textContent = String(message.count);
        ui.tokps.textContent = message.tokps.toFixed(1);
        break;
      case 'done':
        ui.output.dataset.ids = message.ids.join(' ');
        ui.output.dataset.tokps = message.tokps.toFixed(2);
        ui.tokps.textContent = message.tokps.toFixed(1);
        chatOpen = message.reason === 'turn';
        if (chatOpen) {
          ui.prompt.value = '';
        }
        setState('done', finishedBecause(message.reason, message.count));
        break;
      case 'error':
        fail(message.message);
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
    downloadBytes('models/models.json', null, 0, (buffer) => {
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
      ui.model.appendChild(new Option(entry.name + (entry.bytes ? ` (${megabytes(entry.bytes)})` : ''), entry.id));
    });
    ui.model.appendChild(new Option('Open files…', FILES_CHOICE));
  }

  function findModel(id) {
    return manifest.find((entry) => entry.id === id) || null;
  }

  function loadFromManifest(entry) {
    const thisLoad = beginLoad(`Downloading ${entry.name}…`);
    currentModelId = entry.id;
    const bytes = {};
    let failed = false;
    ['model', 'tokenizer'].forEach((what) => {
      const url = new URL(entry[what], document.baseURI).href;
      downloadBytes(url, what, what === 'model' ? entry.bytes || 0 : 0, (buffer) => {
        bytes[what] = buffer;
        if (bytes.model && bytes.tokenizer && !failed && thisLoad === loadNumber) {
          sendToEngine(bytes.model, fileName(entry.model), bytes.tokenizer, fileName(entry.tokenizer));
        }
      }, (problem) => {
        if (!failed && thisLoad === loadNumber) {
          failed = true;
          modelLoaded = false;
          fail(`Could not download the ${what} of ${entry.name}: ${problem}`);
        }
      });
    });
  }

  function loadLocalFiles() {
    if (!localFiles.model || !localFiles.tokenizer) {
      setState(modelLoaded ? document.body.dataset.state : 'loading',
          `Choose ${localFiles.model ? 'a tokenizer' : 'a model'} file as well.`);
      return;
    }
    const thisLoad = beginLoad(`Reading ${localFiles.model.name}…`);
    currentModelId = null;
    const bytes = {};
    ['model', 'tokenizer'].forEach((what) => {
      const reader = new FileReader();
      reader.onload = () => {
        bytes[what] = reader.result;
        if (bytes.model && bytes.tokenizer && thisLoad === loadNumber) {
          sendToEngine(bytes.model, localFiles.model.name, bytes.tokenizer, localFiles.tokenizer.name);
        }
      };
      reader.onerror = () => fail(`Could not read ${localFiles[what].name} from your disk.`);
      reader.readAsArrayBuffer(localFiles[what]);
    });
  }

  function beginLoad(text) {
    loadNumber++;
    modelLoaded = false;
    ui.facts.textContent = '';
    setState('loading', text);
    return loadNumber;
  }

  function sendToEngine(model, modelName, tokenizer, tokenizerName) {
    setState('loading', `Preparing ${modelName}…`);
    worker.postMessage({type: 'load', model, modelName, tokenizer, tokenizerName}, [model, tokenizer]);
  }

  function showFacts(info) {
    ui.facts.textContent = [
      `${formatCount(info.parameters)} parameters`,
      `dim ${info.dim}, hidden ${info.hiddenDim}`,
      `${info.nLayers} layers, ${info.nHeads} heads` +
          (info.nKvHeads !== info.nHeads ? ` (${info.nKvHeads} key/value)` : ''),
      `vocabulary ${info.vocabSize}, context ${info.seqLen}`,
      info.format,
      megabytes(info.bytes)
    ].join(' · ');
  }

  function showFilePicker() {
    ui.files.hidden = false;
    ui.download.hidden = true;
    setState(modelLoaded ? document.body.dataset.state : 'loading', 'Choose a model file and its tokenizer.');
  }

  // ---- Downloads: Cache Storage first, then the network ----------------------------------

  /**
   * Calls onBytes(ArrayBuffer) or onError(sentence). With fetch and Cache Storage (every current
   * browser) the bytes are streamed with progress and kept for the next visit; otherwise
   * (HtmlUnit) XMLHttpRequest fetches them.
   */
  function downloadBytes(url, what, expectedBytes, onBytes, onError) {
    const cacheable = what !== null && typeof caches === 'object' && typeof fetch === 'function';
    if (!cacheable) {
      downloadWithXhr(url, what, expectedBytes, onBytes, onError);
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
          return streamDownload(url, what, expectedBytes).then((buffer) =>
            // Keep a copy before the buffer is handed (transferred) to the worker. Storage full
            // or refused: the model still works, it just downloads again next time.
            cache.put(url, new Response(buffer)).catch(() => {}).then(() => buffer));
        }))
        .then(onBytes, (failure) => onError(explainFailure(failure)));
  }

  function streamDownload(url, what, expectedBytes) {
    return fetch(url).then((response) => {
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

  function downloadWithXhr(url, what, expectedBytes, onBytes, onError) {
    const request = new XMLHttpRequest();
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
    ui.progressText.textContent = `${fromCache ? 'From this browser\'s storage: ' : ''}${what} ${megabytes(loaded)}` +
        (total > 0 ? ` of ${megabytes(total)}` : '');
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
    setState('generating', 'Writing…');
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
    showMode();
  }

  /** Puts the settings (with the seed actually used) in the address bar, so the link reproduces the story. */
  function updateUrl() {
    const params = new URLSearchParams();
    if (currentModelId) {
      params.set('model', currentModelId);
    }
    params.set('prompt', ui.prompt.value);
    params.set('temperature', ui.temperature.value);
    params.set('topp', ui.topp.value);
    params.set('steps', ui.steps.value);
    if (lastSeed !== null) {
      params.set('seed', String(lastSeed));
    }
    if (ui.modeChat.checked) {
      params.set('mode', 'chat');
    }
    if (query.has('engine')) {
      params.set('engine', query.get('engine'));
    }
    const link = `${location.pathname}?${params}`;
    ui.permalink.href = link;
    history.replaceState(null, '', link);
  }

  // ---- Controls -------------------------------------------------------------------------

  function bindControls() {
    ui.generate.addEventListener('click', generate);
    ui.stop.addEventListener('click', stop);
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        generate();
      } else if (event.key === 'Escape') {
        stop();
      }
    });
    ui.model.addEventListener('change', () => {
      if (ui.model.value === FILES_CHOICE) {
        showFilePicker();
        return;
      }
      ui.files.hidden = true;
      const entry = findModel(ui.model.value);
      if (entry) {
        loadFromManifest(entry);
        updateUrl();
      }
    });
    ui.modelFile.addEventListener('change', () => {
      localFiles.model = ui.modelFile.files[0] || null;
      loadLocalFiles();
    });
    ui.tokenizerFile.addEventListener('change', () => {
      localFiles.tokenizer = ui.tokenizerFile.files[0] || null;
      loadLocalFiles();
    });
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
      ui.files.hidden = false;
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
    ui.status.textContent = text;
    ui.generate.disabled = !modelLoaded || state === 'generating' || state === 'loading';
    ui.stop.disabled = state !== 'generating';
    ui.model.disabled = state === 'generating';
    document.body.dataset.state = state;
  }

  function fail(text) {
    setState('error', text);
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
