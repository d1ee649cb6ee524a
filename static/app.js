/*
 * The page: picks a model, downloads it (once; Cache Storage keeps it), hands it to the engine's
 * worker (worker.js) and shows the story as the tokens arrive. All computing happens in the
 * worker, so this thread only moves bytes and appends text.
 *
 * Plain JavaScript that HtmlUnit can run too: no modules, classes or async functions.
 *
 * The engine's worker is created here, by top-level code rather than inside a function: HtmlUnit
 * (the test browser) delivers a worker's messages only to a Worker made in the page's global scope.
 */
var engineWorker = new Worker('worker.js?engine=' + chooseEngine(new URLSearchParams(window.location.search)));

/** 'wasm' unless the URL asks for 'js' or the browser cannot run WebAssembly GC. */
function chooseEngine(query) {
  var wanted = query.get('engine') === 'js' ? 'js' : 'wasm';
  if (wanted === 'wasm' && !supportsWasmGc()) {
    return 'js';
  }
  return wanted;
}

/** Validates the smallest module that declares a GC struct type. */
function supportsWasmGc() {
  if (typeof WebAssembly !== 'object' || typeof WebAssembly.validate !== 'function') {
    return false;
  }
  try {
    return WebAssembly.validate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 3, 1, 0x5f, 0]));
  } catch (e) {
    return false;
  }
}

