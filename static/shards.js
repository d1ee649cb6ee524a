/*
 * One model split across Web Workers ("shards"), so generation uses more than one core.
 *
 * The engine's worker (worker.js, the lead) runs shard 0 and samples the tokens; it starts one
 * follower worker (this file, `new Worker('shards.js?engine=wasm')`) per other shard. Every shard
 * keeps only its rows of each weight matrix and its key/value heads (ShardRows.java), so the
 * workers together hold one copy of the weights. After each sharded step of a forward pass the
 * shards exchange their slices (an all-gather); the Java side calls `self.llama2Shards.begin` and
 * `.allGather` (WorkerExchange.java).
 *
 * Transport, "shared memory" when the page is cross-origin isolated: a SharedArrayBuffer; each
 * shard writes its slice, all meet at a barrier, then each reads the other shards' slices. Two
 * vectors alternate, so one barrier per exchange suffices. A shard at the barrier first checks for
 * the others for at most SPIN_MS (they are usually microseconds away, and waking from Atomics.wait
 * costs tens of microseconds), then sleeps in Atomics.wait: a shard that waits longer leaves its
 * core to others. The followers follow the lead inside one long call, released after the story.
 *
 * Otherwise "messages": no worker may wait inside a call, so every shard runs the forward pass
 * stage by stage (Transformer.stage); a stage's exchange posts the shard's slice to every other
 * shard (a MessageChannel per pair) and the next stage starts once all their slices arrived. The
 * lead's step asks for a forward pass ({pending: true}); the lead starts it on every shard, and
 * when its own stages are done the step is taken again.
 *
 * Loading: a model from a File (or Blob) is read by every shard itself, and only the bytes it
 * keeps: the header, then its own rows of each matrix, a range at a time (read.js: File.slice,
 * streamed a megabyte at a time into the engine's inbox), jumping over the other shards' rows, so
 * no worker ever holds the file or another's slice. A model that arrived whole as an ArrayBuffer (a
 * download) reaches the followers from the lead a few megabytes at a time.
 *
 * Lead -> follower messages: {type: 'load', shard, shards, size, name, quantize, control, vectors,
 * ports, file?} (the shared memory, or the ports to the other shards; the File this shard reads
 * its ranges from, acknowledged once they are read), {type: 'chunk', bytes} (without a file: the
 * file's next bytes; only the shard's rows are kept), {type: 'follow'} (loading is over),
 * {type: 'serve'} (shared memory: follow forward passes until released). Follower -> lead:
 * {type: 'ack'} after each of the first three, {type: 'error', message}. Between shards, over
 * their ports: {type: 'begin', token, pos} (from the lead) and {type: 'part', exchange, from, part}.
 *
 * Only real browsers come here (the lead imports this file when asked for more than one worker),
 * so Promises are used freely.
 */
'use strict';

