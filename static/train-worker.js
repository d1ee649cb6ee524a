/*
 * A training worker: runs the Java trainer (train/, compiled by TeaVM to wasm/trainer.wasm, or
 * js/trainer.js where WebAssembly GC is missing) off the page's thread. The Train view
 * (train.js) starts one per worker of a run and drives them step by step.
 *
 * Messages the page sends (postMessage objects, `type` first; buffers are ArrayBuffers):
 *   {type: 'tokenizer', text, vocab}     learn a BPE tokenizer from the text
 *   {type: 'scratch', text, tokenizer, shape: {dim, hidden, layers, heads, kvHeads, seqLen},
 *          settings: {steps, batch, lr, warmup, shards, seed}}          a new model
 *   {type: 'finetune', text, model, tokenizer, seqLen, settings}        a llama2.c checkpoint
 *   {type: 'resume', checkpoint, text, tokenizer}                       a saved run
 *   {type: 'shape', head, size, name}    a model file's shape, from its first bytes and its size
 *   {type: 'rehearse', shape: {dim, hidden, layers, heads, kvHeads, seqLen, vocab}, settings}
 *                                        a model of that shape on made-up tokens, to time steps
 *   {type: 'step'}                       one optimizer step over every shard (one worker)
 *   {type: 'gradients', shards: [w]}     several workers: this worker's shards' gradients
 *   {type: 'apply', gradients: {w: buffer}, losses: [per shard]}  the others' gradients: finish the step
 *   {type: 'validate'}                   the loss on the held-out stories
 *   {type: 'sample', prompt, steps, seed}
 *   {type: 'export'}                     the model (.bin, version 0 and Q8_0 version 2) and tokenizer.bin
 *   {type: 'checkpoint', seconds}        the training checkpoint (the CLI's format)
 *
 * Messages the worker sends: {type: 'engine', engine: 'wasm'|'js'} once, then one answer per
 * message: {type: 'tokenizer', tokenizer}, {type: 'ready', info}, {type: 'step', step, loss, lr,
 * tokens}, {type: 'shape', shape: {dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen,
 * sharedClassifier, parameters}}, {type: 'gradients', shards, losses, gradients: [buffer]}, {type: 'valid', loss},
 * {type: 'sample', text},
 * {type: 'files', model, q8, tokenizer}, {type: 'checkpoint', checkpoint, step}, or
 * {type: 'error', message} (a sentence for people).
 */
'use strict';

(() => {
  let exports = null;
  let pending = [];

  self.onmessage = (event) => {
    if (exports) {
      handle(event.data);
    } else {
      pending.push(event.data);
    }
  };

  start(new URLSearchParams(self.location.search).get('engine') === 'js' ? 'js' : 'wasm');

  function start(preferred) {
    const fallBack = () => {
      try {
        importScripts('js/trainer.js');
        ready('js', self);
      } catch (failure) {
        post({type: 'error', message: `The trainer could not be loaded: ${failure && failure.message || failure}`});
      }
    };
    if (preferred === 'js') {
      fallBack();
      return;
    }
    try {
      importScripts('wasm/classes.wasm-runtime.js');
      TeaVM.wasmGC.load('wasm/trainer.wasm').then((teavm) => ready('wasm', teavm.exports), fallBack);
    } catch (failure) {
      fallBack();
    }
  }

  function ready(name, found) {
    exports = found;
    post({type: 'engine', engine: name});
    const waiting = pending;
    pending = [];
    waiting.forEach(handle);
  }

  /** Calls an export that returns JSON; an {error} answer becomes an exception with its sentence. */
  function call(name, ...args) {
    const answer = JSON.parse(exports[name].apply(exports, args));
    if (answer.error) {
      throw new Error(answer.error);
    }
    return answer;
  }

  /** The file the last call made, as an ArrayBuffer of its own (to transfer). */
  function lastBytes() {
    const bytes = exports.bytes();
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength).slice().buffer;
  }

  function handle(m) {
    try {
      post(answer(m));
    } catch (failure) {
      post({type: 'error', message: failure && failure.message || String(failure)});
    }
  }

  function answer(m) {
    const s = m.settings;
    switch (m.type) {
      case 'tokenizer':
        call('learnTokenizer', m.text, m.vocab);
        return {type: 'tokenizer', tokenizer: lastBytes()};
      case 'scratch':
        return {type: 'ready', info: call('scratch', m.text, m.tokenizer, m.shape.dim, m.shape.hidden, m.shape.layers,
            m.shape.heads, m.shape.kvHeads, m.shape.seqLen, s.steps, s.batch, String(s.lr), s.warmup, s.shards, s.seed)};
      case 'finetune':
        return {type: 'ready', info: call('fineTune', m.text, m.model, m.tokenizer, m.seqLen, s.steps, s.batch,
            String(s.lr), s.warmup, s.shards, s.seed)};
      case 'rehearse':
        return {type: 'ready', info: call('rehearse', m.shape.dim, m.shape.hidden, m.shape.layers, m.shape.heads,
            m.shape.kvHeads, m.shape.vocab, m.shape.seqLen, s.steps, s.batch, String(s.lr), s.warmup, s.shards, s.seed)};
      case 'resume':
        return {type: 'ready', info: call('resume', m.checkpoint, m.text, m.tokenizer)};
      case 'shape':
        return {type: 'shape', shape: call('modelShape', m.head, m.size, m.name)};
      case 'step':
        return Object.assign({type: 'step'}, call('trainStep'));
      case 'gradients': {
        call('beginStep');
        const losses = m.shards.map((w) => call('shardGradient', w).loss);
        const gradients = m.shards.map((w) => {
          const g = exports.gradient(w);
          return new Float32Array(g).buffer;
        });
        return {type: 'gradients', shards: m.shards, losses, gradients};
      }
      case 'apply':
        Object.keys(m.gradients).forEach((w) => call('receiveGradient', Number(w), new Float32Array(m.gradients[w])));
        return Object.assign({type: 'step'}, call('finishStep', new Float64Array(m.losses)));
      case 'validate':
        return {type: 'valid', loss: call('validationLoss').loss};
      case 'sample':
        return {type: 'sample', text: call('sample', m.prompt, m.steps, m.seed).text};
      case 'export': {
        call('exportModel', 0);
        const model = lastBytes();
        call('exportModel', 2);
        const q8 = lastBytes();
        call('exportTokenizer');
        return {type: 'files', model, q8, tokenizer: lastBytes()};
      }
      case 'checkpoint': {
        const step = call('checkpoint', m.seconds).step;
        return {type: 'checkpoint', checkpoint: lastBytes(), step};
      }
      default:
        throw new Error(`The training worker does not understand the message "${m.type}".`);
    }
  }

  function post(message) {
    const buffers = [];
    ['tokenizer', 'model', 'q8', 'checkpoint'].forEach((k) => {
      if (message[k] instanceof ArrayBuffer) {
        buffers.push(message[k]);
      }
    });
    (message.gradients || []).forEach((b) => buffers.push(b));
    self.postMessage(message, buffers);
  }
})();
