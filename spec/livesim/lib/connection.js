'use strict';
// One WebSocket connection of the Live protocol: setup, client messages, realtime input and
// activity detection, session resumption, connection lifetime and the faults attached to it.
// The turn engine, speech signals, function calls and client content are mixed in from
// turns.js, signals.js, calls.js and content.js.
const crypto = require('node:crypto');
const { camelize } = require('./casing');
const { CloseError, invalid, truncateReason } = require('./errors');
const { parseSetup, unknownName, check, REALTIME_INPUT } = require('./setup');
const { Vad } = require('./vad');
const model = require('./model');
const frames = require('./frames');
const faults = require('./faults');
const { now } = require('./clock');

const CLIENT_KEYS = new Set(['setup', 'clientContent', 'realtimeInput', 'toolResponse']);
const REALTIME_KEYS = {
  gemini: new Set(['audio', 'video', 'text', 'activityStart', 'activityEnd', 'audioStreamEnd', 'mediaChunks']),
  vertex: new Set(['audio', 'video', 'text', 'activityStart', 'activityEnd', 'mediaChunks']),
};
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

function decodeBase64(data, where) {
  if (typeof data !== 'string' || !BASE64.test(data)) {
    throw invalid(`Invalid value at '${where}' (TYPE_BYTES), Base64 decoding failed.`);
  }
  return Buffer.from(data, 'base64');
}

// "audio/pcm;rate=16000" → 16000; plain "audio/pcm" is 16 kHz, the native input rate.
// The service resamples any other rate to 16 kHz (live-protocol.md: "other rates are
// resampled by the server"), so only a rate of 0 is refused.
function pcmRate(mimeType, where) {
  const m = /^audio\/(?:pcm|l16)\s*(?:;\s*rate\s*=\s*(\d+))?\s*$/i.exec(mimeType || '');
  if (!m) throw invalid(`Unsupported mime type at '${where}': ${String(mimeType).slice(0, 40)}`);
  const rate = m[1] ? Number(m[1]) : 16000;
  if (!(rate > 0)) throw invalid(`Unsupported sample rate at '${where}': ${rate}`);
  return rate;
}

const sha1 = (s) => crypto.createHash('sha1').update(s).digest('hex').slice(0, 16);

class Connection {
  constructor({ ws, req, url, rt, auth, sim, behaviour, fault }) {
    this.ws = ws;
    this.sim = sim;
    this.rt = rt;
    this.auth = auth;
    this.backend = rt.backend;
    this.apiVersion = rt.apiVersion;
    this.behaviour = behaviour;
    this.id = sim.registry.nextConnectionId();
    this.record = {
      id: this.id,
      // As requested, before slashes were collapsed, so client tests can check their URLs.
      path: req.url.replace(/\?.*$/, ''),
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      remote: req.socket.remoteAddress,
      backend: rt.backend,
      apiVersion: rt.apiVersion,
      method: rt.constrained ? 'BidiGenerateContentConstrained' : 'BidiGenerateContent',
      auth: auth.kind || 'rejected',
      state: 'awaiting-setup',
      setup: null,
      sessionId: null,
      resumedFrom: null,
      behaviour,
      faultsFired: [],
      // Set when realtime input during a blocking call closed the connection (calls.js).
      inputDuringCall: null,
      openedAt: now(),
      closedAt: null,
      closeCode: null,
      closeReason: null,
      closedBy: null,
      framesIn: 0,
      framesOut: 0,
      framesDropped: 0,
    };
    this.frames = [];
    this.closed = false;
    this.stalled = false;
    this.messageIndex = -1;
    this.cfg = null;
    this.session = null;
    this.timers = new Set();
    // Turn engine state.
    this.vad = null;
    this.inActivity = false;
    this.userTurn = null;
    // Input audio time (ms) of every chunk received so far; user turns are timed in it.
    this.audioInMs = 0;
    this.reply = null;
    this.pendingCalls = new Map();
    this.queued = [];
    // Initial history (Gemini historyConfig): open until its turnComplete; other input is held.
    this.historyOpen = false;
    this.held = [];
    this.pendingVideoTokens = 0;
    this.turns = 0;
    this.outputFrames = 0;
    // Faults: one-shot faults wait for their trigger; modifiers shape every frame or reply.
    this.oneShot = [];
    this.fragmentSize = 0;
    this.delayMs = 0;
    this.delaySetup = false;
    if (fault) this.addFault(fault);

    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('close', (code, reason) => this.onClose(code, reason.toString('utf8')));
    ws.on('error', () => {});
    this.trigger('connect');
    this.startLifetime(behaviour.lifetime);
  }

