/*
 * Reading a model's bytes from a Blob or File into the engine, for worker.js and shards.js (a
 * follower worker runs shards.js alone, so both `importScripts('read.js')`); it defines
 * `self.llama2Read = {INBOX_BYTES, readRange, feedInbox}`.
 *
 * A range is read in order into one reused buffer (a "bring your own buffer" reader), so reading
 * makes no garbage: a fresh buffer per chunk would pile up until the browser collects it, as much
 * again as the model. Browsers without such readers get a megabyte slice at a time, and so does a
 * read that stalls: if the reader gives nothing for STALL_MS (seen once in a CI run: a 438 MB
 * file stopped after its first megabyte), it is cancelled and the rest is read in slices from
 * where it stopped. The bytes reach the engine through its inbox (WorkerExports.modelInbox), a
 * megabyte at a time.
 *
 * HtmlUnit's worker loads this file too (it tests the JavaScript build, whose model always
 * arrives as an ArrayBuffer there): plain functions, arrow functions and const/let only.
 */
'use strict';

self.llama2Read = (() => {
  const INBOX_BYTES = 1 << 20;  // the engine's inbox: bytes go in this much at a time
  const STALL_MS = 15000;       // without bytes for this long, a stream is read on by slices
  const STALLED = new Error('no bytes arrived in time');

  /**
   * Reads bytes [from, to) of `blob` through `buffer` (an ArrayBuffer of INBOX_BYTES), giving each
   * piece (a Uint8Array) to `take`; resolves to the buffer to reuse for the next range, or to null
   * once `current()` turned false (a newer load took over: reading stops there). stalled(at): the
   * stream gave nothing for STALL_MS at byte `at` and the rest is read by slices.
   */
  function readRange(blob, from, to, buffer, take, current, stalled) {
    let at = from;
    const bySlices = () => {
      if (!current()) {
        return null;
      }
      if (at >= to) {
        return buffer.byteLength ? buffer : new ArrayBuffer(INBOX_BYTES);
      }
      const end = Math.min(to, at + INBOX_BYTES);
      return blob.slice(at, end).arrayBuffer().then((bytes) => {
        if (current()) {
          take(new Uint8Array(bytes));
        }
        at = end;
        return bySlices();
      });
    };
    let reader = null;
    try {
      reader = blob.slice(from, to).stream().getReader({mode: 'byob'});
    } catch (unsupported) {
      reader = null;
    }
    if (!reader) {
      return Promise.resolve().then(bySlices);
    }
    const pump = () => withinTime(reader.read(new Uint8Array(buffer)), STALL_MS).then(({done, value}) => {
      if (value) {
        buffer = value.buffer; // the same memory, handed back by the reader
      }
      if (!current()) {
        reader.cancel().catch(() => {});
        return null;
      }
      if (done) {
        if (at < to) {
          throw new Error(`The model file ended early, at byte ${at} of ${blob.size}.`);
        }
        return buffer.byteLength ? buffer : new ArrayBuffer(INBOX_BYTES);
      }
      at += value.byteLength;
      take(value);
      return pump();
    });
    return pump().catch((failure) => {
      if (failure !== STALLED) {
        throw failure;
      }
      reader.cancel().catch(() => {});
      buffer = new ArrayBuffer(INBOX_BYTES); // the stalled read may still hold the old one
      if (stalled && current()) {
        stalled(at);
      }
      return bySlices();
    });
  }

  /** The promise's outcome, or STALLED if it has none after `ms` milliseconds. */
  function withinTime(promise, ms) {
    let timer = null;
    const late = new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(STALLED), ms);
    });
    return Promise.race([promise, late]).finally(() => clearTimeout(timer));
  }

  /**
   * Hands `bytes` (a Uint8Array or Int8Array), the file's next bytes, to the engine: a megabyte
   * at a time into inbox(), the engine's Int8Array (asked for each time: the memory under it may
   * move), then took(length) tells the engine how many bytes are there.
   */
  function feedInbox(bytes, inbox, took) {
    for (let at = 0; at < bytes.length; at += INBOX_BYTES) {
      const length = Math.min(INBOX_BYTES, bytes.length - at);
      inbox().set(new Int8Array(bytes.buffer, bytes.byteOffset + at, length)); // bytes as they are, no conversion
      took(length);
    }
  }

  return {INBOX_BYTES, readRange, feedInbox};
})();
