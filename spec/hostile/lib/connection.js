'use strict';
// One WebSocket connection of the hostile server: reads client frames, calls the mode's
// hooks, and keeps a record of everything for GET /_log.

const { OP, OP_NAME, encode, closePayload, Reader, validUtf8 } = require('./frames');
const { text, turnComplete } = require('./modes');

const MAX_RECORDED = 10000;   // messages kept per connection in the log (the count goes on)

// The log form of some bytes: the text when it is UTF-8, else the hex of the first 64 bytes.
function describe(buf) {
  if (validUtf8(buf)) return { text: buf.toString('utf8') };
  return { text: null, hex: buf.subarray(0, 64).toString('hex') };
}

class Connection {
  constructor({ id, socket, mode, modeName, params, path, tls, log }) {
    this.id = id;
    this.socket = socket;
    this.mode = mode;
    this.params = params;
    this.log = log;
    this.reader = new Reader();
    this.fragments = null;      // { opcode, parts } while a fragmented message arrives
    this.timers = new Set();
    this.setupSeen = false;     // the first message (the setup) arrived
    this.setupDone = false;
    this.closeSent = false;
    this.record = {
      id, mode: modeName, tag: params.tag || null, params, path, tls,
      openedAt: Date.now(), setup: null, messages: 0, received: [],
      sent: { frames: 0, bytes: 0 }, closeReceived: null, closeSent: null,
      endedAt: null, endedBy: null, notes: [], pongs: [], pings: [],
    };
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('close', () => this.onEnd());
    socket.on('error', (err) => this.note(`socket error: ${err.code || err.message}`));
  }

  // ---- sending ------------------------------------------------------------------------

  // Writes bytes as they are; `frames` is how many frames they hold (for the log).
  sendRaw(buf, frames = 1, done) {
    if (this.socket.destroyed) return;
    this.record.sent.frames += frames;
    this.record.sent.bytes += buf.length;
    this.socket.write(buf, done);
  }

  // One message: a string or Buffer of JSON text (or any bytes). Binary frame by default,
  // as the real service sends; opts.opcode, opts.mask as lib/frames.js encode takes them.
  send(payload, { opcode = OP.binary, mask = false } = {}) {
    this.sendRaw(encode(opcode, payload, { mask }));
  }

  sendJson(obj) { this.send(JSON.stringify(obj)); }

  setupComplete() {
    this.setupDone = true;
    this.sendJson({ setupComplete: {} });
  }

  // Sends a close frame (code, reason bytes or string) and ends the socket once the peer
  // closes or after 2 s.
  close(code, reason) {
    if (this.closeSent || this.socket.destroyed) return;
    this.closeSent = true;
    const r = Buffer.isBuffer(reason) ? reason : Buffer.from(reason || '', 'utf8');
    this.record.closeSent = { code, reasonHex: r.toString('hex'), at: Date.now() };
    this.sendRaw(encode(OP.close, closePayload(code, r)));
    this.after(2000, () => this.drop());
  }

  // Ends the TCP connection without a close frame, once what was written has gone out.
  drop() {
    this.stopTimers();
    if (this.socket.destroyed) return;
    this.note('dropped the TCP connection');
    this.socket.end();
    this.socket.destroySoon ? this.socket.destroySoon() : this.socket.destroy();
  }

  stopReading() {
    this.note('stopped reading');
    this.socket.pause();
    this.socket.removeAllListeners('data');
  }

  // ---- timers (all cleared when the connection ends) ------------------------------------

  after(ms, fn) {
    const t = setTimeout(() => { this.timers.delete(t); fn(); }, ms);
    this.timers.add(t);
  }

  every(ms, fn) {
    const t = setInterval(() => { if (!this.socket.destroyed) fn(); }, ms);
    this.timers.add(t);
  }

  stopTimers() {
    for (const t of this.timers) { clearTimeout(t); clearInterval(t); }
    this.timers.clear();
  }