  // ---- timers, recording, sending -------------------------------------------------------

  after(ms, fn) {
    const t = setTimeout(() => { this.timers.delete(t); fn(); }, Math.max(0, ms));
    this.timers.add(t);
    return t;
  }

  cancel(t) {
    if (t) { clearTimeout(t); this.timers.delete(t); }
  }

  recordFrame(dir, opcode, data) {
    const limit = this.behaviour.recordFrames;
    if (dir === 'in') this.record.framesIn++; else this.record.framesOut++;
    if (limit <= 0) return;
    if (this.frames.length >= limit) { this.frames.shift(); this.record.framesDropped++; }
    this.frames.push({ t: now(), dir, opcode, data });
  }

  // Sends one server frame (already encoded) as a binary message, fragmented if asked.
  sendFrame(buf) {
    if (this.closed || this.stalled || this.ws.readyState !== 1) return;
    this.recordFrame('out', 'binary', buf);
    if (this.fragmentSize && buf.length > this.fragmentSize) {
      for (let off = 0; off < buf.length; off += this.fragmentSize) {
        const end = Math.min(off + this.fragmentSize, buf.length);
        this.ws.send(buf.subarray(off, end), { binary: true, fin: end === buf.length });
      }
    } else {
      this.ws.send(buf, { binary: true });
    }
  }

  send(msg) {
    this.sendFrame(frames.encode(msg));
  }

