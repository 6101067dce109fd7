'use strict';
// The hostile server does what each mode says, seen by a raw client that reads every byte
// (a WebSocket library would refuse half of what is checked here).

const test = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const net = require('node:net');
const tls = require('node:tls');
const fs = require('node:fs');
const crypto = require('node:crypto');
const { spawn } = require('node:child_process');
const { OP, encode, closePayload, validUtf8 } = require('../lib/frames');

const SERVER = path.join(__dirname, '..', 'server.js');

// Starts the server; resolves { base: 'http(s)://127.0.0.1:P', proc }.
function start(args = []) {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [SERVER, '--port', '0', '--quiet', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /^LISTENING (\S+)\n/.exec(out);
      if (m) resolve({ base: m[1], proc });
    });
    proc.on('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
}

// A raw client: frames() returns what arrived so far, parsed, masked bit and bytes kept.
class Raw {
  static open(base, target, ca) {
    const u = new URL(base);
    return new Promise((resolve, reject) => {
      const sock = u.protocol === 'https:'
        ? tls.connect({ host: u.hostname, port: Number(u.port), ca, servername: 'localhost' })
        : net.connect(Number(u.port), u.hostname);
      const raw = new Raw(sock);
      sock.once(u.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
        sock.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
          + `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      });
      raw.onHead = (head) => (head.startsWith('HTTP/1.1 101') ? resolve(raw) : reject(new Error(head)));
      sock.on('error', reject);
    });
  }

  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.head = null;
    this.list = [];
    this.ended = false;
    sock.on('data', (d) => this.onData(d));
    sock.on('close', () => { this.ended = true; });
  }

  onData(d) {
    this.buf = Buffer.concat([this.buf, d]);
    if (this.head === null) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.head = this.buf.subarray(0, end).toString('latin1');
      this.buf = this.buf.subarray(end + 4);
      this.onHead(this.head);
    }
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      let len = b[1] & 0x7f;
      let off = 2;
      if (len === 126) { if (b.length < 4) return; len = b.readUInt16BE(2); off = 4; }
      if (len === 127) { if (b.length < 10) return; len = Number(b.readBigUInt64BE(2)); off = 10; }
      const masked = (b[1] & 0x80) !== 0;
      const key = masked ? b.subarray(off, off + 4) : null;
      if (masked) off += 4;
      if (b.length < off + len) return;
      const payload = Buffer.from(b.subarray(off, off + len));
      if (masked) for (let i = 0; i < len; i++) payload[i] ^= key[i & 3];
      this.list.push({ opcode: b[0] & 0x0f, masked, payload });
      this.buf = b.subarray(off + len);
    }
  }

  send(opcode, payload) { this.sock.write(encode(opcode, payload, { mask: true })); }
  sendJson(obj) { this.send(OP.text, JSON.stringify(obj)); }

  // Resolves once pred(list) is true (checked every 10 ms), rejects after ms.
  async until(pred, ms = 3000) {
    const t0 = Date.now();
    while (!pred(this.list)) {
      if (Date.now() - t0 > ms) throw new Error(`timed out; got ${this.list.length} frames`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.list;
  }

  texts() { return this.list.filter((f) => f.opcode <= 2).map((f) => f.payload.toString('utf8')); }
  close() { this.sock.destroy(); }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const getJson = (base, p) => fetch(base + p).then((r) => r.json());

test('hostile server modes', async (t) => {
  const { base, proc } = await start();
  t.after(() => proc.kill());
  const open = async (target) => {
    const c = await Raw.open(base, target);
    c.sendJson({ setup: { model: 'models/x' } });
    return c;
  };

  await t.test('setup_ok answers setup, text and a close; /_log records them', async () => {
    const c = await open('/setup_ok/tag=a/ws/google.ai.x');
    await c.until((l) => l.length >= 1);
    assert.deepStrictEqual(JSON.parse(c.list[0].payload), { setupComplete: {} });
    assert.strictEqual(c.list[0].opcode, OP.binary);
    c.sendJson({ realtimeInput: { text: 'hi' } });
    await c.until((l) => l.length >= 3);
    assert.match(c.texts()[1], /You said: hi/);
    assert.match(c.texts()[2], /turnComplete/);
    c.send(OP.close, closePayload(1000, 'bye'));
    await c.until((l) => l.some((f) => f.opcode === OP.close));
    const close = c.list.find((f) => f.opcode === OP.close);
    assert.strictEqual(close.payload.readUInt16BE(0), 1000);
    const [rec] = (await getJson(base, '/_log?tag=a')).connections;
    assert.strictEqual(rec.mode, 'setup_ok');
    assert.deepStrictEqual(rec.setup, { model: 'models/x' });
    assert.strictEqual(rec.messages, 2);
    assert.strictEqual(rec.closeReceived.code, 1000);
    assert.strictEqual(rec.closeReceived.text, 'bye');
    c.close();
  });

  await t.test('flood_tiny sends n tiny text frames', async () => {
    const c = await open('/flood_tiny/n=5000/ws/x');
    await c.until((l) => l.length >= 5001);
    assert.strictEqual(c.list.length, 5001);
    assert.ok(c.list.slice(1).every((f) => f.opcode === OP.text && f.payload.toString() === '{}'));
    c.close();
  });

  await t.test('never_read answers no ping after setup', async () => {
    const c = await open('/never_read/ws/x');
    await c.until((l) => l.length >= 1);
    c.send(OP.ping, 'p');
    await sleep(300);
    assert.strictEqual(c.list.length, 1);
    c.close();
  });

  await t.test('bad_utf8 sends a text frame that is not UTF-8', async () => {
    const c = await open('/bad_utf8/ws/x');
    await c.until((l) => l.length >= 2);
    assert.strictEqual(c.list[1].opcode, OP.text);
    assert.strictEqual(validUtf8(c.list[1].payload), false);
    c.close();
  });

  await t.test('masked sends a masked frame', async () => {
    const c = await open('/masked/ws/x');
    await c.until((l) => l.length >= 2);
    assert.strictEqual(c.list[0].masked, false);
    assert.strictEqual(c.list[1].masked, true);
    assert.match(c.list[1].payload.toString(), /"masked"/);
    c.close();
  });

  await t.test('fake_setup never sends setupComplete', async () => {
    const c = await open('/fake_setup/ws/x');
    await c.until((l) => l.length >= 1);
    await sleep(200);
    assert.strictEqual(c.list.length, 1);
    const msg = JSON.parse(c.list[0].payload);
    assert.strictEqual(msg.setupComplete, undefined);
    assert.strictEqual(msg.serverContent.modelTurn.parts[0].text, 'setupComplete');
    c.close();
  });

  await t.test('flap drops the connection after setupComplete, without a close frame', async () => {
    for (let i = 0; i < 2; i++) {
      const c = await open('/flap/tag=f/ws/x');
      await c.until(() => c.ended);
      assert.deepStrictEqual(c.list.map((f) => f.opcode), [OP.binary]);
    }
    const list = (await getJson(base, '/_log?tag=f')).connections;
    assert.strictEqual(list.length, 2);
  });

  await t.test('talk_on_close talks on after the close frame, then closes back', async () => {
    const c = await open('/talk_on_close/every=5/linger=100/tag=tc/ws/x');
    await c.until((l) => l.length >= 4);
    c.send(OP.close, closePayload(1000, ''));
    const before = c.list.length;
    await c.until((l) => l.some((f) => f.opcode === OP.close));
    assert.ok(c.list.length - 1 > before, 'messages after the close frame');
    const [rec] = (await getJson(base, '/_log?tag=tc')).connections;
    assert.strictEqual(rec.closeReceived.code, 1000);
    assert.strictEqual(rec.closeSent.code, 1000);
    c.close();
  });

  await t.test('no_close_reply leaves a close frame unanswered', async () => {
    const c = await open('/no_close_reply/ws/x');
    await c.until((l) => l.length >= 1);
    c.send(OP.close, closePayload(1000, ''));
    await sleep(300);
    assert.strictEqual(c.list.some((f) => f.opcode === OP.close), false);
    assert.strictEqual(c.ended, false);
    c.close();
  });

  await t.test('oversize sends one message of `bytes` bytes', async () => {
    const c = await open('/oversize/bytes=70000/ws/x');
    await c.until((l) => l.length >= 2);
    assert.strictEqual(c.list[1].opcode, OP.binary);
    assert.strictEqual(c.list[1].payload.length, 70000);
    c.close();
  });

  await t.test('mute leaves a close frame unanswered in any mode', async () => {
    const c = await open('/bad_utf8/mute=1/ws/x');
    await c.until((l) => l.length >= 2);
    c.send(OP.close, closePayload(1007, ''));
    await sleep(300);
    assert.strictEqual(c.list.some((f) => f.opcode === OP.close), false);
    assert.strictEqual(c.ended, false);
    c.close();
  });

  await t.test('break_on_close answers a close frame with bytes that are no frame, or a reset', async () => {
    const g = await open('/break_on_close/tag=bg/ws/x');
    await g.until((l) => l.length >= 1);
    g.send(OP.close, closePayload(1000, ''));
    // the garbage's first 5 bytes (17 03 03 00 20) read as a frame of opcode 7, 3 bytes
    await g.until((l) => l.some((f) => f.opcode === 7));
    assert.strictEqual(g.list.find((f) => f.opcode === 7).payload.toString('hex'), '030020');
    assert.strictEqual(g.list.some((f) => f.opcode === OP.close), false);
    const [rec] = (await getJson(base, '/_log?tag=bg')).connections;
    assert.ok(rec.notes.some((n) => n.what === 'wrote garbage under the WebSocket'));
    g.close();

    const r = await open('/break_on_close/how=reset/ws/x');
    await r.until((l) => l.length >= 1);
    r.send(OP.close, closePayload(1000, ''));
    const t0 = Date.now();
    while (!r.ended && Date.now() - t0 < 3000) await sleep(10);
    assert.strictEqual(r.ended, true);
    assert.strictEqual(r.list.some((f) => f.opcode === OP.close), false);
  });

  await t.test('break_on_close with deaf goes on reading nothing after the garbage', async () => {
    const d = await open('/break_on_close/after=50/deaf=1/ws/x');
    await d.until((l) => l.some((f) => f.opcode === 7));
    d.sock.write(Buffer.alloc(32 * 1024 * 1024));   // more than loopback holds
    await sleep(500);
    assert.ok(d.sock.writableLength > 0, 'the server read what was written');
    d.sock.destroy();
  });

  await t.test('close_reason closes with the code and bytes asked for', async () => {
    const c = await open('/close_reason/code=4001/reason_hex=ff00c3/ws/x');
    await c.until((l) => l.some((f) => f.opcode === OP.close));
    const close = c.list.find((f) => f.opcode === OP.close);
    assert.strictEqual(close.payload.readUInt16BE(0), 4001);
    assert.strictEqual(close.payload.subarray(2).toString('hex'), 'ff00c3');
    c.close();
  });

  await t.test('ping pings with the sizes asked for and logs the pongs', async () => {
    const c = await open('/ping/sizes=3,0/every=20/tag=p/ws/x');
    await c.until((l) => l.filter((f) => f.opcode === OP.ping).length >= 2);
    const pings = c.list.filter((f) => f.opcode === OP.ping);
    assert.deepStrictEqual(pings.map((f) => f.payload.toString('hex')), ['030a11', '']);
    for (const f of pings) c.send(OP.pong, f.payload);
    await sleep(200);
    const [rec] = (await getJson(base, '/_log?tag=p')).connections;
    assert.deepStrictEqual(rec.pongs.map((p) => p.hex), ['030a11', '']);
    c.close();
  });

  await t.test('digest pings as asked and answers a fragmented text with its size and hash', async () => {
    const c = await open('/digest/ping_every=5/pings=3/ws/x');
    await c.until((l) => l.filter((f) => f.opcode === OP.ping).length >= 3);
    await sleep(50);
    assert.strictEqual(c.list.filter((f) => f.opcode === OP.ping).length, 3);
    const msg = Buffer.from(JSON.stringify({ realtimeInput: { text: 'héllo' } }));
    c.sock.write(Buffer.concat([encode(OP.text, msg.subarray(0, 7), { fin: false, mask: true }),
      encode(OP.ping, 'x', { mask: true }), encode(OP.cont, msg.subarray(7), { mask: true })]));
    await c.until((l) => l.some((f) => f.opcode === OP.pong));
    const sum = crypto.createHash('sha256').update('héllo').digest('hex');
    await c.until((l) => c.texts().some((x) => x.includes(`got 6 ${sum}`)));
    c.send(OP.text, 'not json');
    await c.until((l) => c.texts().some((x) => x.includes('unparsable 8')));
    c.close();
  });

  await t.test('preset and chosen frames; the mode may come from the query', async () => {
    const c = await open('/ws/x?mode=args_1e400');
    await c.until((l) => l.length >= 2);
    assert.match(c.list[1].payload.toString(), /"n":1e400/);
    c.close();
    const frame = Buffer.from('{"goAway":{"timeLeft":"1s"}}').toString('base64url');
    const d = await open(`/send/frames=${frame},${frame}/ws/x`);
    await d.until((l) => l.length >= 3);
    assert.deepStrictEqual(d.texts().slice(1), ['{"goAway":{"timeLeft":"1s"}}', '{"goAway":{"timeLeft":"1s"}}']);
    d.close();
  });

  await t.test('send with handle and drop: the frames, then the drop; the resumed connection sends its own', async () => {
    const one = Buffer.from('{"a":1}').toString('base64url');
    const two = Buffer.from('{"b":2}').toString('base64url');
    const c = await Raw.open(base, `/send/frames=${one}/handle=1/drop=1/resumed=${two}/tag=sd/ws/x`);
    c.sendJson({ setup: {} });
    await c.until(() => c.ended);
    assert.match(c.texts()[1], /"newHandle":"send-/);
    assert.strictEqual(c.texts()[2], '{"a":1}');
    const d = await Raw.open(base, `/send/frames=${one}/handle=1/drop=1/resumed=${two}/tag=sd/ws/x`);
    d.sendJson({ setup: { sessionResumption: { handle: 'send-1' } } });
    await d.until((l) => l.length >= 2);
    assert.strictEqual(d.texts()[1], '{"b":2}');
    assert.ok(!d.ended);
    d.close();
    const recs = (await getJson(base, '/_log?tag=sd')).connections;
    assert.ok(recs[0].notes.some((n) => n.what === 'dropped the TCP connection'));
    assert.ok(recs[1].notes.some((n) => n.what === 'resumed from send-1'));
  });

  await t.test('send with next: those frames answer the first client message, the tiny model the rest', async () => {
    const one = Buffer.from('{"a":1}').toString('base64url');
    const two = Buffer.from('{"b":2}').toString('base64url');
    const c = await open(`/send/frames=${one}/next=${two},${two}/ws/x`);
    await c.until((l) => l.length >= 2);
    c.sendJson({ realtimeInput: { text: 'one' } });
    await c.until((l) => l.length >= 4);
    c.sendJson({ realtimeInput: { text: 'two' } });
    await c.until((l) => l.length >= 6);
    assert.deepStrictEqual(c.texts().slice(1, 4), ['{"a":1}', '{"b":2}', '{"b":2}']);
    assert.match(c.texts()[4], /You said: two/);
    c.close();
  });

  await t.test('void_calls gives a handle and the calls, and drops after the first answer', async () => {
    const ids = [Buffer.from('a\\"b').toString('base64url'), '-'].join('.');
    const c = await open(`/void_calls/ids=${ids}/tag=v/ws/x`);
    await c.until((l) => l.length >= 3);
    assert.match(c.texts()[1], /"newHandle":"void-/);
    assert.strictEqual(c.texts()[2], '{"toolCall":{"functionCalls":[{"id":"a\\"b","name":"echo","args":{}},'
      + '{"name":"echo","args":{}}]}}');
    c.sendJson({ toolResponse: { functionResponses: [{ id: 'a"b', name: 'echo', response: {} }] } });
    await c.until(() => c.ended);
    const d = await Raw.open(base, '/void_calls/n=2/tag=v/ws/x');
    d.sendJson({ setup: { sessionResumption: { handle: 'void-1' } } });
    await d.until((l) => l.length >= 1);
    d.sendJson({ toolResponse: { functionResponses: [{ id: 'c1', name: 'echo', response: {} }] } });
    await d.until((l) => l.length >= 3);
    assert.match(d.texts()[2], /turnComplete/);
    d.close();
    const recs = (await getJson(base, '/_log?tag=v')).connections;
    assert.ok(recs[0].notes.some((n) => n.what === 'dropped the TCP connection'));
    assert.ok(recs[1].notes.some((n) => n.what === 'resumed from void-1'));
  });

  await t.test('/_token answers the body, status and type it is told, and counts requests', async () => {
    const body = Buffer.from('{"access_token":"a\r\nb"}\xff', 'latin1');
    const r = await fetch(`${base}/_token?status=201&type=text/x&body=${body.toString('base64url')}`,
      { method: 'POST', body: 'grant_type=x' });
    assert.strictEqual(r.status, 201);
    assert.strictEqual(r.headers.get('content-type'), 'text/x');
    assert.deepStrictEqual(Buffer.from(await r.arrayBuffer()), body);
    const plain = await (await fetch(`${base}/_token`)).json();
    assert.strictEqual(plain.access_token, 'hostile-token');
    const seg = await fetch(`${base}/_token/status=403/body=${Buffer.from('no').toString('base64url')}/v1alpha/x`);
    assert.strictEqual(seg.status, 403);
    assert.strictEqual(await seg.text(), 'no');
    assert.strictEqual((await getJson(base, '/_tokens')).requests, 3);
    await assert.rejects(fetch(`${base}/_token/reply=hangup`));
    await assert.rejects(fetch(`${base}/_token/reply=garbage`));
  });

  // What a plain upgrade request to target gets: { text, ended } after the end or ms.
  const rawAnswer = (target, ms) => new Promise((resolve) => {
    const sock = net.connect(Number(new URL(base).port), '127.0.0.1');
    const got = [];
    const done = (ended) => { sock.destroy(); resolve({ text: Buffer.concat(got).toString('latin1'), ended }); };
    const timer = setTimeout(() => done(false), ms);
    sock.on('data', (d) => got.push(d));
    sock.on('end', () => { clearTimeout(timer); done(true); });
    sock.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
      + `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  });

  await t.test('refuse refuses the upgrade whole, cut short or chunked; no_answer never answers', async () => {
    const err = '{"error":{"code":503,"message":"hostile refusal","status":"UNAVAILABLE"}}';
    let r = await rawAnswer('/refuse/ws/x', 2000);
    assert.ok(r.ended);
    assert.match(r.text, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    assert.ok(r.text.endsWith(`Content-Length: ${err.length}\r\n\r\n${err}`), r.text);
    r = await rawAnswer('/refuse/status=401/how=cut/ws/x', 2000);
    assert.ok(r.ended);
    assert.match(r.text, /^HTTP\/1\.1 401 Unauthorized\r\n/);
    assert.ok(r.text.includes(`Content-Length: ${err.length + 50}\r\n`), r.text);  // 401 and 503: the same length
    r = await rawAnswer('/refuse/how=cut_open/ws/x', 300);
    assert.ok(!r.ended);
    assert.ok(r.text.endsWith(`\r\n\r\n${err}`), r.text);
    r = await rawAnswer('/refuse/how=chunked/ws/x', 2000);
    const half = err.length >> 1;
    assert.ok(r.text.endsWith(`Transfer-Encoding: chunked\r\n\r\n${half.toString(16)}\r\n${err.slice(0, half)}\r\n`
      + `${(err.length - half).toString(16)};x=y\r\n${err.slice(half)}\r\n0\r\n\r\n`), r.text);
    const whole = await rawAnswer('/refuse/pad=5000/ws/x', 2000);
    const pieces = [];
    r = await new Promise((resolve) => {
      const sock = net.connect(Number(new URL(base).port), '127.0.0.1');
      sock.on('data', (d) => pieces.push(d));
      sock.on('end', () => { sock.destroy(); resolve(Buffer.concat(pieces).toString('latin1')); });
      sock.write('GET /refuse/pad=5000/how=drip/piece=100/ws/x HTTP/1.1\r\nUpgrade: websocket\r\n\r\n');
    });
    assert.strictEqual(r, whole.text);
    assert.ok(pieces.length > 1 && JSON.parse(r.split('\r\n\r\n')[1]).error.details[0].padding.length === 5000);
    r = await rawAnswer('/no_answer/ws/x', 2000);
    assert.deepStrictEqual(r, { text: '', ended: true });
  });

  await t.test('interim writes 1xx answers before the 101 or the refusal', async () => {
    let r = await rawAnswer('/setup_ok/interim=100.103/ws/x', 300);
    assert.match(r.text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 103 Early Hints\r\nLink: [^\r]+\r\n\r\n/);
    assert.match(r.text, /\r\n\r\nHTTP\/1\.1 101 Switching Protocols\r\n/);
    r = await rawAnswer('/refuse/interim=100/ws/x', 2000);
    assert.match(r.text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 503 Service Unavailable\r\n/);
  });

  await t.test('an unknown mode is refused with 404 and the list of modes', async () => {
    await assert.rejects(Raw.open(base, '/nonsense/ws/x'), /404/);
    const modes = await getJson(base, '/_modes');
    assert.ok(modes.flood_tiny && modes.close_reason && modes.args_bad_utf8);
  });
});

test('hostile server over TLS', { skip: !process.env.RT_SIM_CERTS && 'RT_SIM_CERTS is not set' }, async (t) => {
  // spec/run-tests.sh gives the path from the repository root
  const dir = path.resolve(__dirname, '..', '..', '..', process.env.RT_SIM_CERTS);
  const { base, proc } = await start(['--tls', '--cert', `${dir}/server.pem`, '--key', `${dir}/server.key`]);
  t.after(() => proc.kill());
  assert.match(base, /^https:/);
  const c = await Raw.open(base, '/setup_ok/ws/x', fs.readFileSync(`${dir}/ca.pem`));
  c.sendJson({ setup: {} });
  await c.until((l) => l.length >= 1);
  assert.deepStrictEqual(JSON.parse(c.list[0].payload), { setupComplete: {} });
  c.close();
});
