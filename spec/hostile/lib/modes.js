'use strict';
// The hostile server's modes: what one connection does. A mode is chosen per connection by
// the request path (first segment) or the query (`mode=`); parameters come from `key=value`
// path segments and the query (see README.md).
//
// Each mode is an object with `about` (one line for README.md and GET /_modes) and hooks,
// each optional:
//   setup(c, msg)        the client's first message arrived (msg: parsed JSON, or null);
//                        default: answer setupComplete
//   message(c, msg, raw) a later data message (msg: parsed JSON or null; raw: Buffer);
//                        default: c.model(msg), a tiny model that answers text and tool results
//   close(c, code, reason) the client sent a close frame; default: close back, same code
//   connected(c)         right after the handshake, before any message
//   upgrade(socket, params) answers the upgrade request itself (no 101, no connection
//                        record): the modes that refuse the upgrade or never answer it
// To add a mode, add an entry here (and a line in README.md's table); `frames` below holds
// ready-made server messages for the "send a chosen frame" modes.

const crypto = require('node:crypto');
const { STATUS_CODES } = require('node:http');
const { OP, encode } = require('./frames');

// The payload of the `ping` mode's ping of n bytes.
const pingPayload = (n) => Buffer.from(Array.from({ length: n }, (_, i) => (7 * i + n) & 0xff));
const int = (v, dflt) => (v === undefined ? dflt : Number.parseInt(v, 10));
// close_reason's code: `none` sends a close frame without a payload (read as 1005).
const closeCode = (c) => (c.params.code === 'none' ? undefined : int(c.params.code, 1000));
const hex = (v, dflt) => Buffer.from(v === undefined ? dflt : v.replace(/[^0-9a-fA-F]/g, ''), 'hex');

// Breaks a connection under its WebSocket (break_on_close): bytes that are no TLS record on
// the TCP stream beneath TLS (a TLS 1.3 application-data header and 32 bytes that cannot
// decrypt; without TLS, those bytes as they are), or a TCP reset.
function breakConnection(c) {
  const raw = c.socket._parent || c.socket;   // tls.Server wraps the TCP socket
  c.stopTimers();
  if (raw.destroyed) return;
  if (c.params.how === 'reset') {
    c.note('reset the TCP connection');
    raw.resetAndDestroy();
    return;
  }
  c.note('wrote garbage under the WebSocket');
  raw.write(Buffer.concat([Buffer.from([0x17, 0x03, 0x03, 0x00, 0x20]), Buffer.alloc(32, 0xa5)]));
  // reads on (discarding): a client whose writes back up reads nothing until they drain
  // (libwebsockets holds input while it holds output it could not write); with `deaf`, it
  // goes on reading nothing, so those writes never drain
  if (c.params.deaf !== undefined) return;
  c.socket.on('data', () => {});
  c.socket.resume();
}

// Interim (1xx) answers to write before the upgrade's answer, as `interim` lists them
// (dot-separated statuses, any mode): a 103 carries a Link header, the others none.
function interimAnswers(params) {
  if (!params.interim) return Buffer.alloc(0);
  return Buffer.from(params.interim.split('.').map((st) => `HTTP/1.1 ${st} ${STATUS_CODES[st] || 'Interim'}\r\n`
    + (st === '103' ? 'Link: </style.css>; rel=preload; as=style\r\n' : '') + '\r\n').join(''));
}