(function () {
  'use strict';

  var CACHE_NAME = 'llama2-models-v1';
  var FILES_CHOICE = '__files__';
  var MAX_SEED = 9007199254740991; // 2^53 - 1: the largest integer a JavaScript number holds exactly

  var $ = function (id) { return document.getElementById(id); };
  var ui = {
    model: $('model'), files: $('files'), modelFile: $('model-file'), tokenizerFile: $('tokenizer-file'),
    download: $('download'), progress: $('progress'), progressText: $('progress-text'), facts: $('facts'),
    clearCache: $('clear-cache'), prompt: $('prompt'), promptLabel: $('prompt-label'), system: $('system'),
    systemRow: $('system-row'), modeChat: $('mode-chat'), modeGenerate: $('mode-generate'),
    temperature: $('temperature'), topp: $('topp'), steps: $('steps'), seed: $('seed'),
    generate: $('generate'), stop: $('stop'), output: $('output'), status: $('status'),
    count: $('count'), tokps: $('tokps'), engine: $('engine'), seedUsed: $('seed-used'),
    permalink: $('permalink'), dropHint: $('drop-hint'), newChat: $('new-chat')
  };

  var query = new URLSearchParams(window.location.search);
  var manifest = [];
  var modelLoaded = false;
  var currentModelId = null;   // a manifest id, or null for local files
  var loadNumber = 0;          // ignores downloads that finish after another model was chosen
  var storyText = null;        // the Text node tokens are appended to (never innerHTML)
  var lastSeed = null;
  var localFiles = {model: null, tokenizer: null};
  var chatOpen = false;        // a conversation waits for the user's next message
  var notice = '';             // said once the model is ready

  applySettingsFromUrl();
  var worker = listenTo(engineWorker);
  bindControls();
  loadManifest();

  // ---- Engine and worker ----------------------------------------------------------------

  function listenTo(started) {
    started.onmessage = function (event) { onWorkerMessage(event.data); };
    started.onerror = function (event) {
      fail('The engine stopped unexpectedly' + (event && event.message ? ': ' + event.message : '.'));
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
        setState('ready', 'Ready. Press ' + ui.generate.textContent + '.' + notice);
        notice = '';
        break;
      case 'token':
        storyText.appendData(message.text);
        ui.count.textContent = String(message.count);
        ui.tokps.textContent = message.tokps.toFixed(1);
        break;
      case 'done':
        ui.output.setAttribute('data-ids', message.ids.join(' '));
        ui.output.setAttribute('data-tokps', message.tokps.toFixed(2));
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
    var tokens = count + (count === 1 ? ' token' : ' tokens');
    if (reason === 'stopped') {
      return 'Stopped after ' + tokens + '.';
    }
    if (reason === 'bos') {
      return 'The model ended the story after ' + tokens + '.';
    }
    if (reason === 'turn') {
      return 'Your turn (' + tokens + ' so far in this turn).';
    }
    if (reason === 'context') {
      return 'The conversation has filled the model\'s context; start a new chat.';
    }
    return 'Reached the step limit after ' + tokens + '.';
  }

  // ---- Models -------------------------------------------------------------------------

  function loadManifest() {
    downloadBytes('models/models.json', null, 0, function (buffer) {
      try {
        manifest = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer)));
      } catch (e) {
        fail('The model list (models/models.json) is not valid JSON: ' + e.message);
        return;
      }
      fillModelPicker();
      var wanted = query.get('model');
      var entry = findModel(wanted) || manifest[0];
      if (wanted && !findModel(wanted)) {
        notice = ' (This site has no model "' + wanted + '", so the default is loaded.)';
      }
      if (entry) {
        ui.model.value = entry.id;
        loadFromManifest(entry);
      } else {
        ui.model.value = FILES_CHOICE;
        showFilePicker();
      }
    }, function (problem) {
      fail('The model list could not be loaded: ' + problem);
    });
  }

  function fillModelPicker() {
    manifest.forEach(function (entry) {
      var option = document.createElement('option');
      option.value = entry.id;
      option.textContent = entry.name + (entry.bytes ? ' (' + megabytes(entry.bytes) + ')' : '');
      ui.model.appendChild(option);
    });
    var files = document.createElement('option');
    files.value = FILES_CHOICE;
    files.textContent = 'Open files…';
    ui.model.appendChild(files);
  }

  function findModel(id) {
    for (var i = 0; i < manifest.length; i++) {
      if (manifest[i].id === id) {
        return manifest[i];
      }
    }
    return null;
  }

  function loadFromManifest(entry) {
    var thisLoad = beginLoad('Downloading ' + entry.name + '…');
    currentModelId = entry.id;
    var bytes = {};
    var left = 2;
    var failed = false;
    ['model', 'tokenizer'].forEach(function (what) {
      var url = new URL(entry[what], document.baseURI).href;
      var expected = what === 'model' ? entry.bytes || 0 : 0;
      downloadBytes(url, what, expected, function (buffer) {
        bytes[what] = buffer;
        left--;
        if (left === 0 && !failed && thisLoad === loadNumber) {
          sendToEngine(bytes.model, fileName(entry.model), bytes.tokenizer, fileName(entry.tokenizer));
        }
      }, function (problem) {
        if (!failed && thisLoad === loadNumber) {
          failed = true;
          modelLoaded = false;
          fail('Could not download the ' + what + ' of ' + entry.name + ': ' + problem);
        }
      });
    });
  }

  function loadLocalFiles() {
    if (!localFiles.model || !localFiles.tokenizer) {
      setState(modelLoaded ? document.body.dataset.state : 'loading',
          'Choose ' + (localFiles.model ? 'a tokenizer' : 'a model') + ' file as well.');
      return;
    }
    var thisLoad = beginLoad('Reading ' + localFiles.model.name + '…');
    currentModelId = null;
    var bytes = {};
    var left = 2;
    ['model', 'tokenizer'].forEach(function (what) {
      var reader = new FileReader();
      reader.onload = function () {
        bytes[what] = reader.result;
        left--;
        if (left === 0 && thisLoad === loadNumber) {
          sendToEngine(bytes.model, localFiles.model.name, bytes.tokenizer, localFiles.tokenizer.name);
        }
      };
      reader.onerror = function () {
        fail('Could not read ' + localFiles[what].name + ' from your disk.');
      };
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
    setState('loading', 'Preparing ' + modelName + '…');
    worker.postMessage({type: 'load', model: model, modelName: modelName,
                        tokenizer: tokenizer, tokenizerName: tokenizerName}, [model, tokenizer]);
  }

  function showFacts(info) {
    ui.facts.textContent = [
      formatCount(info.parameters) + ' parameters',
      'dim ' + info.dim + ', hidden ' + info.hiddenDim,
      info.nLayers + ' layers, ' + info.nHeads + ' heads' +
          (info.nKvHeads !== info.nHeads ? ' (' + info.nKvHeads + ' key/value)' : ''),
      'vocabulary ' + info.vocabSize + ', context ' + info.seqLen,
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
   * browser) the bytes are streamed with progress and kept for the next visit; otherwise (older
   * browsers, HtmlUnit) XMLHttpRequest fetches them.
   */
  function downloadBytes(url, what, expectedBytes, onBytes, onError) {
    var cacheable = what !== null && typeof caches === 'object' && typeof fetch === 'function';
    if (!cacheable) {
      downloadWithXhr(url, what, expectedBytes, onBytes, onError);
      return;
    }
    caches.open(CACHE_NAME).then(function (cache) {
      return cache.match(url).then(function (hit) {
        if (hit) {
          return hit.arrayBuffer().then(function (buffer) {
            showProgress(what, buffer.byteLength, buffer.byteLength, true);
            onBytes(buffer);
          });
        }
        return streamDownload(url, what, expectedBytes).then(function (buffer) {
          // Keep a copy before the buffer is handed (transferred) to the worker.
          return cache.put(url, new Response(buffer)).catch(function () {
            // Storage full or refused: the model still works, it just downloads again next time.
          }).then(function () { onBytes(buffer); });
        });
      });
    }).catch(function (failure) {
      onError(explainFailure(failure));
    });
  }

  function streamDownload(url, what, expectedBytes) {
    return fetch(url).then(function (response) {
      if (!response.ok) {
        throw new Error('the server answered ' + response.status + ' ' + response.statusText + '.');
      }
      var announced = Number(response.headers.get('Content-Length')) || 0;
      var total = announced || expectedBytes || 0;
      if (!response.body || !response.body.getReader) {
        return response.arrayBuffer();
      }
      var reader = response.body.getReader();
      var bytes = new Growable(announced || expectedBytes);
      var pump = function () {
        return reader.read().then(function (part) {
          if (part.done) {
            return bytes.buffer();
          }
          bytes.append(part.value);
          showProgress(what, bytes.length, total);
          return pump();
        });
      };
      showProgress(what, 0, total);
      return pump();
    });
  }

  /**
   * Bytes arriving in chunks. When the server announced the size, they go straight into one
   * buffer of that size, so a large model needs its own size in memory rather than twice that.
   */
  function Growable(expected) {
    var store = new Uint8Array(expected > 0 ? expected : 1 << 20);
    this.length = 0;
    this.append = function (chunk) {
      if (this.length + chunk.byteLength > store.byteLength) {
        var bigger = new Uint8Array(Math.max(store.byteLength * 2, this.length + chunk.byteLength));
        bigger.set(store.subarray(0, this.length));
        store = bigger;
      }
      store.set(chunk, this.length);
      this.length += chunk.byteLength;
    };
    this.buffer = function () {
      return this.length === store.byteLength ? store.buffer : store.slice(0, this.length).buffer;
    };
  }

  function downloadWithXhr(url, what, expectedBytes, onBytes, onError) {
    var request = new XMLHttpRequest();
    request.open('GET', url);
    request.responseType = 'arraybuffer';
    request.onprogress = function (event) {
      if (what) {
        showProgress(what, event.loaded, event.lengthComputable ? event.total : expectedBytes);
      }
    };
    request.onload = function () {
      if (request.status >= 200 && request.status < 300) {
        onBytes(request.response);
      } else {
        onError('the server answered ' + request.status + '.');
      }
    };
    request.onerror = function () {
      onError('the network request failed (offline, or the server does not let this page read it).');
    };
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
    ui.progressText.textContent = (fromCache ? 'From this browser\'s storage: ' : '') + what + ' ' +
        megabytes(loaded) + (total > 0 ? ' of ' + megabytes(total) : '');
  }

  // ---- Generating ------------------------------------------------------------------------

  function generate() {
    var state = document.body.dataset.state;
    if (!modelLoaded || state === 'generating' || state === 'loading') {
      return;
    }
    var settings = readSettings();
    if (typeof settings === 'string') {
      fail(settings);
      return;
    }
    var newChat = settings.mode === 'chat' && !chatOpen;
    if (settings.mode !== 'chat' || newChat) {
      lastSeed = settings.seed;
      ui.output.textContent = '';
    }
    ui.output.removeAttribute('data-ids');
    ui.output.removeAttribute('data-tokps');
    if (settings.mode === 'chat') {
      var said = document.createElement('p');
      said.className = 'user-turn';
      said.textContent = settings.prompt;
      ui.output.appendChild(said);
    }
    storyText = document.createTextNode('');
    ui.output.appendChild(storyText);
    ui.count.textContent = '0';
    ui.tokps.textContent = '0.0';
    ui.seedUsed.textContent = String(lastSeed);
    setState('generating', 'Writing…');
    updateUrl();
    worker.postMessage({type: 'generate', prompt: settings.prompt, temperature: settings.temperature,
                        topp: settings.topp, seed: settings.seed, steps: settings.steps,
                        mode: settings.mode, system: settings.system, newChat: newChat});
    chatOpen = false;
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

  /** The settings as numbers, or a sentence saying which one is wrong. */
  function readSettings() {
    var temperature = Number(ui.temperature.value);
    if (ui.temperature.value.trim() === '' || !(temperature >= 0) || !isFinite(temperature)) {
      return 'Temperature must be a number of 0 or more (0 always picks the likeliest word).';
    }
    var topp = Number(ui.topp.value);
    if (ui.topp.value.trim() === '' || !(topp >= 0 && topp <= 1)) {
      return 'Top-p must be a number from 0 to 1.';
    }
    var steps = Number(ui.steps.value);
    if (ui.steps.value.trim() === '' || !(steps >= 0) || Math.floor(steps) !== steps) {
      return 'Steps must be a whole number, 0 or more (0 means the model\'s whole context).';
    }
    var seedText = ui.seed.value.trim();
    var seed;
    if (seedText === '') {
      seed = Math.floor(Math.random() * 4294967296); // like run.c's clock seed: any 32-bit value
    } else if (/^\d+$/.test(seedText) && Number(seedText) <= MAX_SEED) {
      seed = Number(seedText);
    } else {
      return 'The seed must be a whole number from 0 to ' + MAX_SEED + ', or blank for a random one.';
    }
    return {prompt: ui.prompt.value, temperature: temperature, topp: topp, steps: steps, seed: seed,
            mode: ui.modeChat.checked ? 'chat' : 'generate', system: ui.system.value};
  }

  // ---- Settings in the URL -----------------------------------------------------------------

  function applySettingsFromUrl() {
    var fields = {prompt: ui.prompt, seed: ui.seed, temperature: ui.temperature, topp: ui.topp, steps: ui.steps};
    Object.keys(fields).forEach(function (name) {
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
    var params = new URLSearchParams();
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
    var link = window.location.pathname + '?' + params.toString();
    ui.permalink.href = link;
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, '', link);
    }
  }

  // ---- Controls -------------------------------------------------------------------------

  function bindControls() {
    ui.generate.addEventListener('click', generate);
    ui.stop.addEventListener('click', stop);
    document.addEventListener('keydown', function (event) {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        generate();
      } else if (event.key === 'Escape') {
        stop();
      }
    });
    ui.model.addEventListener('change', function () {
      if (ui.model.value === FILES_CHOICE) {
        showFilePicker();
        return;
      }
      ui.files.hidden = true;
      var entry = findModel(ui.model.value);
      if (entry) {
        loadFromManifest(entry);
        updateUrl();
      }
    });
    ui.modelFile.addEventListener('change', function () {
      localFiles.model = ui.modelFile.files[0] || null;
      loadLocalFiles();
    });
    ui.tokenizerFile.addEventListener('change', function () {
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
    var chat = ui.modeChat.checked;
    chatOpen = false;
    ui.systemRow.hidden = !chat;
    ui.newChat.hidden = !chat;
    ui.generate.textContent = chat ? 'Send' : 'Generate';
    ui.promptLabel.textContent = chat ? 'Your message' : 'Start of the story';
  }

  function bindDragAndDrop() {
    var depth = 0;
    document.addEventListener('dragenter', function (event) {
      event.preventDefault();
      depth++;
      ui.dropHint.hidden = false;
    });
    document.addEventListener('dragleave', function () {
      depth = Math.max(0, depth - 1);
      ui.dropHint.hidden = depth > 0;
    });
    document.addEventListener('dragover', function (event) { event.preventDefault(); });
    document.addEventListener('drop', function (event) {
      event.preventDefault();
      depth = 0;
      ui.dropHint.hidden = true;
      var dropped = Array.prototype.slice.call(event.dataTransfer ? event.dataTransfer.files : []);
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
      dropped.sort(function (a, b) { return a.size - b.size; });
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
    caches.delete(CACHE_NAME).then(function () {
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
    var text = failure && failure.message ? failure.message : String(failure);
    if (failure && failure.name === 'RangeError') {
      return 'not enough memory to hold it in this browser tab.';
    }
    if (failure && failure.name === 'TypeError' && /fetch/i.test(text)) {
      return 'the network request failed (offline, or the server does not let this page read it).';
    }
    return text;
  }

  function megabytes(bytes) {
    if (bytes < 1000000) {
      return (bytes / 1000).toFixed(bytes < 10000 ? 1 : 0) + ' kB';
    }
    return (bytes / 1000000).toFixed(1) + ' MB';
  }

  function formatCount(n) {
    if (n >= 1e9) { return (n / 1e9).toFixed(1) + 'B'; }
    if (n >= 1e6) { return (n / 1e6).toFixed(1) + 'M'; }
    if (n >= 1e3) { return (n / 1e3).toFixed(0) + 'K'; }
    return String(n);
  }

  function fileName(url) {
    return String(url).substring(String(url).lastIndexOf('/') + 1);
  }
}());
