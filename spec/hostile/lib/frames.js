'use strict';
// WebSocket frames written and read by hand (RFC 6455 §5), so the hostile server can send
// what a real library refuses to: masked server frames, invalid UTF-8 in text frames,
// close reasons that are not UTF-8, thousands of frames in one write.

const crypto = require('node:crypto');

const OP = { cont: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa };
const OP_NAME = Object.fromEntries(Object.entries(OP).map(([k, v]) => [v, k]));

// The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key.
function acceptKey(key) {
  return crypto.createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
}

// One frame: opcode (number), payload (Buffer or string), options:
//   fin (default true), mask (a server must not mask: true sends a masked frame anyway).
function encode(opcode, payload, { fin = true, mask = false } = {}) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload || '', 'utf8');
  const n = data.length;
  const lenBytes = n < 126 ? 0 : n < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + lenBytes + (mask ? 4 : 0));
  head[0] = (fin ? 0x80 : 0) | opcode;
  head[1] = (mask ? 0x80 : 0) | (lenBytes === 0 ? n : lenBytes === 2 ? 126 : 127);
  if (lenBytes === 2) head.writeUInt16BE(n, 2);
  if (lenBytes === 8) head.writeBigUInt64BE(BigInt(n), 2);
  if (!mask) return Buffer.concat([head, data]);
  const key = crypto.randomBytes(4);
  key.copy(head, 2 + lenBytes);
  const body = Buffer.alloc(n);
  for (let i = 0; i < n; i++) body[i] = data[i] ^ key[i & 3];
  return Buffer.concat([head, body]);
}

// A close frame's payload: a 2-byte code and reason bytes (Buffer, or a string as UTF-8).
function closePayload(code, reason) {
  if (code === undefined || code === null) return Buffer.alloc(0);
  const r = Buffer.isBuffer(reason) ? reason : Buffer.from(reason || '', 'utf8');
  const b = Buffer.alloc(2 + r.length);
  b.writeUInt16BE(code, 0);
  r.copy(b, 2);
  return b;
}

// Incremental reader of client frames. feed(chunk) returns the complete frames found:
// { opcode, fin, masked, payload } with the payload unmasked. Throws on a frame larger
// than maxFrame (the server then drops the connection).
class Reader {
  constructor(maxFrame = 64 * 1024 * 1024) {
    this.buf = Buffer.alloc(0);
    this.maxFrame = maxFrame;
  }

  feed(chunk) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out = [];
    for (;;) {
      const f = this.next();
      if (!f) return out;
      out.push(f);
    }
  }

  next() {
    const b = this.buf;
    if (b.length < 2) return null;
    const masked = (b[1] & 0x80) !== 0;
    let len = b[1] & 0x7f;
    let off = 2;
    if (len === 126) {
      if (b.length < 4) return null;
      len = b.readUInt16BE(2);
      off = 4;
    } else if (len === 127) {
      if (b.length < 10) return null;
      const big = b.readBigUInt64BE(2);
      if (big > BigInt(this.maxFrame)) throw new Error(`client frame of ${big} bytes`);
      len = Number(big);
      off = 10;
    }
    if (len > this.maxFrame) throw new Error(`client frame of ${len} bytes`);
    const keyOff = off;
    if (masked) off += 4;
    if (b.length < off + len) return null;
    const payload = Buffer.from(b.subarray(off, off + len));
    if (masked) for (let i = 0; i < len; i++) payload[i] ^= b[keyOff + (i & 3)];
    this.buf = b.subarray(off + len);
    return { opcode: b[0] & 0x0f, fin: (b[0] & 0x80) !== 0, masked, payload };
  }
}

// True when the bytes are well-formed UTF-8 (what RFC 6455 requires of text frames).
function validUtf8(buf) {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(buf);
    return true;
  } catch {
    return false;
  }
}

module.exports = { OP, OP_NAME, acceptKey, encode, closePayload, Reader, validUtf8 };
