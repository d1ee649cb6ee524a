/*
 * The Train view (?view=train): a text in, a model out, trained in this tab by the Java trainer
 * (train/) compiled to WebAssembly, in one or more training workers (train-worker.js).
 *
 * A run from scratch learns a BPE tokenizer from the text, then trains a new model of a preset's
 * shape; a fine-tune starts from the story model (its fp32 twin) or from the visitor's model
 * files, whose shape (for the time estimate and the memory check) is read from the file's header. With several workers the run is data-parallel: each step, every
 * worker computes the gradients of its shards (shard w goes to worker w mod workers), the page
 * hands each worker the others' gradients, and every worker sums them in shard order and applies
 * the same AdamW step, so the weights do not depend on timing, and equal those of
 * `llama2-train.jar train --kernels portable --shards <shards>` on the same text and settings.
 *
 * The run is saved in this browser (IndexedDB) every few steps and when stopped: the trainer's own
 * checkpoint, with the text and tokenizer; a reload offers to continue it.
 *
 * Test hooks: #train-text, #train-mode, #train-preset, #train-base (story, files), #train-model-file,
 * #train-tokenizer-file, #train-steps, #train-start, #train-stop, #train-use, #train-download, #train-download-q8,
 * #train-download-tokenizer, body[data-train-state] (idle, training, paused, done, error),
 * #train-loss[data-losses, data-valid-losses, data-tokps], #train-numbers, #train-status,
 * #train-base-facts[data-parameters] (the model to fine-tune, from its header),
 * #train-estimate[data-seconds, data-seconds-per-step, data-parameters] (the timed warm-up's model).
 *
 * The last tenth of the stories (more if that is less than one window) is held out of training;
 * the loss on it, the validation loss, is measured every few steps and drawn beside the training
 * loss ("step:loss" pairs in data-valid-losses). Settings may come
 * from the address: ?view=train&mode=&preset=&steps=&lr=&workers=&batch=&seq=&vocab=&seed=.
 *
 * Written in the JavaScript HtmlUnit also parses (no classes, async/await or spread in calls).
 */
'use strict';