// Refuses an upgrade (`refuse`): HTTP `status` with a Google API error body (or `body`,
// base64url bytes), whole, cut short, or chunked, as `how` says.
function refuseUpgrade(socket, params) {
  const status = int(params.status, 503);
  const error = { code: status, message: 'hostile refusal', status: 'UNAVAILABLE' };
  // `pad`: a details entry that makes the error that many bytes longer (give or take 60)
  if (params.pad !== undefined) error.details = [{ '@type': 'hostile.Padding', padding: 'p'.repeat(int(params.pad, 0)) }];
  const body = params.body !== undefined ? Buffer.from(params.body, 'base64url') : Buffer.from(JSON.stringify({ error }));
  // three digits are written as given (`000`: a status line no HTTP server writes)
  const code = /^[0-9]{3}$/.test(params.status || '') ? params.status : String(status);
  const head = `HTTP/1.1 ${code} ${STATUS_CODES[status] || 'Refused'}\r\nContent-Type: application/json\r\n`;
  const how = params.how || 'whole';
  socket.on('data', () => {});               // what the client still sends is dropped
  socket.write(interimAnswers(params));
  if (how === 'chunked' || how === 'chunked_bad') {
    // two chunks, the second and the last one 100 ms later (so they come in a read of
    // their own); chunked_bad's first size line is no hex number
    const half = body.length >> 1;
    const size = (n) => (how === 'chunked_bad' ? 'zz' : n.toString(16));
    socket.write(Buffer.concat([Buffer.from(`${head}Transfer-Encoding: chunked\r\n\r\n${size(half)}\r\n`),
      body.subarray(0, half), Buffer.from('\r\n')]));
    setTimeout(() => socket.write(Buffer.concat([Buffer.from(`${(body.length - half).toString(16)};x=y\r\n`),
      body.subarray(half), Buffer.from('\r\n0\r\n\r\n')])), 100);
    return;
  }
  const cut = how === 'cut' || how === 'cut_open';
  const all = Buffer.concat([Buffer.from(`${head}Content-Length: ${body.length + (cut ? 50 : 0)}\r\n\r\n`), body]);
  if (how === 'drip') {
    // the whole answer in writes of `piece` bytes (256), `every` ms (2) apart, then the end
    const piece = int(params.piece, 256);
    const every = int(params.every, 2);
    socket.setNoDelay(true);
    const next = (off) => {
      if (off >= all.length) return socket.end();
      socket.write(all.subarray(off, off + piece));
      return setTimeout(() => next(off + piece), every);
    };
    next(0);
    return;
  }
  if (how === 'cut_open') socket.write(all);
  else socket.end(all);
}

const text = (t) => ({ serverContent: { modelTurn: { parts: [{ text: t }] } } });
const turnComplete = { serverContent: { turnComplete: true } };

// Server messages as JSON text (strings, so they may hold what JSON.stringify cannot write:
// 1e400, or invalid UTF-8 once turned into bytes by the latin1 marker below).
const frames = {
  // audio whose data is not base64, between two text parts of the same message
  bad_base64_audio: [
    JSON.stringify({ serverContent: { modelTurn: { parts: [
      { text: 'before' },
      { inlineData: { mimeType: 'audio/pcm;rate=24000', data: '!!not base64!!' } },
      { text: 'after' },
    ] }, outputTranscription: { text: 'said' } } }),
    JSON.stringify(turnComplete),
  ],
  // functionCalls as an object instead of an array
  calls_object: [
    JSON.stringify({ toolCall: { functionCalls: { first: { id: 'call-1', name: 'echo', args: {} } } } }),
  ],
  // 3 bytes of 16-bit PCM (one sample and a half)
  odd_audio: [
    JSON.stringify({ serverContent: { modelTurn: { parts: [
      { inlineData: { mimeType: 'audio/pcm;rate=24000', data: Buffer.from([1, 0, 2]).toString('base64') } },
    ] } } }),
    JSON.stringify(turnComplete),
  ],
  // a sample rate no audio device has
  absurd_rate: [
    JSON.stringify({ serverContent: { modelTurn: { parts: [
      { inlineData: { mimeType: 'audio/pcm;rate=1e20', data: Buffer.from([1, 0, 2, 0]).toString('base64') } },
    ] } } }),
    JSON.stringify(turnComplete),
  ],
  // two calls in one toolCall; the first one's arguments hold invalid UTF-8 (bytes ff fe)
  args_bad_utf8: [
    Buffer.concat([
      Buffer.from('{"toolCall":{"functionCalls":[{"id":"call-1","name":"echo","args":{"text":"'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}},{"id":"call-2","name":"ok","args":{}}]}}'),
    ]),
  ],
  // two calls; the first one's arguments hold a number beyond a double (1e400 = infinity)
  args_1e400: [
    '{"toolCall":{"functionCalls":[{"id":"call-1","name":"echo","args":{"n":1e400}},'
      + '{"id":"call-2","name":"ok","args":{}}]}}',
  ],
};

// A mode that answers setupComplete and then sends frames[name] (binary frames, as the
// real service sends its JSON).
const sendFrames = (name) => ({
  about: `after setupComplete, sends the \`${name}\` message(s) of lib/modes.js \`frames\``,
  setup(c) {
    c.setupComplete();
    for (const f of frames[name]) c.send(f);
  },
});

// Sends each of a comma-separated list of base64url payloads as a binary frame.
function sendList(c, list) {
  for (const f of (list || '').split(',').filter(Boolean)) c.send(Buffer.from(f, 'base64url'));
}

