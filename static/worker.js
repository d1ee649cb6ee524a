/*
 * The engine's Web Worker: runs the Java engine (compiled by TeaVM) off the page's thread.
 *
 * Started as `new Worker('worker.js?engine=wasm')` or `?engine=js`. With `wasm` it loads the
 * WebAssembly GC build and falls back to the JavaScript build when the browser cannot run it.
 * With `&workers=N` (N > 1) it splits each model it loads across N workers, itself and N - 1
 * it starts (shards.js; at most one per key/value head of the model; from a File each reads only
 * its own rows, never the whole file), which exchange through
 * shared memory when the page is cross-origin isolated, else (or with `&shared=0`) by messages;
 * the messages below stay the same, 'ready' says how many workers in `info.shards` and how they
 * exchange in `info.transport` ('shared memory', 'messages' or 'none').
 *
 * Messages the page sends (postMessage objects, `type` first):
 *   {type: 'load', model, tokenizer, modelName?, tokenizerName?, quantize?}
 *       model is an ArrayBuffer (transfer it), a Blob or File (read a megabyte at a time) or a
 *       URL string (streamed); tokenizer is an ArrayBuffer or a URL string. quantize: an fp32
 *       model becomes Q8_0 as it is read (what `llama2.jar quantize` writes), a quarter of the
 *       memory. Either way the weights exist once: no copy of the file is kept.
 *   {type: 'generate', prompt, temperature, topp, seed, steps, mode?, system?, newChat?}
 *       steps counts positions including the prompt (run.c's -n; 0 = the model's seq_len);
 *       seed is an integer below 2^53; mode is 'generate' (the default) or 'chat'. In chat mode
 *       prompt is the user's message; a conversation (with its system prompt, settings and
 *       seed) continues until a message says newChat: true, or one was stopped mid-answer.
 *       The engine checks the numbers and answers with an 'error' naming the one that is wrong.
 *   {type: 'stop'}
 *       ends the current generation before its next token.
 *
 * Messages the worker sends:
 *   {type: 'engine', engine: 'wasm'|'js', note}      once, when the engine code is running
 *   {type: 'progress', what: 'model', loaded, total, reading: true}   as the model is read
 *   {type: 'ready', engine, info: {dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize,
 *          seqLen, sharedClassifier, parameters, version, format, bytes, quantizedOnLoad}}
 *   {type: 'token', id, text, position, count, tokps}   text may be '' (part of a character)
 *   {type: 'done', ids: [int], tokps, count, reason, note}
 *       reason: 'steps' (the limit), 'bos' (the model ended the story), 'stopped', and in chat
 *       'turn' (the assistant has answered) or 'context' (the conversation is full). ids is what
 *       the CLI's --ids prints (BOS, prompt, samples); in chat, the ids sampled in this turn.
 *       note: the engine's sentence when the steps ended inside the prompt, else ''.
 *       timing: where the time went, in milliseconds: {step (in the engine's step(), all
 *       tokens), shards (a model split across workers sharing memory: per worker {compute, copy,
 *       put, wait, slept, sleeps, between, exchanges}, see shards.js; else null)}; ./web/bench
 *       workers prints it.
 *   {type: 'error', message}                          a sentence for people
 *
 * The engine's exports (WorkerExports.java) each return one JSON object (but modelInbox, the
 * view the model's bytes are written into): beginModel, modelBytes (per megabyte) and finishModel
 * load a model; start and step generate, crossing into the engine
 * once per token.
 *
 * HtmlUnit, which tests the JavaScript build, runs this file too: its engine has arrow functions,
 * const/let and template literals, but no classes, async/await or fetch, and a worker's Promise
 * callbacks never run there. So the JavaScript-engine path below is plain callbacks; Promises
 * appear only where HtmlUnit never goes (WebAssembly, downloads by URL).
 */
'use strict';

