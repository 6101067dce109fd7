'use strict';
// Faults injected on demand into one connection: network and server failures a client must
// survive. A fault is {type, ...params}; see README.md ("Faults") for every parameter.
const { encode } = require('./frames');

// Types that happen once, at a trigger point, versus modifiers that shape the whole connection.
const ONE_SHOT = new Set(['drop', 'close', 'malformed', 'oversize', 'stall']);
const MODIFIERS = new Set(['fragment', 'delay']);
const WHEN = new Set(['now', 'connect', 'setup', 'turn']);

function normalise(spec, { live }) {
  if (!spec || typeof spec !== 'object') throw new Error('fault must be an object');
  const f = { ...spec };
  if (f.type === 'refuse') {
    if (live) throw new Error('refuse applies to the handshake of a next connection only');
    f.status = Number(f.status || 503);
    if (!(f.status >= 400 && f.status <= 599)) throw new Error('refuse.status must be 400..599');
    if (f.body !== undefined && typeof f.body !== 'string') f.body = JSON.stringify(f.body);
    if (f.body === undefined) {
      f.body = JSON.stringify({ error: { code: f.status, message: 'The service is currently unavailable.', status: 'UNAVAILABLE' } });
    }
    return f;
  }
  if (MODIFIERS.has(f.type)) {
    if (f.type === 'fragment') f.size = Math.max(1, Number(f.size || 16));
    if (f.type === 'delay') {
      f.ms = Math.max(0, Number(f.ms || 0));
      f.setup = f.setup === true;
    }
    return f;
  }
  if (!ONE_SHOT.has(f.type)) throw new Error(`unknown fault type ${JSON.stringify(f.type)}`);
  f.when = f.when || (live ? 'now' : 'turn');
  if (!WHEN.has(f.when)) throw new Error(`unknown fault trigger ${JSON.stringify(f.when)}`);
  f.afterFrames = Math.max(1, Number(f.afterFrames || 1));
  if (f.type === 'close') {
    f.code = Number(f.code || 1011);
    f.reason = f.reason === undefined ? 'Internal error occurred.' : String(f.reason);
  }
  if (f.type === 'oversize') f.bytes = Math.max(1, Number(f.bytes || 1048576));
  return f;
}

// Carries out a one-shot fault on a live connection.
function fire(conn, f) {
  conn.record.faultsFired.push({ type: f.type, at: Date.now() });
  switch (f.type) {
    case 'drop':
      // No close frame: the peer sees the TCP connection vanish (1006 on its side).
      conn.markClosed(1006, 'dropped by fault', 'server');
      conn.ws._socket.destroy();
      return;
    case 'close':
      conn.closeWith(f.code, f.reason);
      return;
    case 'malformed':
      conn.sendFrame(Buffer.from('{\n  "serverContent": {\n    "modelTurn": {\n      "parts": [\n        {\n          "text": "unterminated\n', 'utf8'));
      return;
    case 'oversize': {
      // A well-formed frame, just larger than the client may accept: silent audio padding.
      const base = encode({ serverContent: { modelTurn: { parts: [{ inlineData: { mimeType: 'audio/pcm;rate=24000', data: '' } }] } } });
      const pad = Math.ceil((f.bytes - base.length + 1) / 4) * 4;
      conn.sendFrame(encode({ serverContent: { modelTurn: { parts: [{ inlineData: { mimeType: 'audio/pcm;rate=24000', data: 'A'.repeat(Math.max(4, pad)) } }] } } }));
      return;
    }
    case 'stall':
      conn.stall();
      return;
    default:
      throw new Error(`not a one-shot fault: ${f.type}`);
  }
}

module.exports = { normalise, fire, ONE_SHOT, MODIFIERS };