const modes = {
  setup_ok: {
    about: 'answers setupComplete; then answers text with text and tool results with a turn',
  },

  flood_tiny: {
    about: 'after setupComplete, sends `n` (default 200000) `{}` text frames in one write',
    setup(c) {
      c.setupComplete();
      const n = int(c.params.n, 200000);
      const one = encode(OP.text, '{}');
      c.sendRaw(Buffer.concat(new Array(n).fill(one)), n);
      c.note(`flooded ${n} frames`);
    },
  },

  flood_mixed: {
    about: 'after setupComplete, sends `n` (default 20000) text messages whose sizes cycle through '
      + '2 B, 200 B, 2 KB, 20 KB and 64 KB, in one write',
    setup(c) {
      c.setupComplete();
      const n = int(c.params.n, 20000);
      const sizes = [2, 200, 2000, 20000, 64000];
      const bodies = sizes.map((k) => encode(OP.text, k === 2 ? '{}' : `{"p":"${'x'.repeat(k - 8)}"}`));
      const frames = [];
      for (let i = 0; i < n; i++) frames.push(bodies[i % bodies.length]);
      c.sendRaw(Buffer.concat(frames), n);
      c.note(`flooded ${n} mixed frames`);
    },
  },

  never_read: {
    about: 'after setupComplete, stops reading the socket for good (pings go unanswered)',
    setup(c) {
      c.setupComplete();
      c.stopReading();
    },
  },

  bad_utf8: {
    about: 'after setupComplete, a text frame whose text part holds invalid UTF-8 (ff fe)',
    setup(c) {
      c.setupComplete();
      c.send(Buffer.concat([
        Buffer.from('{"serverContent":{"modelTurn":{"parts":[{"text":"'),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('"}]}}}'),
      ]), { opcode: OP.text });
    },
  },

  masked: {
    about: 'after setupComplete, a masked server frame (a valid text message otherwise)',
    setup(c) {
      c.setupComplete();
      c.send(JSON.stringify(text('masked')), { mask: true });
    },
  },

  oversize: {
    about: 'after setupComplete, one binary message of `bytes` (default 200000) bytes',
    setup(c) {
      c.setupComplete();
      c.send(`{"p":"${'x'.repeat(Math.max(int(c.params.bytes, 200000) - 8, 0))}"}`);
    },
  },

  fake_setup: {
    about: 'answers the setup with a serverContent whose text is "setupComplete", never a real one',
    setup(c) {
      c.send(JSON.stringify(text('setupComplete')));
    },
  },

  flap: {
    about: 'answers setupComplete, then drops the TCP connection at once (no close frame), every time; '
      + 'with `handle`, a resumable handle goes out before the drop',
    setup(c) {
      c.setupComplete();
      if (c.params.handle !== undefined)
        c.sendJson({ sessionResumptionUpdate: { newHandle: `flap-${c.id}`, resumable: true } });
      c.drop();
    },
  },

  talk_on_close: {
    about: 'after setupComplete, sends a text message every `every` ms (default 10), and goes on '
      + 'for `linger` ms (default 300) after the client\'s close frame before closing back',
    setup(c) {
      c.setupComplete();
      let k = 0;
      c.every(int(c.params.every, 10), () => c.send(JSON.stringify(text(`talk ${++k}`))));
    },
    close(c, code, reason) {
      c.after(int(c.params.linger, 300), () => {
        c.stopTimers();
        c.close(code, reason);
      });
    },
  },

  handle_on_close: {
    about: 'after setupComplete, a resumable handle `before`, then `n` (default 100) text messages '
      + 'of 2 KB; `linger` ms (default 0) after the client\'s close frame, a resumable handle '
      + '`during`, then it closes back',
    setup(c) {
      c.setupComplete();
      c.sendJson({ sessionResumptionUpdate: { newHandle: 'before', resumable: true } });
      const n = int(c.params.n, 100);
      const one = encode(OP.text, `{"p":"${'x'.repeat(2000)}"}`);
      c.sendRaw(Buffer.concat(new Array(n).fill(one)), n);
    },
    close(c, code, reason) {
      c.after(int(c.params.linger, 0), () => {
        c.sendJson({ sessionResumptionUpdate: { newHandle: 'during', resumable: true } });
        c.close(code, reason);
      });
    },
  },

  own_close: {
    about: 'after setupComplete, stops reading; `after` ms (default 300) later closes with its own '
      + '`code` (default 1011) and reason, as a service does at its deadline, and reads again '
      + '(discarding) so the close is not cut by a reset; with `answer`, answers a client close '
      + 'with that code instead',
    setup(c) {
      c.setupComplete();
      const code = int(c.params.code, 1011);
      if (c.params.answer !== undefined) return;
      c.stopReading();
      c.after(int(c.params.after, 300), () => {
        c.close(code, 'Deadline expired before operation could complete.');
        c.socket.on('data', () => {});
        c.socket.resume();
      });
    },
    close(c) {
      if (c.params.answer !== undefined) c.close(int(c.params.code, 1011), 'Deadline expired before operation could complete.');
    },
  },

  no_close_reply: {
    about: 'answers setupComplete; never answers a close frame (the socket stays open)',
    close() {},
  },

  break_on_close: {
    about: 'answers setupComplete; breaks the connection under the WebSocket on the client\'s '
      + 'close frame, before answering it, or with `after`, `after` ms after setupComplete, having '
      + 'stopped reading (so a client close still writes): `how=garbage` (default) writes a '
      + 'record that cannot decrypt on the TCP stream beneath TLS and reads on (discarding), '
      + 'with `deaf` goes on reading nothing, `how=reset` resets the TCP connection (RST)',
    setup(c) {
      c.setupComplete();
      if (c.params.after === undefined) return;
      c.stopReading();
      c.after(int(c.params.after, 300), () => breakConnection(c));
    },
    close(c) {
      breakConnection(c);
    },
  },

  close_reason: {
    about: 'closes with `code` (default 1000; `none`: an empty close frame) and reason bytes '
      + '`reason_hex` (default c328ff, not UTF-8), after setupComplete (`when=setup`, default) or '
      + 'at once (`when=connect`)',
    connected(c) {
      if (c.params.when === 'connect') c.close(closeCode(c), hex(c.params.reason_hex, 'c328ff'));
    },
    setup(c) {
      if (c.params.when === 'connect') return;
      c.setupComplete();
      c.close(closeCode(c), hex(c.params.reason_hex, 'c328ff'));
    },
  },

  ping: {
    about: 'after setupComplete, one ping per size in `sizes` (default 125,0,3; payload byte i is '
      + '(7i + size) mod 256, not UTF-8), `every` ms (default 100; 0: in one write); the pongs '
      + 'that come back are logged (`pongs`)',
    setup(c) {
      c.setupComplete();
      const sizes = (c.params.sizes || '125,0,3').split(',').map((v) => int(v, 0));
      const every = int(c.params.every, 100);
      if (every === 0) {
        c.sendRaw(Buffer.concat(sizes.map((n) => encode(OP.ping, pingPayload(n)))), sizes.length);
        return;
      }
      sizes.forEach((n, i) => c.after(every * (i + 1), () => c.sendRaw(encode(OP.ping, pingPayload(n)))));
    },
  },

  void_calls: {
    about: 'a resumable handle, then one toolCall (ids: `ids`, dot-separated base64url JSON '
      + 'string texts, `-` for a call without one; or `n` calls c1..cN) of `name` (echo); '
      + '`drop` ms (30) after the first toolResponse, drops the TCP connection; a resumed '
      + 'connection (setup with a handle) is the tiny model, which with `again` (the same '
      + 'spelling as `ids`) first makes those calls of `name`, 50 ms after setupComplete',
    setup(c, msg) {
      c.setupComplete();
      const name = JSON.stringify(c.params.name || 'echo');
      const toolCall = (list) => {
        const ids = list.split('.').filter(Boolean)
          .map((x) => (x === '-' ? null : `"${Buffer.from(x, 'base64url').toString('utf8')}"`));
        const calls = ids.map((id) => `{${id === null ? '' : `"id":${id},`}"name":${name},"args":{}}`);
        return `{"toolCall":{"functionCalls":[${calls.join(',')}]}}`;
      };
      const sr = msg && msg.setup && (msg.setup.sessionResumption || msg.setup.session_resumption);
      if (sr && sr.handle) {
        c.note(`resumed from ${sr.handle}`);
        if (c.params.again) c.after(50, () => c.send(toolCall(c.params.again)));
        return;
      }
      c.voidFirst = true;
      c.sendJson({ sessionResumptionUpdate: { newHandle: `void-${c.id}`, resumable: true } });
      const text = c.params.n !== undefined
        ? toolCall(Array.from({ length: int(c.params.n, 0) },
          (_, i) => Buffer.from(`c${i + 1}`).toString('base64url')).join('.'))
        : toolCall(c.params.ids || '');
      // the ids go out as written (escapes kept), after the handle: the handle does not hold them
      c.after(50, () => c.send(text));
    },
    message(c, msg) {
      if (c.voidFirst && msg && msg.toolResponse) {
        if (c.dropping) return;
        c.dropping = true;
        c.note('toolResponse: dropping');
        c.after(int(c.params.drop, 30), () => c.drop());
        return;
      }
      if (!c.voidFirst) c.model(msg);
    },
  },

  digest: {
    about: 'answers each text input with `got <bytes> <sha256 hex of the text>` (or '
      + '`unparsable <bytes>`) and turnComplete; after setupComplete, pings every `ping_every` '
      + 'ms (none by default), `pings` of them (1000), and with `pause`, stops reading that many ms',
    setup(c) {
      c.setupComplete();
      const every = int(c.params.ping_every, 0);
      if (every > 0) {
        let left = int(c.params.pings, 1000);
        c.every(every, () => { if (left-- > 0) c.sendRaw(encode(OP.ping, `p${left}`)); });
      }
      const pause = int(c.params.pause, 0);
      if (pause > 0) {
        c.note('paused reading');
        c.socket.pause();
        c.after(pause, () => { c.note('read again'); c.socket.resume(); });
      }
    },
    message(c, msg, raw) {
      const t = msg && msg.realtimeInput && msg.realtimeInput.text;
      if (typeof t !== 'string') {
        c.sendJson(text(`unparsable ${raw.length}`));
      } else {
        const sum = crypto.createHash('sha256').update(t, 'utf8').digest('hex');
        c.sendJson(text(`got ${Buffer.byteLength(t)} ${sum}`));
      }
      c.sendJson(turnComplete);
    },
  },

  refuse: {
    about: 'refuses the upgrade with HTTP `status` (503) and a Google API error body (or `body`; '
      + '`pad` bytes longer), `how`: whole, cut (50 bytes fewer than announced, then the end), '
      + 'cut_open (the same, connection kept open), chunked, chunked_bad (a first size line that '
      + 'is no number), drip (in writes of `piece` bytes, `every` ms apart)',
    upgrade: refuseUpgrade,
  },

  no_answer: {
    about: 'never answers the upgrade: ends the connection (over TLS with close_notify), or with '
      + '`how=garbage` writes a record that cannot decrypt under TLS (the raw bytes without it)',
    upgrade(socket, params) {
      if (params.how !== 'garbage') {
        socket.end();
        return;
      }
      const raw = socket._parent || socket;
      raw.write(Buffer.concat([Buffer.from([0x17, 0x03, 0x03, 0x00, 0x20]), Buffer.alloc(32, 0xa5)]));
      socket.on('data', () => {});
    },
  },

  send: {
    about: 'after setupComplete, sends each of `frames` (comma-separated base64url payloads) '
      + 'as a binary frame; with `handle`, a resumable handle first, and with `drop`, drops the '
      + 'TCP connection after them; a resumed connection (setup with a handle) sends `resumed` '
      + '(the same spelling) instead, and is the tiny model; with `next`, the first client '
      + 'message after the setup brings those frames (then the tiny model answers)',
    setup(c, msg) {
      c.setupComplete();
      const sr = msg && msg.setup && (msg.setup.sessionResumption || msg.setup.session_resumption);
      const resumed = Boolean(sr && sr.handle);
      if (resumed) c.note(`resumed from ${sr.handle}`);
      else if (c.params.handle !== undefined)
        c.sendJson({ sessionResumptionUpdate: { newHandle: `send-${c.id}`, resumable: true } });
      sendList(c, resumed ? c.params.resumed : c.params.frames);
      if (!resumed && c.params.drop !== undefined) c.drop();
    },
    // `next`: frames held until the client says something, so that a spec can read what
    // the first ones did before the rest come
    message(c, msg) {
      if (c.params.next === undefined || c.nextSent) {
        c.model(msg);
        return;
      }
      c.nextSent = true;
      sendList(c, c.params.next);
    },
  },
};

for (const name of Object.keys(frames)) modes[name] = sendFrames(name);

module.exports = { modes, frames, text, turnComplete, pingPayload, interimAnswers };
