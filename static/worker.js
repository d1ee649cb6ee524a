/*
 * The engine's Web Worker: runs the Java engine (compiled by TeaVM) off the page's thread.
 *
 * Started as `new Worker('worker.js?engine=wasm')` or `?engine=js`. With `wasm` it loads the
 * WebAssembly GC build and falls back to the JavaScript build when the browser cannot run it.
 *
 * Messages the page sends (postMessage objects, `type` first):
 *   {type: 'load', model, tokenizer, modelName?, tokenizerName?}
 *       model and tokenizer are each an ArrayBuffer (transfer it) or a URL string.
 *   {type: 'generate', prompt, temperature, topp, seed, steps, mode?, system?, newChat?}
 *       steps counts positions including the prompt (run.c's -n; 0 = the model's seq_len);
 *       seed is an integer below 2^53; mode is 'generate' (the default) or 'chat'. In chat mode
 *       prompt is the user's message; a conversation (with its system prompt, settings and
 *       seed) continues until a message says newChat: true, or one was stopped mid-answer.
 *   {type: 'stop'}
 *       ends the current generation before its next token.
 *
 * Messages the worker sends:
 *   {type: 'engine', engine: 'wasm'|'js', note}      once, when the engine code is running
 *   {type: 'progress', what: 'model'|'tokenizer', loaded, total}   while a URL downloads
 *   {type: 'ready', engine, info: {dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize,
 *          seqLen, sharedClassifier, parameters, version, format, bytes}}
 *   {type: 'token', id, text, position, count, tokps}   text may be '' (part of a character)
 *   {type: 'done', ids: [int], tokps, count, reason}
 *       reason: 'steps' (the limit), 'bos' (the model ended the story), 'stopped', and in chat
 *       'turn' (the assistant has answered) or 'context' (the conversation is full). ids is what
 *       the CLI's --ids prints (BOS, prompt, samples); in chat, the ids sampled in this turn.
 *   {type: 'error', message}                          a sentence for people
 *
 * Written in the JavaScript that HtmlUnit also runs (no async/await, no classes), and without
 * Promises on the JavaScript-engine path, because HtmlUnit's workers never run their callbacks.
 * Everything is local to one function: the JavaScript build of the engine puts its exports
 * (load, step, describe, …) on the worker's global object.
 */