  markClosed(code, reason, by) {
    if (this.closed) return;
    this.closed = true;
    Object.assign(this.record, { state: 'closed', closedAt: now(), closeCode: code, closeReason: reason, closedBy: by });
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.reply) this.reply.cancelled = true;
    this.sim.log(`${this.id} closed ${code} ${reason} (${by})`);
  }

  closeWith(code, reason) {
    if (this.closed) return;
    const r = truncateReason(reason);
    this.recordFrame('out', 'close', Buffer.from(JSON.stringify({ code, reason: r })));
    this.markClosed(code, r, 'server');
    this.ws.close(code, r);
    // A peer that never answers the close handshake must not keep the socket forever.
    setTimeout(() => this.ws.terminate(), 2000).unref();
  }

  onClose(code, reason) {
    this.markClosed(code, reason, 'client');
  }

  stall() {
    this.stalled = true;
    this.record.state = 'stalled';
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.reply) this.reply.cancelled = true;
    // Not reading the socket means pings go unanswered, like a hung server.
    this.ws.pause();
  }

  // ---- faults and behaviour -----------------------------------------------------------

  addFault(f) {
    if (f.type === 'fragment') this.fragmentSize = f.size;
    else if (f.type === 'delay') { this.delayMs = f.ms; this.delaySetup = f.setup; }
    else if (f.when === 'now') faults.fire(this, f);
    else this.oneShot.push(f);
  }

  trigger(when) {
    for (const f of this.oneShot) {
      if (f.when !== when || f.done) continue;
      if (when === 'turn' && this.outputFrames < f.afterFrames) continue;
      f.done = true;
      faults.fire(this, f);
      if (this.closed || this.stalled) return true;
    }
    return false;
  }

  setBehaviour(changes) {
    Object.assign(this.behaviour, changes);
    if ('lifetime' in changes) this.startLifetime(changes.lifetime);
  }

  // goAway some seconds before the end, then the close the real services send at the deadline.
  startLifetime(lifetime) {
    this.cancel(this.goAwayTimer);
    this.cancel(this.endTimer);
    if (!lifetime || lifetime <= 0) return;
    const elapsed = (now() - this.record.openedAt) / 1000;
    const remaining = Math.max(0, lifetime - elapsed);
    const lead = Math.min(this.behaviour.goAwayLead, remaining);
    this.goAwayTimer = this.after((remaining - lead) * 1000, () => {
      this.send({ goAway: { timeLeft: frames.duration(Math.max(0, lead)) } });
    });
    this.endTimer = this.after(remaining * 1000, () => {
      if (this.backend === 'vertex') this.closeWith(1000, 'The operation was cancelled.');
      else this.closeWith(1011, 'Deadline expired before operation could complete.');
    });
  }

  // ---- client messages ------------------------------------------------------------------

  onMessage(data, isBinary) {
    if (this.closed) return;
    this.recordFrame('in', isBinary ? 'binary' : 'text', data);
    let msg;
    try {
      try {
        msg = JSON.parse(data.toString('utf8'));
      } catch {
        throw invalid('Invalid JSON payload received. Unexpected token.');
      }
      if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) throw invalid();
      msg = camelize(msg, (name) => { throw invalid(`Invalid JSON payload received. Duplicate field "${name}".`); });
      const keys = Object.keys(msg);
      for (const k of keys) if (!CLIENT_KEYS.has(k)) throw unknownName(k, '');
      if (keys.length !== 1) throw invalid();
      this.messageIndex++;
      const key = keys[0];
      if (this.record.state === 'awaiting-setup') {
        if (key !== 'setup') throw invalid();
        this.onSetup(msg.setup);
      } else if (key === 'setup') {
        throw invalid();
      } else if (this.cfg) {
        if (!this.holdDuringHistory(key, msg[key])) this.dispatch(key, msg[key]);
      }
    } catch (err) {
      // A bug in the simulator ends this connection the way a real backend fault would,
      // instead of taking every other session down with the process.
      const e = err instanceof CloseError ? err : new CloseError(1011, 'Internal error occurred.');
      this.sim.log(`${this.id} ${err instanceof CloseError ? 'protocol error' : 'internal error'}: ${err instanceof CloseError ? e.reason : err.stack}`);
      this.closeWith(e.code, e.reason);
    }
  }

  onSetup(setup) {
    this.record.setup = setup;
    if (this.auth.closeAfterSetup) {
      const { code, reason } = this.auth.closeAfterSetup;
      throw new CloseError(code, reason);
    }
    if (this.auth.kind === 'ephemeral') {
      const use = this.sim.tokens.useEphemeral(this.auth.token, !(setup.sessionResumption && setup.sessionResumption.handle));
      if (use.error) throw new CloseError(1008, use.error);
      setup = use.constrain(setup);
      this.record.setup = setup;
    }
    this.cfg = parseSetup(setup, this);
    const reg = this.sim.registry;
    if (this.cfg.resumption && this.cfg.resumption.handle) {
      const session = reg.resume(this.cfg.resumption.handle, this);
      if (!session) throw invalid();
      if (session.model !== this.cfg.model) throw invalid();
      this.session = session;
      this.record.resumedFrom = this.cfg.resumption.handle;
    } else {
      this.session = reg.newSession(this);
    }
    // As the service does: a setup announcing initial history holds realtime input until
    // a clientContent with turnComplete, resumed or not.
    this.historyOpen = this.cfg.initialHistory;
    this.session.connectionIds.push(this.id);
    this.record.sessionId = this.session.id;
    this.record.state = 'active';
    this.consume('setup', '');
    if (this.cfg.autoVad) this.vad = new Vad({ sensitivity: this.cfg.startSensitivity, silenceMs: this.cfg.silenceMs });
    const complete = () => {
      if (this.closed) return;
      this.send({ setupComplete: this.backend === 'vertex' ? { sessionId: this.session.id } : {} });
      if (this.cfg.resumption) this.sendResumptionUpdate(true);
      this.trigger('setup');
    };
    if (this.delaySetup && this.delayMs) this.after(this.delayMs, complete); else complete();
  }

  // Appends to the session's log of consumed client messages (README: "Message counting").
  consume(type, digest) {
    // Past the limit entries are counted, not kept, so handle snapshots stay valid offsets.
    if (this.session.consumed.length >= this.sim.consumedLimit) {
      this.session.consumedDropped = (this.session.consumedDropped || 0) + 1;
      return;
    }
    this.session.consumed.push({ connection: this.id, index: this.messageIndex, type, digest, t: now() });
  }

  dispatch(key, body) {
    if (body === null || typeof body !== 'object') throw invalid();
    if (key === 'realtimeInput') this.onRealtimeInput(body);
    else if (key === 'clientContent') this.onClientContent(body);
    else this.onToolResponse(body);
  }

  onRealtimeInput(ri) {
    const allowed = REALTIME_KEYS[this.backend];
    const keys = Object.keys(ri);
    for (const k of keys) if (!allowed.has(k)) throw unknownName(k, 'realtimeInput');
    // Blob fields, value types and the empty activity messages, as the proto has them.
    check(ri, REALTIME_INPUT, 'realtimeInput', this.backend);
    this.refuseInputDuringCall(keys);
    for (const k of keys) {
      const v = ri[k];
      switch (k) {
        case 'audio': this.onAudio(v, 'realtime_input.audio'); break;
        case 'video': this.onVideo(v, 'realtime_input.video'); break;
        case 'mediaChunks': {
          // Deprecated form: only the first chunk is used, as by the real service.
          if (!Array.isArray(v) || !v.length) throw invalid();
          const blob = v[0] || {};
          if (String(blob.mimeType || '').startsWith('image/')) this.onVideo(blob, 'realtime_input.media_chunks[0]');
          else this.onAudio(blob, 'realtime_input.media_chunks[0]');
          break;
        }
        case 'text':
          if (typeof v !== 'string') throw invalid();
          this.consume('text', v);
          this.interruptBy('text');
          this.submitTurn({ text: v, transcript: v, tokens: { TEXT: model.textTokens(v) } });
          break;
        case 'activityStart':
          if (this.cfg.autoVad) throw invalid('Explicit activity control is not supported when automatic activity detection is enabled.');
          this.consume('activityStart', '');
          this.inActivity = true;
          this.beginUserTurn(this.audioInMs);
          break;
        case 'activityEnd':
          if (this.cfg.autoVad) throw invalid('Explicit activity control is not supported when automatic activity detection is enabled.');
          this.consume('activityEnd', '');
          if (this.inActivity) { this.inActivity = false; this.endUserTurn(this.audioInMs); }
          break;
        case 'audioStreamEnd':
          this.consume('audioStreamEnd', '');
          if (this.vad) this.onSpeechEdges([this.vad.flush()].filter(Boolean));
          break;
        default: break;
      }
    }
  }

  onAudio(blob, where) {
    if (!blob || typeof blob !== 'object') throw invalid();
    const rate = pcmRate(blob.mimeType, where);
    const pcm = decodeBase64(blob.data || '', `${where}.data`);
    this.consume('audio', sha1(blob.data || ''));
    const ms = (pcm.length / 2 / rate) * 1000;
    if (!this.cfg.autoVad) {
      // With automatic detection off, audio outside activityStart/End is an error.
      if (!this.inActivity) throw invalid();
      this.audioInMs += ms;
      this.userTurn.audioMs += ms;
      this.interimsUpTo(this.audioInMs);
      return;
    }
    const edges = this.vad.push(pcm, rate);
    this.audioInMs += ms;
    if (this.userTurn) this.userTurn.audioMs += ms;
    this.onSpeechEdges(edges, ms);
    this.interimsUpTo(this.audioInMs);
  }

  // Starts and ends user turns at the edges the VAD found ({type, at, found}, in order), each
  // announced first. A turn started by this chunk counts all of its `chunkMs` of audio.
  onSpeechEdges(edges, chunkMs = 0) {
    for (const edge of edges) {
      if (edge.type === 'start') {
        this.signalEdge('start', edge.at);
        this.beginUserTurn(edge.at);
        this.userTurn.audioMs += chunkMs;
      } else {
        this.interimsUpTo(edge.found);
        this.signalEdge('end', edge.at);
        this.endUserTurn(edge.at);
      }
    }
  }

  onVideo(blob, where) {
    if (!blob || typeof blob !== 'object') throw invalid();
    if (!String(blob.mimeType || '').startsWith('image/')) throw invalid(`Unsupported mime type at '${where}'.`);
    decodeBase64(blob.data || '', `${where}.data`);
    this.consume('video', sha1(blob.data || ''));
    this.pendingVideoTokens += model.VIDEO_TOKENS_PER_FRAME;
  }

  // Summary for the control API.
  info() {
    return {
      ...this.record,
      messageIndex: this.messageIndex,
      turnState: this.historyOpen ? 'awaiting-history' : this.reply ? 'generating' : this.pendingCalls.size ? 'awaiting-tool-response' : this.userTurn ? 'user-speaking' : 'idle',
      pendingCalls: [...this.pendingCalls.keys()],
    };
  }
}

Object.assign(Connection.prototype, require('./turns'), require('./signals'), require('./calls'), require('./content'));

module.exports = { Connection };