  note(what) {
    this.record.notes.push({ t: Date.now(), what });
  }

  // ---- the tiny default model -----------------------------------------------------------

  // Answers text input with one text message and a turnComplete, and a toolResponse with
  // a text that counts its results and a turnComplete.
  model(msg) {
    if (!msg || typeof msg !== 'object') return;
    const rt = msg.realtimeInput || msg.realtime_input;
    if (rt && typeof rt.text === 'string') {
      this.sendJson(text(`You said: ${rt.text}`));
      this.sendJson(turnComplete);
    }
    const tr = msg.toolResponse || msg.tool_response;
    if (tr) {
      const n = Array.isArray(tr.functionResponses) ? tr.functionResponses.length : 0;
      this.sendJson(text(`${n} results`));
      this.sendJson(turnComplete);
    }
  }

  // ---- receiving ----------------------------------------------------------------------

  onData(chunk) {
    let frames;
    try {
      frames = this.reader.feed(chunk);
    } catch (err) {
      this.note(`unreadable client frame: ${err.message}`);
      this.drop();
      return;
    }
    for (const f of frames) this.onFrame(f);
  }

  onFrame(f) {
    if (!f.masked) this.note(`unmasked client frame (${OP_NAME[f.opcode] || f.opcode})`);
    switch (f.opcode) {
      case OP.ping:
        this.record.pings.push({ t: Date.now(), hex: f.payload.toString('hex') });
        if (!this.socket.destroyed) this.sendRaw(encode(OP.pong, f.payload));
        return;
      case OP.pong:
        this.record.pongs.push({ t: Date.now(), hex: f.payload.toString('hex') });
        return;
      case OP.close:
        return this.onClose(f.payload);
      case OP.cont:
        if (!this.fragments) return this.note('continuation frame without a start');
        this.fragments.parts.push(f.payload);
        if (f.fin) {
          const { opcode, parts } = this.fragments;
          this.fragments = null;
          this.onMessage(opcode, Buffer.concat(parts));
        }
        return;
      case OP.text:
      case OP.binary:
        if (!f.fin) {
          this.fragments = { opcode: f.opcode, parts: [f.payload] };
          return;
        }
        return this.onMessage(f.opcode, f.payload);
      default:
        this.note(`unknown opcode ${f.opcode}`);
    }
  }

  onMessage(opcode, payload) {
    const rec = this.record;
    rec.messages++;
    if (rec.received.length < MAX_RECORDED) {
      rec.received.push({ t: Date.now(), opcode: OP_NAME[opcode], size: payload.length, ...describe(payload) });
    }
    let msg = null;
    try { msg = JSON.parse(payload.toString('utf8')); } catch { /* not JSON: msg stays null */ }
    if (!this.setupSeen) {
      this.setupSeen = true;
      rec.setup = msg && msg.setup ? msg.setup : null;
      if (this.mode.setup) this.mode.setup(this, msg);
      else this.setupComplete();
      return;
    }
    if (this.mode.message) this.mode.message(this, msg, payload);
    else this.model(msg);
  }

  onClose(payload) {
    const code = payload.length >= 2 ? payload.readUInt16BE(0) : null;
    const reason = payload.subarray(2);
    this.record.closeReceived = { code, reasonHex: reason.toString('hex'), ...describe(reason), at: Date.now() };
    if (this.params.mute !== undefined) {
      // never answers, keeps the socket open and reads on (discarding what follows)
      this.note('left the close unanswered');
      return;
    }
    if (this.mode.close) return this.mode.close(this, code, reason);
    this.stopTimers();
    this.close(code === null ? 1000 : code, reason);
  }

  onEnd() {
    this.stopTimers();
    this.record.endedAt = Date.now();
    this.record.endedBy = this.closeSent && this.record.closeReceived ? 'both'
      : this.record.closeReceived ? 'client' : this.closeSent ? 'server' : 'tcp';
    this.log(`${this.id} ended (${this.record.endedBy})`);
  }
}

module.exports = { Connection };