(function () {
  'use strict';

  var engineName = null;   // 'wasm' or 'js' once loaded
  var api = null;          // the exports of WorkerExports.java
  var pending = [];        // messages that arrived before the engine was ready
  var job = null;          // the generation in progress, if any

  startEngine(new URLSearchParams(self.location.search).get('engine') === 'js' ? 'js' : 'wasm');

  self.onmessage = function (event) {
    if (!api) {
      pending.push(event.data);
      return;
    }
    handle(event.data);
  };

  function startEngine(preferred) {
    if (preferred === 'wasm') {
      try {
        importScripts('wasm/classes.wasm-runtime.js');
        TeaVM.wasmGC.load('wasm/engine.wasm').then(function (teavm) {
          engineReady('wasm', teavm.exports, '');
        }, function (failure) {
          startJavaScriptEngine('WebAssembly GC could not start here (' + describeFailure(failure) + ')');
        });
        return;
      } catch (failure) {
        startJavaScriptEngine('WebAssembly GC could not start here (' + describeFailure(failure) + ')');
        return;
      }
    }
    startJavaScriptEngine('');
  }

  function startJavaScriptEngine(note) {
    try {
      importScripts('js/engine.js');
    } catch (failure) {
      post({type: 'error', message: 'The engine could not be loaded: ' + describeFailure(failure)});
      return;
    }
    // The UMD build puts its exports on the worker's global object.
    engineReady('js', self, note);
  }

  function engineReady(name, exports, note) {
    engineName = name;
    api = {
      load: exports.load, describe: exports.describe, startStory: exports.startStory,
      step: exports.step, lastError: exports.lastError, tokenId: exports.tokenId,
      tokenPosition: exports.tokenPosition, tokenText: exports.tokenText, ids: exports.ids,
      stopReason: exports.stopReason, startChat: exports.startChat, chatTurn: exports.chatTurn,
      chatWaitsForUser: exports.chatWaitsForUser
    };
    post({type: 'engine', engine: name, note: note});
    var waiting = pending;
    pending = [];
    waiting.forEach(handle);
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
        post({type: 'error', message: 'The worker does not understand the message "' + message.type + '".'});
      }
    } catch (failure) {
      job = null;
      post({type: 'error', message: describeFailure(failure)});
    }
  }

  // ---- Loading ---------------------------------------------------------------------------

  function load(message) {
    job = null;
    var files = {model: message.model, tokenizer: message.tokenizer};
    var names = {model: message.modelName || nameOf(message.model, 'model'),
                 tokenizer: message.tokenizerName || nameOf(message.tokenizer, 'tokenizer')};
    var bytes = {};
    var left = 2;
    ['model', 'tokenizer'].forEach(function (what) {
      obtain(files[what], what, function (buffer) {
        bytes[what] = buffer;
        left--;
        if (left === 0) {
          finishLoad(bytes, names);
        }
      });
    });
  }

  /** Calls back with the ArrayBuffer itself, or downloads a URL (then reports progress). */
  function obtain(source, what, callback) {
    if (typeof source !== 'string') {
      callback(source);
      return;
    }
    if (typeof fetch !== 'function') {
      throw new Error('This browser cannot download inside a worker; send the ' + what + ' as bytes.');
    }
    fetch(source).then(function (response) {
      if (!response.ok) {
        throw new Error('Downloading the ' + what + ' failed: the server answered ' + response.status + '.');
      }
      var total = Number(response.headers.get('Content-Length')) || 0;
      post({type: 'progress', what: what, loaded: 0, total: total});
      return response.arrayBuffer();
    }).then(function (buffer) {
      post({type: 'progress', what: what, loaded: buffer.byteLength, total: buffer.byteLength});
      callback(buffer);
    }).catch(function (failure) {
      post({type: 'error', message: describeFailure(failure)});
    });
  }

  function finishLoad(bytes, names) {
    var problem = api.load(bytes.model, names.model, bytes.tokenizer, names.tokenizer);
    if (problem) {
      post({type: 'error', message: problem});
      return;
    }
    post({type: 'ready', engine: engineName, info: JSON.parse(api.describe())});
  }

  function nameOf(source, fallback) {
    if (typeof source === 'string') {
      return source.substring(source.lastIndexOf('/') + 1) || fallback;
    }
    return fallback;
  }

  // ---- Generating, one token per task --------------------------------------------------

  function generate(message) {
    if (job) {
      post({type: 'error', message: 'A story is already being written; stop it first.'});
      return;
    }
    var temperature = Number(message.temperature);
    var topp = Number(message.topp);
    var seed = Number(message.seed);
    var steps = Number(message.steps) | 0;
    var problem;
    if (message.mode === 'chat') {
      // A conversation goes on until the page asks for a new one (or it was stopped mid-answer).
      problem = message.newChat || !api.chatWaitsForUser()
          ? api.startChat(String(message.system || ''), temperature, topp, seed, steps) : '';
      problem = problem || api.chatTurn(String(message.prompt || ''));
    } else {
      problem = api.startStory(String(message.prompt || ''), temperature, topp, seed, steps);
    }
    if (problem) {
      post({type: 'error', message: problem});
      return;
    }
    job = {stopRequested: false, count: 0, firstTokenAt: 0, lastTokenAt: 0};
    schedule(nextToken);
  }

  function nextToken() {
    var current = job;
    if (!current) {
      return;
    }
    if (current.stopRequested) {
      finish('stopped');
      return;
    }
    var produced = api.step();
    var problem = api.lastError();
    if (problem) {
      job = null;
      post({type: 'error', message: problem});
      return;
    }
    if (!produced) {
      finish(api.stopReason() || 'steps');
      return;
    }
    var now = clock();
    current.count++;
    if (current.count === 1) {
      current.firstTokenAt = now;
    }
    current.lastTokenAt = now;
    post({type: 'token', id: api.tokenId(), text: api.tokenText(), position: api.tokenPosition(),
          count: current.count, tokps: tokensPerSecond(current)});
    schedule(nextToken);
  }

  function finish(reason) {
    var finished = job;
    job = null;
    var ids = api.ids().split(' ').filter(function (id) { return id !== ''; }).map(Number);
    post({type: 'done', ids: ids, count: finished.count, tokps: tokensPerSecond(finished), reason: reason});
  }

  /**
   * Like run.c: the clock starts after the first token (which also pays for warming up), so
   * tok/s = (tokens - 1) / (time from the first token to the last).
   */
  function tokensPerSecond(current) {
    var seconds = (current.lastTokenAt - current.firstTokenAt) / 1000;
    return current.count > 1 && seconds > 0 ? (current.count - 1) / seconds : 0;
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

  // ---- Talking to the page --------------------------------------------------------------

  function post(message) {
    self.postMessage(message);
  }

  /** Turns whatever was thrown into a sentence; memory failures get advice. */
  function describeFailure(failure) {
    var text = failure && failure.message ? failure.message : String(failure);
    if (/memory|allocation|RangeError/i.test(text) || (failure && failure.name === 'RangeError')) {
      return 'Not enough memory for this model in this browser tab (' + text + '). Try a smaller model or close other tabs.';
    }
    return text;
  }
}());
