'use strict';
// Faults chosen through the control API, observed from the SDK (and from a raw ws client where
// the SDK hides the detail: fragments, pings, HTTP refusal bodies).
const test = require('node:test');
const assert = require('node:assert/strict');
const WebSocket = require('ws');
const h = require('../harness/sim');

let sim;
let ai;
test.before(async () => {
  sim = await h.startSim(['--pace', 'fast', '--voice', 'tone']);
  ai = h.geminiClient(sim.base);
});
test.after(() => sim.stop());

const GEMINI_PATH = '/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=test-key';
const config = { outputAudioTranscription: {} };

test('drop: the TCP connection vanishes mid-turn without a close frame', async () => {
  await sim.control('POST', '/next', { fault: { type: 'drop', afterFrames: 3 } });
  const s = await h.open(ai, { config });
  s.session.sendRealtimeInput({ text: 'hello there' });
  const e = await s.closed;
  assert.equal(e.code, 1006);
  assert.ok(!s.msgs.some((m) => m.serverContent && m.serverContent.turnComplete));
  assert.ok(s.msgs.some((m) => m.data), 'some output arrived before the drop');
  const [c] = (await sim.control('GET', '/connections')).slice(-1);
  assert.deepEqual(c.faultsFired.map((f) => f.type), ['drop']);
});

test('close: 1011 Internal error occurred. mid-turn', async () => {
  await sim.control('POST', '/next', { fault: { type: 'close' } });
  const s = await h.open(ai, { config });
  s.session.sendRealtimeInput({ text: 'hello' });
  assert.deepEqual(await s.closed, { code: 1011, reason: 'Internal error occurred.' });
});

test('close on a live connection, chosen by id, with any code', async () => {
  const s = await h.open(ai, { config });
  const [c] = (await sim.control('GET', '/connections?state=open')).slice(-1);
  await sim.control('POST', `/connections/${c.id}`, { fault: { type: 'close', code: 1011, reason: 'The service is currently unavailable.' } });
  assert.deepEqual(await s.closed, { code: 1011, reason: 'The service is currently unavailable.' });
});

// The SDK parses frames in a detached promise, so a malformed frame surfaces in an
// application only as an unhandled rejection; a raw client shows exactly what was sent.
test('malformed JSON frame, then the connection goes on', async () => {
  await sim.control('POST', '/next', { fault: { type: 'malformed', when: 'setup' } });
  const ws = new WebSocket(sim.base.replace('http', 'ws') + GEMINI_PATH);
  const frames = [];
  ws.on('message', (d, isBinary) => frames.push({ text: d.toString(), isBinary }));
  ws.on('open', () => ws.send(JSON.stringify({ setup: { model: 'models/m', generationConfig: { responseModalities: ['TEXT'] } } })));
  while (frames.length < 2) await h.sleep(10);
  assert.deepEqual(JSON.parse(frames[0].text), { setupComplete: {} });
  assert.equal(frames[1].isBinary, true);
  assert.throws(() => JSON.parse(frames[1].text), SyntaxError);
  ws.send(JSON.stringify({ realtimeInput: { text: 'still there?' } }));
  while (!frames.some((f) => f.text.includes('turnComplete'))) await h.sleep(10);
  ws.close();
});