(() => {
  if (!self.llama2Read) {
    importScripts('read.js'); // a follower runs this file alone; the lead's worker.js has it already
  }
  const {INBOX_BYTES, readRange, feedInbox} = self.llama2Read;

  // Words of the control block (an Int32Array over shared memory).
  const GENERATION = 0;  // barrier generation: bumped when the last shard arrives
  const ARRIVED = 1;     // shards at the barrier so far
  const ABORTED = 2;     // 1 once a shard failed: every wait ends with an error
  const COMMAND = 3;     // what followers do after the next barrier: FORWARD or RELEASE
  const TOKEN = 4;
  const POSITION = 5;
  const CONTROL_WORDS = 8;
  const FORWARD = 1;
  const RELEASE = 2;
  const CHUNK_BYTES = 4 << 20;  // an ArrayBuffer reaches the followers a few megabytes at a time
  const SPIN_MS = 0.05;         // how long a shard at the barrier checks before it sleeps (as ThreadedShards)
  // Where each shard's time went during the last story (shared memory), in milliseconds: after the
  // control words, TIMES numbers per shard, each written only by its shard (read by the lead after
  // the story). The lead's worker puts them in its 'done' message; ./web/bench workers prints them.
  const COMPUTE = 0;    // its part of the forward pass: from an exchange (or the pass's start) to the next
  const PUT = 1;        // copying its slice into shared memory and the others' out of it
  const WAIT = 2;       // at the barrier of an exchange, for the slowest shard, in waits that ended within the spin
  const BETWEEN = 3;    // between forward passes (the lead: sampling the token, its message, the next task;
                        // the others: waiting for the lead to begin the next pass)
  const EXCHANGES = 4;  // exchanges, counted
  const COPY = 5;       // the engine copying its slice into its box and the others' out (WorkerExchange.java)
  const SLEPT = 6;      // at the barrier of an exchange, in waits that outlasted the spin and slept
  const SLEEPS = 7;     // such waits, counted
  const TIMES = 8;

  let shards = 1;
  let control = null;    // shared memory: an Int32Array
  let vectors = null;    // shared memory: two Float32Arrays, used in turn
  let parity = 0;
  let times = null;      // shared memory: a Float64Array of TIMES numbers per shard (see COMPUTE)
  let timesAt = 0;       // this shard's first
  let clocked = 0;       // performance.now() when the last of them was counted up to
  let ports = null;      // messages: a MessagePort to each other shard (null at this shard's index)
  let exchanges = 0;     // messages: exchanges begun so far; every shard numbers them alike
  let gathering = null;  // messages: the exchange under way: {number, box, missing, then}
  let early = [];        // messages: parts of exchanges this shard has not begun yet
  let onBegin = null;    // messages, a follower: what to do when the lead begins a forward pass
  let asked = null;      // messages, the lead: the forward pass its step asked for: {token, pos}

  function useSharedMemory(shard, count, controlBuffer, vectorBuffers) {
    shards = count;
    control = new Int32Array(controlBuffer, 0, CONTROL_WORDS);
    times = new Float64Array(controlBuffer, 4 * CONTROL_WORDS, TIMES * count);
    timesAt = TIMES * shard;
    vectors = vectorBuffers.map((buffer) => new Float32Array(buffer));
    parity = 0;
    ports = null;
  }

  function useMessages(count, shardPorts) {
    shards = count;
    control = null;
    ports = shardPorts;
    exchanges = 0;
    gathering = null;
    early = [];
    ports.forEach((port) => {
      if (port) {
        port.onmessage = (event) => received(event.data);
      }
    });
  }

  function received(message) {
    if (message.type === 'begin') {
      onBegin(message.token, message.pos);
    } else if (gathering && message.exchange === gathering.number) {
      absorb(message);
    } else {
      early.push(message);
    }
  }

  function absorb(message) {
    const exchange = gathering;
    exchange.box.set(message.part, message.from);
    exchange.missing--;
    if (exchange.missing === 0 && exchange.then) {
      gathering = null;
      exchange.then();
    }
  }

  /** Messages: calls back once every shard's part of the vector arrived in the engine's box. */
  function whenGathered(then) {
    const exchange = gathering;
    if (exchange.missing === 0) {
      gathering = null;
      then();
    } else {
      exchange.then = then;
    }
  }

  /**
   * Messages: runs this shard's stages of the forward pass of `token` at `pos`, each one after the
   * exchange of the one before completed; then `done`, or `fail` with what went wrong.
   */
  function runStages(call, token, pos, done, fail) {
    let stage = 0;
    const next = () => {
      try {
        for (;;) {
          const answer = call('shardStage', token, pos, stage++);
          if (answer.waiting) {
            whenGathered(() => {
              try {
                call('shardReceive');
              } catch (failure) {
                fail(failure);
                return;
              }
              if (stage < answer.stages) {
                next();
              } else {
                done();
              }
            });
            return;
          }
          if (stage >= answer.stages) {
            done();
            return;
          }
        }
      } catch (failure) {
        fail(failure);
      }
    };
    next();
  }

  /** Waits until every shard has arrived; throws if a shard failed. True if it slept (waited past the spin). */
  function arrive() {
    let slept = false;
    const generation = Atomics.load(control, GENERATION);
    if (Atomics.add(control, ARRIVED, 1) === shards - 1) {
      Atomics.store(control, ARRIVED, 0);
      Atomics.add(control, GENERATION, 1);
      Atomics.notify(control, GENERATION);
    } else {
      const start = performance.now();
      while (Atomics.load(control, GENERATION) === generation && performance.now() - start < SPIN_MS) {
        // a short spin: the other shards are usually a few microseconds away
      }
      while (Atomics.load(control, GENERATION) === generation) {
        slept = true;
        Atomics.wait(control, GENERATION, generation);
      }
    }
    if (Atomics.load(control, ABORTED)) {
      throw new Error('Another worker of the model failed; load the model again.');
    }
    return slept;
  }

  /** Adds the time since the last count to this shard's `field` (COMPUTE, PUT, WAIT, BETWEEN, COPY or SLEPT). */
  function clock(field) {
    const now = performance.now();
    times[timesAt + field] += now - clocked;
    clocked = now;
  }

  /** Ends every wait with an error: a shard failed, the others must not wait for it forever. */
  function abort() {
    if (control) {
      Atomics.store(control, ABORTED, 1);
      Atomics.add(control, GENERATION, 1);
      Atomics.notify(control, GENERATION);
    }
  }

  self.llama2Shards = {
    /** The engine's calls around its copies of an exchange (shared memory): what it did since the last count. */
    computed: () => {
      if (control) {
        clock(COMPUTE);
      }
    },
    copied: () => {
      if (control) {
        clock(COPY);
      }
    },
    /**
     * The lead starts a forward pass. Shared memory: the followers run theirs; true. Messages:
     * false, the pass must run in stages first.
     */
    begin: (token, pos) => {
      if (!control) {
        asked = {token, pos};
        return false;
      }
      clock(BETWEEN);
      Atomics.store(control, TOKEN, token);
      Atomics.store(control, POSITION, pos);
      Atomics.store(control, COMMAND, FORWARD);
      arrive();
      clock(WAIT);
      return true;
    },
    /**
     * The engine's box (WorkerExchange.java: a Float32Array over its memory, as long as the
     * longest vector) holds this shard's part of a vector, [from, to), at its place. Shared memory:
     * writes the other shards' parts around it and returns true. Messages: sends the part to the
     * others and returns false; their parts go into the box as they arrive (the stage ends there).
     */
    allGather: (box, from, to, length) => {
      if (!control) {
        gathering = {number: exchanges++, box, missing: shards - 1, then: null};
        const part = box.slice(from, to);
        ports.forEach((port) => {
          if (port) {
            port.postMessage({type: 'part', exchange: gathering.number, from, part});
          }
        });
        const arrived = early.filter((message) => message.exchange === gathering.number);
        early = early.filter((message) => message.exchange !== gathering.number);
        arrived.forEach(absorb);
        return false;
      }
      clock(COPY);
      const vector = vectors[parity];
      parity ^= 1;
      vector.set(box.subarray(from, to), from);
      clock(PUT);
      if (arrive()) {
        clock(SLEPT);
        times[timesAt + SLEEPS]++;
      } else {
        clock(WAIT);
      }
      box.set(vector.subarray(0, from));
      box.set(vector.subarray(to, length), to);
      clock(PUT);
      times[timesAt + EXCHANGES]++;
      return true;
    }
  };

  if (/\/shards\.js$/.test(self.location.pathname)) {
    follow();
  } else {
    self.llama2Shards.lead = lead();
  }

  // ---- A follower --------------------------------------------------------------------------

  function follow() {
    const engineName = new URLSearchParams(self.location.search).get('engine') === 'js' ? 'js' : 'wasm';
    let engine;
    if (engineName === 'js') {
      importScripts('js/engine.js');
      engine = Promise.resolve(self); // the JavaScript build puts its exports on the global object
    } else {
      importScripts('wasm/classes.wasm-runtime.js');
      engine = TeaVM.wasmGC.load('wasm/engine.wasm').then((teavm) => teavm.exports);
    }
    engine.catch((failure) => self.postMessage({type: 'error', message: `The engine could not start: ${failure}`}));
    self.onmessage = (event) => engine.then((exports) => obey(exports, event.data));
  }

  let loads = 0;  // a follower's loads so far: a newer 'load' abandons the ranges being read

  function obey(exports, message) {
    const call = (name, ...args) => {
      const answer = JSON.parse(exports[name](...args));
      if (answer.error) {
        throw new Error(answer.error);
      }
      return answer;
    };
    const failed = (failure) => {
      abort();
      self.postMessage({type: 'error', message: failure && failure.message ? failure.message : String(failure)});
    };
    try {
      switch (message.type) {
        case 'load':
          loads++;
          if (message.control) {
            useSharedMemory(message.shard, message.shards, message.control, message.vectors);
          } else {
            useMessages(message.shards, message.ports);
            onBegin = (token, pos) => runStages(call, token, pos, () => {}, (failure) => {
              self.postMessage({type: 'error', message: failure && failure.message ? failure.message : String(failure)});
            });
          }
          call('shardLoadBegin', message.size, message.name, message.shard, message.shards, message.quantize);
          if (message.file) {
            const number = loads;
            readOwnRanges(message.file, call, () => exports.modelInbox(), () => number === loads, () => {})
                .then(() => self.postMessage({type: 'ack'}), failed);
            return;
          }
          break;
        case 'chunk':
          toEngine(new Uint8Array(message.bytes), call, () => exports.modelInbox());
          break;
        case 'follow':
          call('shardFollow');
          break;
        case 'serve':
          serve(call);
          return;
        default:
          throw new Error(`A follower does not understand "${message.type}".`);
      }
      self.postMessage({type: 'ack'});
    } catch (failure) {
      failed(failure);
    }
  }

  // ---- Reading a shard's bytes (lead and followers) ----------------------------------------

  /** A shard's next bytes (a Uint8Array) to its engine: through the inbox, then shardLoadBytes says how many. */
  function toEngine(bytes, call, inbox) {
    feedInbox(bytes, inbox, (length) => call('shardLoadBytes', length));
  }

  /**
   * Reads the bytes of `file` this shard keeps, and only those: the engine says which it needs
   * next (shardWants: skip so many, then read so many), one range at a time. Resolves once the
   * file is read to its end (or once `current()` turns false: a newer load took over).
   * progress(offset): how far into the file it got.
   */
  function readOwnRanges(file, call, inbox, current, progress) {
    let at = 0;
    let buffer = new ArrayBuffer(INBOX_BYTES); // the one buffer every range is read through
    const next = () => {
      if (!current()) {
        return null;
      }
      const wants = call('shardWants');
      if (wants.skip > 0) {
        call('shardSkip', wants.skip);
        at += wants.skip;
      }
      if (wants.wanted === 0) {
        progress(file.size);
        return null; // the end of the file (the loader refuses one that stops short when it finishes)
      }
      const to = Math.min(file.size, at + wants.wanted);
      if (to <= at) {
        throw new Error(`${file.name || 'The model file'}: truncated: it ends at byte ${file.size}.`);
      }
      const take = (bytes) => toEngine(bytes, call, inbox);
      return readRange(file, at, to, buffer, take, current).then((reusable) => {
        if (!reusable) {
          return null; // a newer load took over
        }
        buffer = reusable;
        at = to;
        progress(at);
        return next();
      });
    };
    return Promise.resolve().then(next);
  }

  /** Follows the lead's forward passes until it releases this worker (or a shard fails). */
  function serve(call) {
    clocked = performance.now();
    for (;;) {
      arrive();
      clock(BETWEEN);
      if (Atomics.load(control, COMMAND) === RELEASE) {
        return;
      }
      call('shardForward', Atomics.load(control, TOKEN), Atomics.load(control, POSITION));
    }
  }

  // ---- The lead ----------------------------------------------------------------------------

  function lead() {
    let followers = [];
    let serving = false;
    let broken = false;
    let inFlight = null;   // messages: the forward pass under way: {fail}

    /** Starts `count` followers running `engineName`, reusing those already running. */
    function ensureFollowers(count, engineName) {
      if (followers.length === count && !broken) {
        return;
      }
      followers.forEach((follower) => follower.worker.terminate());
      followers = [];
      broken = false;
      for (let i = 0; i < count; i++) {
        const follower = {worker: new Worker(`shards.js?engine=${engineName}`), waiting: null};
        follower.worker.onmessage = (event) => answered(follower, event.data);
        follower.worker.onerror = (event) => answered(follower,
            {type: 'error', message: event && event.message ? event.message : 'a worker of the model stopped'});
        followers.push(follower);
      }
    }

    function answered(follower, message) {
      const waiting = follower.waiting;
      follower.waiting = null;
      if (message.type === 'error') {
        broken = true;
        if (inFlight) {
          inFlight.fail(new Error(message.message));
        }
      }
      if (waiting) {
        if (message.type === 'error') {
          waiting.reject(new Error(message.message));
        } else {
          waiting.resolve();
        }
      }
    }

    /** Sends every follower a message and waits for all their answers. */
    function tell(makeMessage, transfer) {
      return Promise.all(followers.map((follower, i) => new Promise((resolve, reject) => {
        follower.waiting = {resolve, reject};
        const message = makeMessage(i + 1);
        follower.worker.postMessage(message, transfer ? transfer(message) : []);
      })));
    }

    /**
     * Loads the model into `wanted` shards (fewer if the model has fewer key/value heads): each
     * worker keeps only its rows. `model` is a File or Blob, of which every worker reads its own
     * ranges, or an ArrayBuffer, which the lead streams past the followers. Resolves to the
     * model's facts, or to null if `current()` turned false (a newer load took over).
     */
    function load({call, inbox, engineName, model, modelName, tokenizer, tokenizerName, wanted, quantize, preferShared,
                   current, progress}) {
      release();
      const file = typeof Blob === 'function' && model instanceof Blob ? model : null;
      const size = file ? file.size : model.byteLength;
      const head = file ? file.slice(0, Math.min(256, size)).arrayBuffer()
          : Promise.resolve(model.slice(0, Math.min(256, size)));
      return head.then((start) => {
        if (!current()) {
          return null;
        }
        const plan = call('shardCount', new Int8Array(start), size, modelName, wanted);
        if (plan.error) {
          throw new Error(plan.error);
        }
        const shared = preferShared !== false && typeof SharedArrayBuffer === 'function' && self.crossOriginIsolated === true;
        const count = plan.shards;
        ensureFollowers(count - 1, engineName);
        const controlBuffer = shared ? new SharedArrayBuffer(4 * CONTROL_WORDS + 8 * TIMES * count) : null;
        const vectorBuffers = shared ? [0, 1].map(() => new SharedArrayBuffer(4 * plan.longest)) : null;
        const shardPorts = shared ? null : connect(count);
        if (shared) {
          useSharedMemory(0, count, controlBuffer, vectorBuffers);
        } else {
          useMessages(count, shardPorts[0]);
        }
        const strict = (name, ...args) => {
          const answer = call(name, ...args);
          if (answer.error) {
            throw new Error(answer.error);
          }
          return answer;
        };
        strict('shardLoadBegin', size, modelName, 0, count, Boolean(quantize));
        // With a file the followers read their ranges as the lead reads its own, and answer when done.
        let failed = false;    // a follower failed: the lead stops reading too
        const going = () => !failed && current();
        const followersRead = tell((shard) => ({type: 'load', shard, shards: count, size, name: modelName,
                                                quantize: Boolean(quantize), control: controlBuffer, vectors: vectorBuffers,
                                                ports: shared ? null : shardPorts[shard], file}),
                                   (message) => (message.ports || []).filter((port) => port));
        followersRead.catch(() => {
          failed = true;
        });
        const leadRead = file ? readOwnRanges(file, strict, inbox, going, (at) => progress(at, size))
            : followersRead.then(() => streamToFollowers(model, strict, inbox, going, progress));
        return Promise.all([followersRead, leadRead])
            .then(() => (current() ? tell(() => ({type: 'follow'})) : null))
            .then(() => {
              if (!current()) {
                return null;
              }
              const info = strict('shardLead', tokenizer, tokenizerName);
              info.transport = count === 1 ? 'none' : shared ? 'shared memory' : 'messages';
              return info;
            });
      });
    }

    /** An ArrayBuffer's bytes to every shard, a few megabytes at a time: copies to the followers, through the inbox here. */
    function streamToFollowers(model, call, inbox, current, progress) {
      const size = model.byteLength;
      let offset = 0;
      const next = () => {
        if (offset >= size || !current()) {
          return null;
        }
        const end = Math.min(size, offset + CHUNK_BYTES);
        const from = offset;
        offset = end;
        const sent = tell(() => ({type: 'chunk', bytes: model.slice(from, end)}), (message) => [message.bytes]);
        toEngine(new Uint8Array(model, from, end - from), call, inbox);
        progress(end, size);
        return sent.then(next);
      };
      return next();
    }

    /** ports[i][j]: shard i's end of a channel to shard j (null for i = j). */
    function connect(count) {
      const ports = [];
      for (let i = 0; i < count; i++) {
        ports.push(new Array(count).fill(null));
      }
      for (let i = 0; i < count; i++) {
        for (let j = i + 1; j < count; j++) {
          const channel = new MessageChannel();
          ports[i][j] = channel.port1;
          ports[j][i] = channel.port2;
        }
      }
      return ports;
    }

    /**
     * Messages: runs the forward pass the lead's step asked for ({pending: true}) on every shard,
     * stage by stage; then `done` (take the step again), or `fail`.
     */
    function forward(call, done, fail) {
      const strict = (name, ...args) => {
        const answer = call(name, ...args);
        if (answer.error) {
          throw new Error(answer.error);
        }
        return answer;
      };
      const {token, pos} = asked;
      if (broken) {
        fail(new Error('A worker of the model failed; load the model again.'));
        return;
      }
      let settled = false;
      const once = (then) => (value) => {
        if (!settled) {
          settled = true;
          inFlight = null;
          then(value);
        }
      };
      inFlight = {fail: once(fail)};
      ports.forEach((port) => {
        if (port) {
          port.postMessage({type: 'begin', token, pos});
        }
      });
      runStages(strict, token, pos, once(done), inFlight.fail);
    }

    /** Before the lead's first forward pass of a story: the followers start following. */
    function serve() {
      if (broken) {
        throw new Error('A worker of the model failed; load the model again.');
      }
      if (!serving && followers.length > 0 && control) {
        serving = true;
        times.fill(0); // this story's times only; the followers wait in their event loops
        clocked = performance.now();
        followers.forEach((follower) => follower.worker.postMessage({type: 'serve'}));
      }
    }

    /** After the story: the followers return to their event loops (to load, or serve again). */
    function release() {
      if (!serving) {
        return;
      }
      serving = false;
      if (Atomics.load(control, ABORTED)) {
        broken = true;
        return;
      }
      Atomics.store(control, COMMAND, RELEASE);
      try {
        arrive();
      } catch (failure) {
        broken = true;
      }
    }

    /**
     * Where each worker's time went in the story just written (shared memory; after release):
     * per shard {compute, copy, put, wait, slept, between} in milliseconds and {sleeps, exchanges}
     * counted; null otherwise.
     */
    function timing() {
      if (!control) {
        return null;
      }
      const shardTimes = [];
      for (let at = 0; at < times.length; at += TIMES) {
        shardTimes.push({compute: times[at + COMPUTE], copy: times[at + COPY], put: times[at + PUT], wait: times[at + WAIT],
                         slept: times[at + SLEPT], sleeps: times[at + SLEEPS], between: times[at + BETWEEN],
                         exchanges: times[at + EXCHANGES]});
      }
      return shardTimes;
    }

    return {load, serve, release, forward, timing};
  }
})();