(() => {
  const query = new URLSearchParams(location.search);
  if (query.get('view') !== 'train') {
    return;
  }
  document.body.dataset.view = 'train';
  document.getElementById('train').hidden = false;

  /** Model shapes by what they cost, by name: the trainer's table (llama2.train.Preset), which presets.js carries. */
  const PRESETS = {};
  self.llama2TrainPresets.forEach((p) => { PRESETS[p.name] = p; });
  const FINETUNE = {batch: 8, lr: '0.0003'};
  /** Enough of a model file to read its shape: the longest header (version 1 and 2: 256 bytes). */
  const HEADER_BYTES = 256;
  const SAMPLE_TOKENS = 80;
  const DB_NAME = 'llama2-train';
  const SAVE_EVERY_SECONDS = 60;

  const ui = {};
  ['train-text', 'train-paste', 'train-mode', 'train-preset', 'train-preset-row', 'train-steps', 'train-lr',
   'train-workers', 'train-batch', 'train-seq', 'train-vocab', 'train-seed', 'train-cli', 'train-start', 'train-stop',
   'train-discard', 'train-status', 'train-loss', 'train-numbers', 'train-sample', 'train-use', 'train-download',
   'train-download-tokenizer', 'train-download-q8', 'train-estimate', 'train-base', 'train-base-row', 'train-base-files',
   'train-model-file', 'train-tokenizer-file', 'train-base-facts']
      .forEach((id) => { ui[id.replace(/^train-/, '').replace(/-(\w)/g, (_, c) => c.toUpperCase())] = document.getElementById(id); });

  let run = null;        // the run in this tab: see newRun()
  let files = null;      // the finished model: {model, tokenizer} ArrayBuffers
  let saved = null;      // the run saved in this browser, if any (see save())
  let text = null;       // the chosen file's bytes (an ArrayBuffer), or null for the pasted text
  let drawn = null;      // what the plot shows: {losses, validLosses, tokps}, to draw again at another width
  let estimating = null; // the warm-up that times a step, under way: {key, workers}
  let estimateTimer = 0;
  let estimateNumber = 0; // counts the settings estimated, so that a late answer about older ones is dropped
  const measured = {};   // a step's seconds and the model's parameters, by the settings that decide them (see estimateKey)
  const shapes = {};     // the shapes of the models a fine-tune may start from, by baseKey (promises)
  let listed = null;     // the story model's entries in models/models.json (a promise)
  let baseNumber = 0;    // counts the models chosen to fine-tune, so that a late answer about another is dropped

  listPresets();
  applySettingsFromUrl();
  bind();
  setState('idle', 'Give a text: a .txt file or pasted text.');
  showCommand();
  loadSaved();
  showBase();
  estimateSoon();

  // ---- Settings ----------------------------------------------------------------------------

  /** The model sizes in the menu, as "tiny: 0.26M parameters (stories260K)". */
  function listPresets() {
    self.llama2TrainPresets.forEach((p) => {
      const option = document.createElement('option');
      option.value = p.name;
      option.textContent = `${p.name}: ${(p.parameters / 1e6).toPrecision(2)}M parameters (${p.like})`;
      ui.preset.appendChild(option);
    });
  }

  function applySettingsFromUrl() {
    if (query.has('mode')) {
      ui.mode.value = query.get('mode') === 'finetune' ? 'finetune' : 'scratch';
    }
    if (query.has('preset') && PRESETS[query.get('preset')]) {
      ui.preset.value = query.get('preset');
    }
    applyPreset();
    ui.workers.value = String(Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)));
    const fields = {steps: ui.steps, lr: ui.lr, workers: ui.workers, batch: ui.batch, seq: ui.seq, vocab: ui.vocab, seed: ui.seed};
    Object.keys(fields).forEach((name) => {
      if (query.has(name)) {
        fields[name].value = query.get(name);
      }
    });
  }

  /** In a fine-tune, the choice of the model to start from, and file pickers when it is the visitor's files. */
  function showBaseChoice() {
    const finetune = ui.mode.value === 'finetune';
    ui.baseRow.hidden = !finetune;
    ui.baseFiles.hidden = !finetune || ui.base.value !== 'files';
  }

  /** A preset fills in the window, batch, vocabulary and learning rate it goes with. */
  function applyPreset() {
    const p = PRESETS[ui.preset.value];
    const finetune = ui.mode.value === 'finetune';
    ui.presetRow.hidden = finetune;
    showBaseChoice();
    ui.vocab.disabled = finetune;
    ui.batch.value = String(finetune ? FINETUNE.batch : p.batch);
    ui.seq.value = String(p.seqLen);
    ui.vocab.value = String(p.vocab);
    ui.lr.value = finetune ? FINETUNE.lr : p.lr;
  }

  function settings() {
    const workers = integer(ui.workers, 'Workers', 1, 16);
    return {
      mode: ui.mode.value,
      preset: ui.preset.value,
      steps: integer(ui.steps, 'Steps', 1, 1e7),
      lr: ui.lr.value.trim(),
      batch: integer(ui.batch, 'Batch', 1, 4096),
      seqLen: integer(ui.seq, 'Window', 8, 4096),
      vocab: integer(ui.vocab, 'Vocabulary', 259, 65536),
      seed: integer(ui.seed, 'Seed', 0, Number.MAX_SAFE_INTEGER),
      workers,
      shards: workers
    };
  }

  /** Puts a saved run's settings back in the fields, as they were when it started. */
  function showSettings(s) {
    ui.mode.value = s.mode;
    ui.preset.value = s.preset;
    applyPreset();
    const fields = {steps: ui.steps, lr: ui.lr, workers: ui.workers, batch: ui.batch, seqLen: ui.seq, vocab: ui.vocab, seed: ui.seed};
    Object.keys(fields).forEach((name) => {
      fields[name].value = String(s[name]);
    });
    showCommand();
    showBase();
  }

  function integer(field, name, min, max) {
    const value = Number(field.value);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new Error(`${name} must be a whole number from ${min} to ${max}, got "${field.value}".`);
    }
    return value;
  }

  /** The same run on the command line, for those who want it there (or to check the bytes). */
  function showCommand() {
    let s;
    try {
      s = settings();
    } catch (failure) {
      ui.cli.textContent = '';
      return;
    }
    const p = PRESETS[s.preset];
    const shape = s.mode === 'finetune' ? '--init model.bin'
      : `--dim ${p.dim} --hidden ${p.hidden} --layers ${p.layers} --heads ${p.heads} --kv-heads ${p.kvHeads}`;
    ui.cli.textContent = 'The same run on the command line: java -jar llama2-train.jar train --train-data train.tok'
        + ` --valid-data valid.tok --out-dir run --kernels portable ${shape} --seq-len ${s.seqLen} --steps ${s.steps}`
        + ` --batch ${s.batch} --lr ${s.lr} --warmup ${warmup(s.steps)} --shards ${s.shards} --seed ${s.seed}`
        + ` --eval-windows 8 (after: ${s.mode === 'scratch' ? `tokenizer --vocab ${s.vocab}, ` : ''}prepare --out train.tok`
        + ` --valid-out valid.tok --seq-len ${s.seqLen})`;
  }

  /** Learning-rate warmup: a tenth of the run, at most the CLI's default 100 steps. */
  function warmup(steps) {
    return Math.min(100, Math.max(1, Math.floor(steps / 10)));
  }

  function bind() {
    ui.mode.addEventListener('change', () => { applyPreset(); showCommand(); showBase(); });
    ui.preset.addEventListener('change', () => { applyPreset(); showCommand(); });
    ui.base.addEventListener('change', () => { showBaseChoice(); showBase(); estimateSoon(); });
    [ui.modelFile, ui.tokenizerFile].forEach((f) => f.addEventListener('change', () => { showBase(); estimateSoon(); }));
    [ui.steps, ui.lr, ui.workers, ui.batch, ui.seq, ui.vocab, ui.seed].forEach((f) => f.addEventListener('input', showCommand));
    [ui.mode, ui.preset].forEach((f) => f.addEventListener('change', estimateSoon));
    [ui.steps, ui.workers, ui.batch, ui.seq, ui.vocab].forEach((f) => f.addEventListener('input', estimateSoon));
    ui.text.addEventListener('change', () => readFile(ui.text.files[0]));
    ui.start.addEventListener('click', start);
    ui.stop.addEventListener('click', stop);
    ui.discard.addEventListener('click', discard);
    ui.use.addEventListener('click', useModel);
    ui.download.addEventListener('click', () => offer('model', 'model.bin'));
    ui.downloadTokenizer.addEventListener('click', () => offer('tokenizer', 'tokenizer.bin'));
    ui.downloadQ8.addEventListener('click', () => offer('q8', 'model-q80.bin'));
    window.addEventListener('resize', () => {
      if (drawn) {
        showLosses(drawn.losses, drawn.validLosses, drawn.tokps);
      }
    });
    // A text dropped on the page is the text to train on (the story view's drop loads models).
    ['dragenter', 'dragover', 'dragleave'].forEach((name) => window.addEventListener(name, (event) => {
      event.preventDefault();
      event.stopPropagation();
    }, true));
    window.addEventListener('drop', (event) => {
      event.preventDefault();
      event.stopPropagation();
      const dropped = event.dataTransfer && event.dataTransfer.files[0];
      if (dropped) {
        readFile(dropped);
      }
    }, true);
  }

  function readFile(file) {
    if (!file) {
      return;
    }
    const reader = new FileReader();
    reader.onload = () => {
      text = reader.result;
      say(`${file.name}: ${megabytes(text.byteLength)} read.`);
    };
    reader.onerror = () => fail(`Could not read ${file.name} from your disk.`);
    reader.readAsArrayBuffer(file);
  }

  /** A file from the visitor's disk, as an ArrayBuffer. */
  function readBlob(blob) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(reader.result);
      reader.onerror = () => reject(new Error(`Could not read ${blob.name || 'a file'} from your disk.`));
      reader.readAsArrayBuffer(blob);
    });
  }

  function textBytes() {
    if (text) {
      return text;
    }
    const pasted = ui.paste.value;
    return pasted.trim() === '' ? null : new TextEncoder().encode(pasted).buffer;
  }

  // ---- Workers -------------------------------------------------------------------------------

  /** A training worker whose answers come back in the order of the requests. */
  function startWorker() {
    const engine = query.get('engine') === 'js' ? 'js' : 'wasm';
    const worker = new Worker(`train-worker.js?engine=${engine}`);
    const waiting = [];
    const handle = {worker, engine: null};
    worker.onmessage = (event) => {
      const m = event.data;
      if (m.type === 'engine') {
        handle.engine = m.engine;
        return;
      }
      const next = waiting.shift();
      if (next) {
        if (m.type === 'error') {
          next.reject(new Error(m.message));
        } else {
          next.resolve(m);
        }
      }
    };
    worker.onerror = (event) => {
      event.preventDefault();
      const next = waiting.shift();
      if (next) {
        next.reject(new Error(`The training worker failed: ${event.message || 'no reason given'}`));
      }
    };
    handle.ask = (message, transfer) => new Promise((resolve, reject) => {
      waiting.push({resolve, reject});
      worker.postMessage(message, transfer || []);
    });
    return handle;
  }

  function copy(buffer) {
    return buffer.slice(0);
  }

  // ---- A run ---------------------------------------------------------------------------------

  function newRun(s, workers) {
    return {settings: s, workers, info: null, losses: [], validLosses: [], stopRequested: false, seconds: 0, tokensAtStart: 0, tokps: 0,
            startedAt: 0, stepsHere: 0, resumedSeconds: 0, text: null, tokenizer: null, lastSave: 0, savedStep: 0, step: 0, saveFailed: false};
  }

  function start() {
    if (run && document.body.dataset.trainState === 'paused') {
      continueRun();
      return;
    }
    if (saved && !saved.done && document.body.dataset.trainState === 'paused') {
      resumeSaved();
      return;
    }
    let s;
    try {
      s = settings();
    } catch (failure) {
      fail(failure.message);
      return;
    }
    const bytes = textBytes();
    if (!bytes) {
      fail('Give a text first: choose a .txt file or paste some text.');
      return;
    }
    cancelEstimate();
    setState('training', 'Checking the model…');
    runShape(s).then((shape) => {
      if (!shape) {
        fail('Choose the model file to fine-tune and its tokenizer file first.');
        return;
      }
      const memory = memoryNeeded(s, shape);
      if (memory.refusal) {
        fail(memory.refusal);
        return;
      }
      launch(s, bytes);
    }, (failure) => fail(failure && failure.message || String(failure)));
  }

  /** A new run: its workers, its tokenizer (learned, or the model's), the model, a first look at it, then steps. */
  function launch(s, bytes) {
    files = null;
    showFiles();
    ui.numbers.textContent = '';
    run = newRun(s, []);
    run.text = bytes;
    for (let i = 0; i < s.workers; i++) {
      run.workers.push(startWorker());
    }
    setState('training', s.mode === 'scratch' ? 'Learning a tokenizer from your text…' : 'Reading the model…');
    const tokenizerReady = s.mode === 'scratch'
      ? run.workers[0].ask({type: 'tokenizer', text: copy(bytes), vocab: s.vocab}).then((m) => m.tokenizer)
      : baseModel().then((model) => { run.model = model.model; run.note = model.note; return model.tokenizer; });
    tokenizerReady.then((tokenizer) => {
      run.tokenizer = tokenizer;
      say(run.note ? `${run.note} Preparing…` : 'Preparing the model…');
      const p = PRESETS[s.preset];
      const trainSettings = {steps: s.steps, batch: s.batch, lr: s.lr, warmup: warmup(s.steps), shards: s.shards, seed: s.seed};
      return Promise.all(run.workers.map((w) => s.mode === 'scratch'
        ? w.ask({type: 'scratch', text: copy(bytes), tokenizer: copy(tokenizer), settings: trainSettings,
                 shape: {dim: p.dim, hidden: p.hidden, layers: p.layers, heads: p.heads, kvHeads: p.kvHeads, seqLen: s.seqLen}})
        : w.ask({type: 'finetune', text: copy(bytes), model: copy(run.model), tokenizer: copy(tokenizer), seqLen: s.seqLen,
                 settings: trainSettings})));
    }).then((answers) => {
      run.info = answers[0].info;
      return validateNow();
    }).then(() => sampleNow()).then(() => {
      save();
      beginTiming();
      loop();
    }).catch((failure) => failRun(failure));
  }

  // ---- The model a fine-tune starts from ----------------------------------------------------

  /**
   * The story view's model (the first of models/models.json, or ?model=) and the entry a fine-tune
   * of it reads: its fp32 weights when the list names them ("fp32": a Q8_0 model's twin), since a
   * fine-tune from Q8_0 starts from rounded weights; a Q8_0 file alone is used, and said so.
   */
  function storyEntries() {
    if (!listed) {
      listed = fetch('models/models.json').then((r) => r.json()).then((list) => {
        const entry = list.find((e) => e.id === query.get('model')) || list[0];
        return {entry, start: entry.fp32 && list.find((e) => e.id === entry.fp32) || entry};
      });
      listed.catch(() => { listed = null; });
    }
    return listed;
  }

  /**
   * The model chosen to fine-tune: {key, name, header(), files()}, the story model or the
   * visitor's files (null while one of those is missing). header() gives the file's first bytes
   * and its size, files() the model's and the tokenizer's bytes.
   */
  function chosenBase() {
    if (ui.base.value === 'files') {
      const model = ui.modelFile.files[0], tokenizer = ui.tokenizerFile.files[0];
      return Promise.resolve(!model || !tokenizer ? null : {
        key: `files/${model.name}/${model.size}/${model.lastModified}`, name: model.name,
        header: () => readBlob(model.slice(0, HEADER_BYTES)).then((head) => ({head, size: model.size})),
        files: () => Promise.all([readBlob(model), readBlob(tokenizer)])});
    }
    return storyEntries().then((e) => ({
      key: `story/${e.start.model}`, name: e.start.name,
      header: () => headerOf(e.start.model, e.start.bytes),
      files: () => Promise.all([e.start.model, e.start.tokenizer].map(bytesOf))}));
  }

  /**
   * The shape of the model chosen to fine-tune ({dim, hiddenDim, nLayers, nHeads, nKvHeads,
   * vocabSize, sharedClassifier, parameters, name}), read from its file's header by the trainer
   * (the loader's own checks, so a file that is not a model is said so); null while no file is chosen.
   */
  function baseShape() {
    return chosenBase().then((base) => {
      if (!base) {
        return null;
      }
      if (!shapes[base.key]) {
        shapes[base.key] = base.header().then((h) => {
          const reader = startWorker();
          const done = () => reader.worker.terminate();
          return reader.ask({type: 'shape', head: h.head, size: h.size, name: base.name}, [h.head])
              .then((m) => { done(); return m.shape; }, (failure) => { done(); throw failure; });
        });
        shapes[base.key].catch(() => { delete shapes[base.key]; }); // a file that failed is read again when asked again
      }
      return shapes[base.key].then((shape) => Object.assign({name: base.name}, shape));
    });
  }

  /** The first bytes of a listed model and its size: from the page's model store, or the start of its download. */
  function headerOf(url, listedBytes) {
    const stored = typeof caches === 'object'
      ? caches.open('llama2-models-v1').then((c) => c.match(url)).catch(() => null) : Promise.resolve(null);
    return stored.then((hit) => {
      if (hit) {
        return hit.arrayBuffer().then((b) => ({head: b.slice(0, HEADER_BYTES), size: b.byteLength}));
      }
      return fetch(url).then((r) => {
        if (!r.ok) {
          throw new Error(`Could not download ${url} (HTTP ${r.status}).`);
        }
        // a compressed download's length is not the file's: then the list's count of bytes
        const length = r.headers.get('Content-Encoding') ? 0 : Number(r.headers.get('Content-Length'));
        const size = length || listedBytes;
        const reader = r.body.getReader();
        const head = new Uint8Array(HEADER_BYTES);
        let got = 0;
        const more = () => reader.read().then((part) => {
          if (!part.done) {
            const n = Math.min(part.value.byteLength, HEADER_BYTES - got);
            head.set(part.value.subarray(0, n), got);
            got += n;
          }
          if (part.done || got === HEADER_BYTES) {
            reader.cancel().catch(() => {});
            return {head: head.slice(0, got).buffer, size: size || got};
          }
          return more();
        });
        return more();
      });
    });
  }

  /** The shape a run trains: the preset's (from scratch) or the chosen model's; null while no model file is chosen. */
  function runShape(s) {
    if (s.mode === 'scratch') {
      const p = PRESETS[s.preset];
      return Promise.resolve({dim: p.dim, hidden: p.hidden, layers: p.layers, heads: p.heads, kvHeads: p.kvHeads,
                              vocab: s.vocab, shared: true});
    }
    return baseShape().then((b) => b && {dim: b.dim, hidden: b.hiddenDim, layers: b.nLayers, heads: b.nHeads,
                                          kvHeads: b.nKvHeads, vocab: b.vocabSize, shared: b.sharedClassifier});
  }

  /** Says what the chosen model is, or what is missing; its vocabulary is the fine-tune's. */
  function showBase() {
    if (ui.mode.value !== 'finetune') {
      return;
    }
    const mine = ++baseNumber;
    ui.baseFacts.textContent = ui.base.value === 'files' && !(ui.modelFile.files[0] && ui.tokenizerFile.files[0])
      ? 'Choose a llama2.c model file (.bin, versions 0, 1 or 2) and its tokenizer.' : 'Reading the model\'s shape…';
    storyEntries().then((e) => { ui.base.options[0].textContent = `the story model: ${e.start.name}`; }, () => {});
    baseShape().then((b) => {
      if (mine !== baseNumber || !b) {
        return;
      }
      ui.vocab.value = String(b.vocabSize);
      ui.baseFacts.textContent = `${b.name}: dim ${b.dim}, hidden ${b.hiddenDim}, ${b.nLayers} layers, ${b.nHeads} heads`
          + ` (${b.nKvHeads} key/value), vocabulary ${b.vocabSize}, ${(b.parameters / 1e6).toFixed(2)} M parameters,`
          + ' all of them trained.';
      ui.baseFacts.dataset.parameters = String(b.parameters);
    }, (failure) => {
      if (mine === baseNumber) {
        ui.baseFacts.textContent = failure && failure.message || String(failure);
        delete ui.baseFacts.dataset.parameters;
      }
    });
  }

  /** The chosen model's files and a word on its weights (a Q8_0 file starts from rounded ones). */
  function baseModel() {
    return chosenBase().then((base) => {
      say(`Reading ${base.name}…`);
      return base.files().then((both) => {
        const q8 = isQ8(both[0]);
        return {model: both[0], tokenizer: both[1],
                note: q8 ? `Fine-tuning ${base.name} from its Q8_0 weights, dequantized: no fp32 file of it`
                  + `${ui.base.value === 'files' ? ' was given' : ' is listed'}, so it starts from slightly rounded weights.`
                  : `Fine-tuning ${base.name} from its fp32 weights.`};
      });
    });
  }

  /** A llama2.c version 2 file (Q8_0): magic "ak42", then version 2. */
  function isQ8(buffer) {
    const head = new DataView(buffer, 0, Math.min(8, buffer.byteLength));
    return head.byteLength === 8 && head.getUint32(0, true) === 0x616b3432 && head.getInt32(4, true) === 2;
  }

  function bytesOf(url) {
    const fromNetwork = () => fetch(url).then((r) => {
      if (!r.ok) {
        throw new Error(`Could not download ${url} (HTTP ${r.status}).`);
      }
      return r.arrayBuffer();
    });
    if (typeof caches !== 'object') {
      return fromNetwork();
    }
    return caches.open('llama2-models-v1').then((c) => c.match(url)).then((hit) => hit ? hit.arrayBuffer() : fromNetwork(),
        fromNetwork);
  }

  /**
   * Memory the run needs (the trainer's arrays: weights, their transpose, AdamW's two moments,
   * and per shard a gradient and the activations of one window), against what this device has.
   */
  function memoryNeeded(s, shape) {
    const d = shape.dim, h = shape.hidden, L = shape.layers, H = shape.heads, kv = d / shape.heads * shape.kvHeads, n = s.seqLen;
    const vocab = shape.vocab;
    const params = vocab * d * (shape.shared ? 1 : 2) + L * (2 * d + 2 * d * d + 2 * d * kv + 3 * d * h) + d;
    const activations = L * (7 * n * d + 2 * n * kv + 2 * H * n * n + 3 * n * h + 2 * n) + n * vocab + 4 * n * d + 3 * n * h + n * n;
    const perWorker = 4 * (4 * params + Math.ceil(s.shards / s.workers) * (params + activations));
    const total = perWorker * s.workers;
    const device = (navigator.deviceMemory || 4) * 1024 * 1024 * 1024 / 2;
    if (Math.max(n * vocab, H * n * n) * 4 > 900 * 1024 * 1024) {
      return {refusal: `A window of ${n} tokens is too long for this model in a browser: one array would pass 900 MB. Choose a shorter window.`};
    }
    if (total > device) {
      return {refusal: `This run needs about ${megabytes(total)} in ${s.workers} worker(s), more than this device can spare`
          + ` (${megabytes(device)}): choose a smaller model, fewer workers or a shorter window.`};
    }
    return {bytes: total};
  }

  function stopClock() {
    run.seconds = secondsSoFar();
    run.clockRunning = false;
  }

  /** Seconds of training of this run, in this tab and before. */
  function secondsSoFar() {
    return run.seconds + (run.clockRunning ? (performance.now() - run.startedAt) / 1000 : 0);
  }

  function beginTiming() {
    run.clockRunning = true;
    run.startedAt = performance.now();
    run.stepsHere = 0;
    run.tokensAtStart = run.info.tokensPerStep * run.step;
  }

  function continueRun() {
    cancelEstimate();
    run.stopRequested = false;
    setState('training', `Training: step ${run.step} of ${run.settings.steps}…`);
    beginTiming();
    loop();
  }

  /** One step after another until the last, a Stop, or a failure; between steps the page stays responsive. */
  function loop() {
    if (run.stopRequested) {
      stopClock();
      save().then(() => setState('paused', `Stopped at step ${run.step} of ${run.settings.steps}. Start continues;`
          + ` the run is ${run.saveFailed ? 'not ' : ''}saved in this browser.`));
      return;
    }
    if (run.step >= run.settings.steps) {
      finish();
      return;
    }
    oneStep().then((answer) => {
      run.step = answer.step;
      run.losses.push(answer.loss);
      run.stepsHere++;
      showProgress();
      const every = sampleEvery();
      const validated = run.step % validEvery() === 0 || run.step === run.settings.steps ? validateNow() : Promise.resolve();
      const sampled = () => run.step % every === 0 && run.step < run.settings.steps ? sampleNow() : Promise.resolve();
      return validated.then(sampled).then(() => {
        if (run.step - run.savedStep >= saveEvery() || (performance.now() - run.lastSave) / 1000 > SAVE_EVERY_SECONDS) {
          return save();
        }
        return null;
      });
    }).then(() => setTimeout(loop, 0)).catch((failure) => failRun(failure));
  }

  /** Checkpoints: some 20 in a run, and at least once a minute. */
  function saveEvery() {
    return Math.max(1, Math.round(run.settings.steps / 20));
  }

  function sampleEvery() {
    return Math.max(10, Math.round(run.settings.steps / 10));
  }

  /** The validation loss: some 20 points in a run, at most every 5 steps, and after the last. */
  function validEvery() {
    return Math.max(5, Math.round(run.settings.steps / 20));
  }

  /** The loss on the held-out stories, measured by the first worker (any would give the same). */
  function validateNow() {
    if (!run.info.validTokens) {
      return Promise.resolve();
    }
    return run.workers[0].ask({type: 'validate'}).then((m) => {
      run.validLosses.push([run.step, m.loss]);
      if (run.stepsHere > 0) {
        showProgress();
      } else {
        showLosses(run.losses, run.validLosses, 0);
      }
    });
  }

  /** A step: one worker does all of it; several each compute their shards', then all apply the sum. */
  function oneStep() {
    return stepOf(run.workers, run.info.shards);
  }

  function stepOf(workers, shards) {
    if (workers.length === 1) {
      return workers[0].ask({type: 'step'});
    }
    const mine = workers.map((_, k) => {
      const list = [];
      for (let w = k; w < shards; w += workers.length) {
        list.push(w);
      }
      return list;
    });
    return Promise.all(workers.map((w, k) => w.ask({type: 'gradients', shards: mine[k]}))).then((answers) => {
      const losses = new Array(shards).fill(0);
      const gradients = {};
      answers.forEach((a) => a.shards.forEach((w, i) => {
        losses[w] = a.losses[i];
        gradients[w] = a.gradients[i];
      }));
      return Promise.all(workers.map((worker, k) => {
        const others = {};
        const transfer = [];
        Object.keys(gradients).forEach((w) => {
          if (mine[k].indexOf(Number(w)) < 0) {
            others[w] = copy(gradients[w]);
            transfer.push(others[w]);
          }
        });
        return worker.ask({type: 'apply', gradients: others, losses}, transfer);
      }));
    }).then((steps) => steps[0]);
  }

  function sampleNow() {
    const prompt = run.settings.mode === 'finetune' ? 'Once upon a time' : 'Once';
    return run.workers[0].ask({type: 'sample', prompt, steps: SAMPLE_TOKENS, seed: 42}).then((m) => {
      ui.sample.hidden = false;
      ui.sample.textContent = `Step ${run.step}: ${m.text}`;
    });
  }

  function finish() {
    stopClock();
    say('Writing the model…');
    run.workers[0].ask({type: 'export'}).then((m) => {
      files = {model: m.model, q8: m.q8, tokenizer: m.tokenizer};
      showFiles();
      return sampleNow();
    }).then(() => save(true)).then(() => {
      stopWorkers();
      const last = run.losses[run.losses.length - 1];
      setState('done', `Done: ${run.settings.steps} steps, loss ${last.toFixed(3)}, in ${duration(run.seconds)}.`
          + ` ${run.note ? run.note + ' ' : ''}Use the model here, or download it (it runs in run.c and the CLI).`);
    }).catch((failure) => failRun(failure));
  }

  function stop() {
    if (run && document.body.dataset.trainState === 'training') {
      run.stopRequested = true;
      say('Stopping after this step…');
    }
  }

  function stopWorkers() {
    if (run) {
      run.workers.forEach((w) => w.worker.terminate());
      run.workers = [];
    }
  }

  function failRun(failure) {
    stopWorkers();
    fail(failure && failure.message || String(failure));
  }

  // ---- Time estimate before Start ---------------------------------------------------------

  /** The settings a step's time depends on (not the text, the steps or the learning rate). */
  function estimateKey(s, shape) {
    return [shape.dim, shape.hidden, shape.layers, shape.heads, shape.kvHeads, shape.vocab, shape.shared, s.seqLen, s.batch,
            s.workers].join('/');
  }

  /** After the settings change (and settle), measure or reuse the time of a step of this run. */
  function estimateSoon() {
    clearTimeout(estimateTimer);
    estimateNumber++;
    estimateTimer = setTimeout(estimate, 700);
  }

  function busy() {
    const state = document.body.dataset.trainState;
    return state === 'training' || state === 'paused';
  }

  function estimate() {
    if (busy()) {
      return;
    }
    let s;
    try {
      s = settings();
    } catch (failure) {
      ui.estimate.textContent = '';
      return;
    }
    const mine = ++estimateNumber;
    const dropped = () => mine !== estimateNumber || busy();
    runShape(s).then((shape) => {
      if (dropped()) {
        return;
      }
      if (shape) {
        timeAStep(s, shape);
      } else {
        stopEstimating();
        ui.estimate.textContent = '';
      }
    }, () => {
      if (!dropped()) {
        stopEstimating();
        ui.estimate.textContent = '';
      }
    });
  }

  /** Times a step of a model of this shape on made-up tokens in as many workers as the run (or reuses that time). */
  function timeAStep(s, shape) {
    const key = estimateKey(s, shape);
    if (measured[key]) {
      showEstimate(s, measured[key]);
      return;
    }
    if (estimating && estimating.key === key) {
      return;
    }
    stopEstimating();
    if (memoryNeeded(s, shape).refusal) {
      ui.estimate.textContent = '';
      return;
    }
    ui.estimate.textContent = 'Measuring how long a step takes on this device…';
    delete ui.estimate.dataset.secondsPerStep;
    delete ui.estimate.dataset.parameters;
    const workers = [];
    for (let i = 0; i < s.workers; i++) {
      workers.push(startWorker());
    }
    const mine = {key, workers};
    estimating = mine;
    const rehearsal = {type: 'rehearse', settings: {steps: 3, batch: s.batch, lr: '0.001', warmup: 1, shards: s.shards, seed: s.seed},
                       shape: {dim: shape.dim, hidden: shape.hidden, layers: shape.layers, heads: shape.heads,
                               kvHeads: shape.kvHeads, vocab: shape.vocab, seqLen: s.seqLen}};
    let began = 0, parameters = 0;
    Promise.all(workers.map((w) => w.ask(rehearsal)))
      .then((answers) => { parameters = answers[0].info.parameters; return stepOf(workers, s.shards); }) // warms up: not timed
      .then(() => { began = performance.now(); return stepOf(workers, s.shards); })
      .then(() => {
        if (estimating !== mine) {
          return;
        }
        measured[key] = {secondsPerStep: (performance.now() - began) / 1000, parameters};
        stopEstimating();
        showEstimate(s, measured[key]);
      })
      .catch(() => {
        if (estimating === mine) {
          stopEstimating();
          ui.estimate.textContent = '';
        }
      });
  }

  function cancelEstimate() {
    clearTimeout(estimateTimer);
    estimateNumber++;
    stopEstimating();
  }

  /** Ends the warm-up under way, if any. */
  function stopEstimating() {
    if (estimating) {
      estimating.workers.forEach((w) => w.worker.terminate());
      estimating = null;
    }
  }

  /** "About N min", labelled as what it is: one measured step times the steps, plus the checks along the way. */
  function showEstimate(s, step) {
    // validation (8 forward windows) about every 20th of the run, samples every 10th: a few percent more
    const secondsPerStep = step.secondsPerStep;
    const seconds = secondsPerStep * s.steps * 1.05;
    ui.estimate.dataset.secondsPerStep = String(secondsPerStep);
    ui.estimate.dataset.parameters = String(step.parameters);
    ui.estimate.dataset.seconds = String(seconds);
    ui.estimate.textContent = `About ${roughly(seconds)} for ${s.steps} steps: an estimate from a warm-up step of this`
        + ` model on this device (${secondsPerStep.toFixed(secondsPerStep < 10 ? 2 : 0)} s a step`
        + `${s.mode === 'scratch' ? ', plus learning the tokenizer' : ''}; other work on the device slows it).`;
  }

  function roughly(seconds) {
    return seconds < 90 ? `${Math.max(1, Math.round(seconds / 5) * 5)} s` : seconds < 5400 ? `${Math.round(seconds / 60)} min`
      : `${(seconds / 3600).toFixed(1)} h`;
  }

  // ---- Saved in this browser ---------------------------------------------------------------

  function database() {
    return new Promise((resolve, reject) => {
      if (typeof indexedDB !== 'object') {
        reject(new Error('no IndexedDB'));
        return;
      }
      const open = indexedDB.open(DB_NAME, 1);
      open.onupgradeneeded = () => open.result.createObjectStore('runs');
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
  }

  function store(mode, work) {
    return database().then((db) => new Promise((resolve, reject) => {
      const tx = db.transaction('runs', mode);
      const result = work(tx.objectStore('runs'));
      tx.oncomplete = () => resolve(result.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    }));
  }

  /** The trainer's checkpoint, the text and tokenizer, the settings and losses: all a reload needs. */
  function save(done) {
    run.lastSave = performance.now();
    // the checkpoint adds the seconds of this session to those it was resumed with
    const seconds = secondsSoFar() - run.resumedSeconds;
    return run.workers[0].ask({type: 'checkpoint', seconds}).then((m) => {
      run.savedStep = m.step;
      const record = {settings: run.settings, info: run.info, losses: run.losses.slice(0, m.step), step: m.step,
                      validLosses: run.validLosses.filter((p) => p[0] <= m.step),
                      checkpoint: m.checkpoint, text: run.text, tokenizer: run.tokenizer, seconds: secondsSoFar(),
                      done: Boolean(done), files, sample: ui.sample.textContent, tokps: run.tokps};
      return store('readwrite', (s) => s.put(record, 'current')).then(() => {
        saved = record;
        run.saveFailed = false;
      });
    }).catch((failure) => {
      if (!run.saveFailed) {
        run.saveFailed = true;
        say(`Could not save the run in this browser (${failure && failure.name === 'QuotaExceededError'
          ? 'its storage is full' : failure && failure.message || failure}): training goes on, but a reload cannot resume it.`);
      }
    });
  }

  function loadSaved() {
    store('readonly', (s) => s.get('current')).then((record) => {
      if (!record || document.body.dataset.trainState !== 'idle') {
        return;
      }
      saved = record;
      ui.discard.hidden = false;
      run = null;
      showSettings(record.settings);
      showLosses(record.losses, record.validLosses || [], record.tokps || 0);
      showNumbers({step: record.step, steps: record.settings.steps, losses: record.losses, validLosses: record.validLosses || [],
                   info: record.info, tokps: record.tokps || 0, seconds: record.seconds});
      if (record.sample) {
        ui.sample.hidden = false;
        ui.sample.textContent = record.sample;
      }
      if (record.done) {
        files = record.files;
        showFiles();
        setState('done', `Your last run (${record.step} steps) is kept in this browser: use or download it.`);
      } else {
        setState('paused', `A run was saved at step ${record.step} of ${record.settings.steps}. Start continues it.`);
      }
    }, () => {});
  }

  function resumeSaved() {
    cancelEstimate();
    const s = saved.settings;
    const workers = Math.min(s.workers, saved.info.shards);
    run = newRun(s, []);
    run.text = saved.text;
    run.tokenizer = saved.tokenizer;
    run.losses = saved.losses.slice();
    run.validLosses = (saved.validLosses || []).slice();
    run.seconds = saved.seconds;
    run.resumedSeconds = saved.seconds;
    run.tokps = saved.tokps || 0;
    for (let i = 0; i < workers; i++) {
      run.workers.push(startWorker());
    }
    setState('training', `Resuming at step ${saved.step}…`);
    Promise.all(run.workers.map((w) => w.ask({type: 'resume', checkpoint: copy(saved.checkpoint), text: copy(saved.text),
                                               tokenizer: copy(saved.tokenizer)}))).then((answers) => {
      run.info = answers[0].info;
      run.step = run.info.step;
      run.lastSave = performance.now();
      beginTiming();
      loop();
    }).catch((failure) => failRun(failure));
  }

  function discard() {
    store('readwrite', (s) => s.delete('current')).then(() => {
      saved = null;
      ui.discard.hidden = true;
      if (document.body.dataset.trainState !== 'training') {
        run = null;
        files = null;
        showFiles();
        showLosses([], [], 0);
        ui.numbers.textContent = '';
        setState('idle', 'The saved run is gone. Give a text to start a new one.');
      }
    }, () => {});
  }

  // ---- Results -------------------------------------------------------------------------------

  function showFiles() {
    const none = !files;
    ui.use.disabled = none;
    ui.download.disabled = none;
    ui.downloadTokenizer.disabled = none;
    ui.downloadQ8.disabled = none || !files.q8;
  }

  /** Saves a file through a link; the link's address stays on the button (data-url) for tests. */
  function offer(what, name) {
    if (!files) {
      return;
    }
    const button = what === 'model' ? ui.download : what === 'q8' ? ui.downloadQ8 : ui.downloadTokenizer;
    if (button.dataset.url) {
      URL.revokeObjectURL(button.dataset.url);
    }
    const url = URL.createObjectURL(new Blob([files[what]], {type: 'application/octet-stream'}));
    button.dataset.url = url;
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
  }

  /** Hands the model to the story view (app.js), which loads it as it loads local files. */
  function useModel() {
    if (!files) {
      return;
    }
    document.body.dataset.view = 'story';
    document.getElementById('train').hidden = true;
    history.replaceState(null, '', location.pathname);
    document.dispatchEvent(new CustomEvent('llama2-use-model', {detail: {
      model: copy(files.model), tokenizer: copy(files.tokenizer), name: 'your trained model'}}));
  }

  // ---- What the visitor sees ---------------------------------------------------------------

  /** Training tokens per second in this tab since Start (or Continue). */
  function currentTokps() {
    const elapsed = (performance.now() - run.startedAt) / 1000;
    return run.stepsHere * run.info.tokensPerStep / Math.max(elapsed, 1e-3);
  }

  function showProgress() {
    run.tokps = currentTokps();
    showLosses(run.losses, run.validLosses, run.tokps);
    showNumbers({step: run.step, steps: run.settings.steps, losses: run.losses, validLosses: run.validLosses,
                 info: run.info, tokps: run.tokps, seconds: secondsSoFar()});
    if (!run.stopRequested) {
      say(`Training: step ${run.step} of ${run.settings.steps}.`);
    }
  }

  /**
   * The numbers line: the step, the last losses, tokens/s and the time left at that speed (or,
   * at the end, the time it took). From the run in this tab, or from the run saved in this browser.
   */
  function showNumbers(r) {
    const last = r.losses[r.losses.length - 1];
    const valid = r.validLosses[r.validLosses.length - 1];
    const left = r.tokps > 0 ? (r.steps - r.step) * r.info.tokensPerStep / r.tokps : NaN;
    ui.numbers.textContent = `step ${r.step} / ${r.steps}` + (last === undefined ? '' : ` · loss ${last.toFixed(3)}`)
        + (valid ? ` · validation ${valid[1].toFixed(3)} (step ${valid[0]})`
           : r.info.validTokens ? '' : ' · no validation loss (too little text to hold stories out)')
        + (r.tokps > 0 ? ` · ${Math.round(r.tokps)} tokens/s` : '')
        + (r.step >= r.steps ? ` · trained in ${duration(r.seconds)}` : left >= 0 ? ` · ETA ${duration(left)}` : '');
  }

  /**
   * The training loss (a line, one point per step) and the validation loss (dots joined by a
   * dashed line, at the steps it was measured) against the step, on one scale, with a legend.
   */
  function showLosses(losses, validLosses, tokps) {
    drawn = {losses, validLosses, tokps};
    ui.loss.dataset.losses = losses.map((l) => String(l)).join(',');
    ui.loss.dataset.validLosses = validLosses.map((p) => `${p[0]}:${p[1]}`).join(',');
    ui.loss.dataset.tokps = String(Math.round(tokps));
    if (losses.length === 0 && validLosses.length === 0) {
      ui.loss.textContent = '';
      return;
    }
    // as wide as drawn (up to 600), so that the labels keep their size on a phone
    const W = Math.round(Math.max(320, Math.min(600, ui.loss.clientWidth || 600))), H = W < 500 ? 180 : 200;
    const left = 40, bottom = 20, right = 8, top = 22;
    const all = losses.concat(validLosses.map((p) => p[1]));
    const high = Math.max.apply(null, all), low = Math.min.apply(null, all);
    const span = Math.max(high - low, 1e-6);
    const lastStep = Math.max(losses.length, validLosses.length ? validLosses[validLosses.length - 1][0] : 0, 1);
    const x = (step) => (left + step / lastStep * (W - left - right)).toFixed(1);
    const y = (loss) => (top + (high - loss) / span * (H - bottom - top - 5)).toFixed(1);
    const trainPoints = losses.map((l, i) => `${x(i + 1)},${y(l)}`).join(' ');
    const validPoints = validLosses.map((p) => `${x(p[0])},${y(p[1])}`).join(' ');
    const lastValid = validLosses.length ? validLosses[validLosses.length - 1][1] : null;
    const label = `Loss by step: training ${losses.length ? losses[losses.length - 1].toFixed(2) : 'not yet measured'}`
        + (lastValid === null ? '' : `, validation ${lastValid.toFixed(2)}`);
    ui.loss.innerHTML = `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${label}">`
        + `<line class="axis" x1="${left}" y1="${H - bottom}" x2="${W}" y2="${H - bottom}"/>`
        + `<line class="axis" x1="${left}" y1="${top}" x2="${left}" y2="${H - bottom}"/>`
        + `<text x="2" y="${top + 4}">${high.toFixed(2)}</text><text x="2" y="${H - bottom}">${low.toFixed(2)}</text>`
        + `<text x="${left}" y="${H - 4}">step 0</text>`
        + `<text x="${W - right}" y="${H - 4}" text-anchor="end">step ${lastStep}</text>`
        + `<polyline class="curve" points="${trainPoints}"/>`
        + (validLosses.length ? `<polyline class="curve valid" points="${validPoints}"/>`
           + validLosses.map((p) => `<circle class="valid-point" cx="${x(p[0])}" cy="${y(p[1])}" r="3"/>`).join('') : '')
        + `<g class="legend"><line class="curve" x1="${left + 8}" y1="9" x2="${left + 30}" y2="9"/>`
        + `<text x="${left + 36}" y="13">training</text>`
        + (validLosses.length ? `<line class="curve valid" x1="${left + 112}" y1="9" x2="${left + 134}" y2="9"/>`
           + `<text x="${left + 140}" y="13">validation (held-out stories)</text>` : '')
        + '</g></svg>';
  }

  function setState(state, message) {
    ui.status.textContent = message;
    const training = state === 'training';
    ui.start.disabled = training;
    ui.start.textContent = state === 'paused' ? 'Continue training' : 'Start training';
    ui.stop.disabled = !training;
    [ui.mode, ui.preset, ui.base, ui.modelFile, ui.tokenizerFile, ui.steps, ui.lr, ui.workers, ui.batch, ui.seq, ui.vocab,
     ui.seed, ui.text, ui.paste]
        .forEach((f) => { f.disabled = training || state === 'paused' || (f === ui.vocab && ui.mode.value === 'finetune'); });
    document.body.dataset.trainState = state;
  }

  function say(message) {
    ui.status.textContent = message;
  }

  function fail(message) {
    setState('error', message);
    ui.status.scrollIntoView({block: 'nearest'});
  }

  function megabytes(bytes) {
    return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1e3))} KB`;
  }

  function duration(seconds) {
    const s = Math.round(seconds);
    return s >= 3600 ? `${Math.floor(s / 3600)} h ${Math.floor(s / 60) % 60} min`
      : s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
  }
})();