test('oversize frame: the SDK accepts it, a client with a 1 MiB limit closes 1009', async () => {
  await sim.control('POST', '/next', { fault: { type: 'oversize', bytes: 2000000 } });
  const s = await h.open(ai, { config });
  s.session.sendRealtimeInput({ text: 'hello' });
  const big = await s.waitFor((m) => m.data && m.serverContent.modelTurn.parts[0].inlineData.data.length > 1900000);
  assert.ok(big);
  s.session.close();

  await sim.control('POST', '/next', { fault: { type: 'oversize', bytes: 1048577, when: 'setup' } });
  const ws = new WebSocket(sim.base.replace('http', 'ws') + GEMINI_PATH, { maxPayload: 1 << 20 });
  const error = new Promise((r) => ws.on('error', r));
  ws.on('open', () => ws.send(JSON.stringify({ setup: { model: 'models/m' } })));
  assert.equal((await error).code, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
  await new Promise((r) => ws.on('close', r));
  await h.sleep(50);
  const [c] = (await sim.control('GET', '/connections')).slice(-1);
  assert.equal(c.closeCode, 1009, 'the client closed with 1009 (message too big)');
});

test('fragment: frames arrive in small WebSocket fragments and still parse', async () => {
  await sim.control('POST', '/next', { fault: { type: 'fragment', size: 7 } });
  const ws = new WebSocket(sim.base.replace('http', 'ws') + GEMINI_PATH);
  const raw = [];
  const msgs = [];
  ws.on('open', () => {
    ws._socket.on('data', (d) => raw.push(d));
    ws.send(JSON.stringify({ setup: { model: 'models/m' } }));
  });
  ws.on('message', (d) => msgs.push(JSON.parse(d.toString())));
  await new Promise((r) => ws.on('message', r));
  const bytes = Buffer.concat(raw);
  assert.equal(bytes[0], 0x02, 'first frame: binary opcode without FIN');
  assert.equal(bytes[1], 7, 'payload of 7 bytes');
  assert.equal(bytes[9], 0x00, 'second frame: continuation');
  assert.deepEqual(msgs[0], { setupComplete: {} });
  ws.close();

  await sim.control('POST', '/next', { fault: { type: 'fragment', size: 3 } });
  const s = await h.open(ai, { config });
  s.session.sendRealtimeInput({ text: 'in pieces' });
  await s.turnComplete();
  assert.equal(h.transcript(s.msgs), 'You said: in pieces.');
  s.session.close();
});

test('stall: no more frames and no pongs', async () => {
  await sim.control('POST', '/next', { fault: { type: 'stall', afterFrames: 2 } });
  const s = await h.open(ai, { config });
  s.session.sendRealtimeInput({ text: 'hello' });
  await h.sleep(400);
  assert.ok(!s.msgs.some((m) => m.serverContent && m.serverContent.turnComplete));
  const n = s.msgs.length;
  await h.sleep(200);
  assert.equal(s.msgs.length, n);
  s.session.close();

  await sim.control('POST', '/next', { fault: { type: 'stall', when: 'setup' } });
  const ws = new WebSocket(sim.base.replace('http', 'ws') + GEMINI_PATH);
  ws.on('open', () => ws.send(JSON.stringify({ setup: { model: 'models/m' } })));
  await new Promise((r) => ws.on('message', r));
  let pong = false;
  ws.on('pong', () => { pong = true; });
  await h.sleep(50);
  ws.ping();
  await h.sleep(400);
  assert.equal(pong, false);
  ws.terminate();
});

test('delay: replies start N ms late', async () => {
  await sim.control('POST', '/next', { fault: { type: 'delay', ms: 400 } });
  const s = await h.open(ai, { config });
  const t0 = Date.now();
  s.session.sendRealtimeInput({ text: 'hello' });
  await s.waitFor((m) => m.data);
  assert.ok(Date.now() - t0 >= 390, `first audio after ${Date.now() - t0} ms`);
  s.session.close();
});

test('refuse: the handshake gets an HTTP status and body', async () => {
  await sim.control('POST', '/next', { count: 2, fault: { type: 'refuse', status: 429, body: { error: { code: 429, message: 'Resource has been exhausted (e.g. check quota).', status: 'RESOURCE_EXHAUSTED' } } } });
  const e = await h.openExpectingClose(ai);
  assert.equal(e.code, 1006);
  assert.match(String(e.errors[0] && e.errors[0].message), /429/);
  const ws = new WebSocket(sim.base.replace('http', 'ws') + GEMINI_PATH);
  const res = await new Promise((r) => ws.on('unexpected-response', (req, response) => r(response)));
  let body = '';
  for await (const chunk of res) body += chunk;
  assert.equal(res.statusCode, 429);
  assert.equal(JSON.parse(body).error.status, 'RESOURCE_EXHAUSTED');
  ws.on('error', () => {});
  const next = await h.open(ai);
  next.session.close();
});