// Everything is local to this function: the JavaScript build of the engine puts its exports
// (beginModel, start, step, …) on the worker's global object, where they would replace functions of ours.
(() => {
  let engine = null;       // {name: 'wasm' | 'js', exports} once running
  let pending = [];        // messages that arrived before the engine was ready
  let job = null;          // the generation in progress: {stopRequested, ids, count, firstTokenAt, lastTokenAt}
  const query = new URLSearchParams(self.location.search); // read first: HtmlUnit's importScripts changes self.location
  const shardsWanted = Math.max(1, parseInt(query.get('workers'), 10) || 1);
  const sharedMemoryAllowed = query.get('shared') !== '0'; // shared=0: messages
  let shards = null;       // shards.js's lead, once a model was split across workers
  importScripts('read.js'); // reading a Blob into the engine's inbox, as shards.js does
  const read = self.llama2Read;

  self.onmessage = (event) => {
    if (engine) {
      handle(event.data);
    } else {
      pending.push(event.data);
    }
  };

  startEngine(query.get('engine') === 'js' ? 'js' : 'wasm');

  // ---- Starting the engine ------------------------------------------------------------------

  function startEngine(preferred) {
    if (preferred === 'js') {
      startJavaScriptEngine('');
      return;
    }
    const fallBack = (failure) =>
      startJavaScriptEngine(`WebAssembly GC could not start here (${describeFailure(failure)})`);
    try {
      importScripts('wasm/classes.wasm-runtime.js');
      TeaVM.wasmGC.load('wasm/engine.wasm').then((teavm) => engineReady('wasm', teavm.exports, ''), fallBack);
    } catch (failure) {
      fallBack(failure);
    }
  }

  function startJavaScriptEngine(note) {
    try {
      importScripts('js/engine.js');
    } catch (failure) {
      post({type: 'error', message: `The engine could not be loaded: ${describeFailure(failure)}`});
      return;
    }
    engineReady('js', self, note); // the JavaScript build puts its exports on the global object
  }

  function engineReady(name, exports, note) {
    engine = {name, exports};
    post({type: 'engine', engine: name, note});
    const waiting = pending;
    pending = [];
    waiting.forEach(handle);
  }

  /** Calls an export and parses the JSON object it returns. */
  function call(name, ...args) {
    return JSON.parse(engine.exports[name].apply(engine.exports, args)); // HtmlUnit cannot compile f(...args)
  }

  function handle(message) {
    try {
      if (message.type === 'load') {
        load(message);
      } else if (message.type === 'generate') {
        generate(message);
      } else if (message.type === 'stop') {
        if (job) {
          job.stopRequested = true;
        }
      } else {
        post({type: 'error', message: `The worker does not understand the message "${message.type}".`});
      }
    } catch (failure) {
      job = null;
      releaseShards();
      post({type: 'error', message: describeFailure(failure)});
    }
  }

  // ---- Loading ------------------------------------------------------------------------------

  const READ = read.INBOX_BYTES; // bytes reach the engine, and progress the page, a megabyte at a time
  let loads = 0;           // a newer 'load' message abandons the one being read

  /**
   * The tokenizer first (it is small), then the model, a chunk at a time straight into the
   * engine's arrays: the weights exist once, and no copy of the file outlives its chunk.
   */
  function load(message) {
    job = null;
    const number = ++loads;
    const current = () => number === loads;
    const names = {
      model: message.modelName || nameOf(message.model, 'model'),
      tokenizer: message.tokenizerName || nameOf(message.tokenizer, 'tokenizer')
    };
    const failed = (failure) => {
      if (current()) {
        post({type: 'error', message: describeFailure(failure)});
      }
    };
    if (shardsWanted > 1) {
      loadSplit(message, names, current, failed);
      return;
    }
    obtain(message.tokenizer, 'tokenizer', (tokenizer) => {
      if (!current()) {
        return;
      }
      let model = message.model;
      message.model = null; // from here on only the chunk being read keeps the file's bytes
      feedModel(model, names.model, Boolean(message.quantize), current, () => {
        model = null;
        const info = call('finishModel', tokenizer, names.tokenizer);
        post(info.error ? {type: 'error', message: info.error} : {type: 'ready', engine: engine.name, info});
      }, failed);
    }, failed);
  }

  /**
   * For a model split across workers: the tokenizer whole, then shards.js, which has each worker
   * read its own ranges of a File (none reads it whole) or streams an ArrayBuffer past them.
   */
  function loadSplit(message, names, current, failed) {
    let model = message.model;
    message.model = null; // from here on only shards.js keeps the File (or the downloaded bytes)
    obtain(message.tokenizer, 'tokenizer', (source) => {
      const arrived = (tokenizer) => {
        if (!current()) {
          return;
        }
        obtain(model, 'model', (bytes) => {
          model = null;
          if (current()) {
            loadInShards(bytes, tokenizer, names, message.quantize, current, failed);
          }
        }, failed);
      };
      if (typeof Blob === 'function' && source instanceof Blob) {
        source.arrayBuffer().then(arrived, failed);
      } else {
        arrived(source);
      }
    }, failed);
  }

  /**
   * Hands the model's bytes to the engine (beginModel, then modelBytes per chunk) from an
   * ArrayBuffer, a Blob or File (read a chunk at a time), or a URL (streamed as it downloads),
   * reporting progress; then calls done(), or failed(sentence).
   */
  function feedModel(source, name, quantize, current, done, failed) {
    const begin = (size) => check(call('beginModel', name, size, quantize));
    let told = 0;
    const give = (bytes, loaded, total) => { // bytes: a Uint8Array or Int8Array
      read.feedInbox(bytes, () => engine.exports.modelInbox(), (length) => check(call('modelBytes', length)));
      if (loaded - told >= READ || loaded === total) {
        told = loaded;
        post({type: 'progress', what: 'model', loaded, total, reading: true});
      }
    };
    if (Object.prototype.toString.call(source) === '[object ArrayBuffer]') { // also one from another realm (HtmlUnit)
      begin(source.byteLength);
      for (let at = 0; at < source.byteLength; at += READ) {
        const length = Math.min(READ, source.byteLength - at);
        give(new Int8Array(source, at, length), at + length, source.byteLength);
      }
      done();
    } else if (typeof Blob === 'function' && source instanceof Blob) {
      begin(source.size);
      let loaded = 0;
      const take = (bytes) => {
        loaded += bytes.byteLength;
        give(bytes, loaded, source.size);
      };
      const stalled = (at) => post({type: 'progress', what: 'model', loaded: at, total: source.size, reading: true, stalled: true});
      read.readRange(source, 0, source.size, new ArrayBuffer(READ), take, current, stalled)
          .then((buffer) => buffer && done())
          .catch(failed);
    } else {
      fetch(source).then((response) => {
        const size = Number(response.headers.get('Content-Length'));
        if (!response.ok || !size) {
          throw new Error(response.ok ? `The server did not say how large the model ${name} is.`
              : `Downloading the model failed: the server answered ${response.status}.`);
        }
        begin(size);
        const reader = response.body.getReader();
        let loaded = 0;
        const pump = () => reader.read().then(({done: end, value}) => {
          if (!current()) {
            reader.cancel();
          } else if (end) {
            done();
          } else {
            loaded += value.byteLength;
            give(value, loaded, size);
            return pump();
          }
          return null;
        });
        return pump();
      }).catch(failed);
    }
  }

  /** An engine answer with an error becomes an exception, which ends the load with its sentence. */
  function check(answer) {
    if (answer.error) {
      throw new Error(answer.error);
    }
    return answer;
  }

  /** Each of shardsWanted workers keeps its slice of the model (shards.js). */
  function loadInShards(model, tokenizer, names, quantize, current, failed) {
    if (!shards) {
      importScripts('shards.js');
      shards = self.llama2Shards.lead;
    }
    let told = 0;
    const progress = (loaded, total) => {
      if (loaded - told >= READ || loaded === total) {
        told = loaded;
        post({type: 'progress', what: 'model', loaded, total, reading: true});
      }
    };
    shards.load({call, inbox: () => engine.exports.modelInbox(), engineName: engine.name, model, modelName: names.model,
                 tokenizer, tokenizerName: names.tokenizer, wanted: shardsWanted, quantize, preferShared: sharedMemoryAllowed,
                 current, progress})
        .then((info) => {
          if (info && current()) {
            post({type: 'ready', engine: engine.name, info});
          }
        }, failed);
  }

  /** Calls back with the ArrayBuffer itself, or downloads a URL (then reports progress). */
  function obtain(source, what, callback, failed) {
    if (typeof source !== 'string') {
      callback(source);
      return;
    }
    if (typeof fetch !== 'function') {
      throw new Error(`This browser cannot download inside a worker; send the ${what} as bytes.`);
    }
    fetch(source).then((response) => {
      if (!response.ok) {
        throw new Error(`Downloading the ${what} failed: the server answered ${response.status}.`);
      }
      return response.arrayBuffer();
    }).then(callback).catch(failed);
  }

  function nameOf(source, fallback) {
    return typeof source === 'string' ? source.substring(source.lastIndexOf('/') + 1) || fallback : fallback;
  }

  // ---- Generating, one token per task -------------------------------------------------------

  function generate(message) {
    if (job) {
      post({type: 'error', message: 'A story is already being written; stop it first.'});
      return;
    }
    const started = call('start', message.mode === 'chat' ? 'chat' : 'generate', String(message.prompt || ''),
        String(message.system || ''), Number(message.temperature), Number(message.topp), Number(message.seed),
        Number(message.steps), Boolean(message.newChat));
    if (started.error) {
      post({type: 'error', message: started.error});
      return;
    }
    job = {stopRequested: false, ids: started.ids, note: started.note, count: 0, firstTokenAt: 0, lastTokenAt: 0,
           stepMs: 0};
    if (shards) {
      shards.serve();
    }
    schedule(nextToken);
  }

  function nextToken() {
    const current = job;
    if (!current) {
      return;
    }
    if (current.stopRequested) {
      finish(current, 'stopped');
      return;
    }
    let step;
    const stepStart = clock();
    try {
      step = call('step');
      current.stepMs += clock() - stepStart;
    } catch (failure) { // a worker of a split model failed mid-step
      step = {error: describeFailure(failure)};
    }
    if (step.pending) { // a model split across workers that pass messages: its forward pass first
      shards.forward(call, () => schedule(nextToken), (failure) => {
        job = null;
        post({type: 'error', message: describeFailure(failure)});
      });
      return;
    }
    if (step.error) {
      job = null;
      releaseShards();
      post({type: 'error', message: step.error});
      return;
    }
    if (step.end !== 'bos') { // the BOS that ends a story is not a token of it
      const now = clock();
      current.count++;
      if (current.count === 1) {
        current.firstTokenAt = now;
      }
      current.lastTokenAt = now;
      current.ids.push(step.token);
      post({type: 'token', id: step.token, text: step.text, position: step.position,
            count: current.count, tokps: tokensPerSecond(current)});
    }
    if (step.end) {
      finish(current, step.end);
    } else {
      schedule(nextToken);
    }
  }

  function finish(current, reason) {
    job = null;
    releaseShards();
    post({type: 'done', ids: current.ids, count: current.count, tokps: tokensPerSecond(current), reason,
          note: current.note, timing: {step: current.stepMs, shards: shards ? shards.timing() : null}});
  }

  /** Between stories the other workers wait in their event loops, where they can load a model. */
  function releaseShards() {
    if (shards) {
      shards.release();
    }
  }

  /**
   * Like run.c: the clock starts after the first token (which also pays for warming up), so
   * tok/s = (tokens - 1) / (time from the first token to the last).
   */
  function tokensPerSecond({count, firstTokenAt, lastTokenAt}) {
    const seconds = (lastTokenAt - firstTokenAt) / 1000;
    return count > 1 && seconds > 0 ? (count - 1) / seconds : 0;
  }

  /**
   * Runs `task` as a new task, so messages (Stop) are handled in between. scheduler.postTask has
   * no minimum delay; setTimeout(0) is clamped to 4 ms after a few nested calls, which would cap a
   * fast model, so it is only the fallback (HtmlUnit, older browsers).
   */
  function schedule(task) {
    if (self.scheduler && typeof self.scheduler.postTask === 'function') {
      self.scheduler.postTask(task);
    } else {
      setTimeout(task, 0);
    }
  }

  function clock() {
    return self.performance ? self.performance.now() : Date.now();
  }

  // ---- Talking to the page ------------------------------------------------------------------

  function post(message) {
    self.postMessage(message);
  }

  /** Turns whatever was thrown into a sentence; memory failures get advice. */
  function describeFailure(failure) {
    const text = failure && failure.message ? failure.message : String(failure);
    if (/^Not enough memory/.test(text)) {
      return text; // the engine's own advice
    }
    if (/memory|allocation|RangeError/i.test(text) || (failure && failure.name === 'RangeError')) {
      return `Not enough memory for this model in this browser tab (${text}). Try a smaller model or close other tabs.`;
    }
    return text;
  }
})();
