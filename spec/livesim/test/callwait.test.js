'use strict';
// Realtime input while the model waits for a blocking function call's result: the service closes
// the connection with 1008 (behaviour inputDuringCall "close", the default); NON_BLOCKING calls,
// answered or cancelled calls and text turns sent as clientContent do not count. With
// inputDuringCall "interrupt" such input cancels the calls instead, as the simulator used to do.
const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('../harness/sim');

let sim;
let gemini;
let vertex;
test.before(async () => {
  sim = await h.startSim(['--pace', 'fast', '--voice', 'tone', '--bearer', 'test-bearer']);
  gemini = h.geminiClient(sim.base);
  vertex = h.vertexClient(sim.base);
});
test.after(() => sim.stop());

const VERTEX_MODEL = 'gemini-live-2.5-flash-native-audio';
const REASON = 'Operation is not implemented, or supported, or enabled.';
const tools = (behavior) => [{ functionDeclarations: [{ name: 'book_table', behavior }] }];
const noVad = { automaticActivityDetection: { disabled: true } };
const speech = () => [...h.pcmChunks(300), ...h.pcmChunks(600, { amplitude: 0 })];

async function callBooking(s) {
  s.session.sendRealtimeInput({ text: 'call book_table {}' });
  const tc = await s.waitFor((m) => m.toolCall);
  return tc.toolCall.functionCalls[0];
}

// The close of `s`, or a failure if the connection stays open (so a missing close fails the
// test instead of hanging the run).
function closed(s) {
  let timer;
  const limit = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('the connection stayed open')), 8000); });
  return Promise.race([s.closed, limit]).finally(() => clearTimeout(timer));
}

// Expects the 1008 close, and the connection record saying which input met which call.
async function assertRefused(s, members, calls) {
  assert.deepEqual(await closed(s), { code: 1008, reason: REASON });
  const c = await h.lastConnection(sim);
  assert.equal(c.closeCode, 1008);
  assert.equal(c.closedBy, 'server');
  assert.deepEqual(c.inputDuringCall.members, members);
  assert.deepEqual(c.inputDuringCall.calls, calls);
}

// An audio turn after which the connection must still be open and answering.
async function assertAudioAnswered(s) {
  const from = s.msgs.length;
  h.sendAudio(s.session, speech());
  const done = await s.waitFor((m) => m.text === 'You said: hello.', { from });
  assert.ok(done);
  const c = await h.lastConnection(sim);
  assert.equal(c.closeCode, null);
  assert.equal(c.inputDuringCall, null);
}

const gated = [
  ['audio', {}, (s) => h.sendAudio(s.session, h.pcmChunks(20))],
  ['video', {}, (s) => s.session.sendRealtimeInput({ video: { data: 'AAAA', mimeType: 'image/jpeg' } })],
  ['text', {}, (s) => s.session.sendRealtimeInput({ text: 'never mind' })],
  ['mediaChunks', {}, (s) => s.session.sendRealtimeInput({ media: { data: h.pcmChunks(20)[0], mimeType: 'audio/pcm;rate=16000' } })],
  ['audioStreamEnd', {}, (s) => s.session.sendRealtimeInput({ audioStreamEnd: true })],
  ['activityStart', { realtimeInputConfig: noVad }, (s) => s.session.sendRealtimeInput({ activityStart: {} })],
  ['activityEnd', { realtimeInputConfig: noVad }, (s) => s.session.sendRealtimeInput({ activityEnd: {} })],
];

for (const [member, config, send] of gated) {
  test(`Gemini: realtimeInput.${member} while a blocking call is pending closes 1008`, async () => {
    const s = await h.open(gemini, { config: { responseModalities: ['TEXT'], tools: tools(), ...config } });
    const call = await callBooking(s);
    send(s);
    await assertRefused(s, [member], [call.id]);
  });
}

test('the refused message is not consumed', async () => {
  const s = await h.open(gemini, { config: { responseModalities: ['TEXT'], tools: tools('BLOCKING') } });
  await callBooking(s);
  s.session.sendRealtimeInput({ text: 'never mind' });
  await closed(s);
  const c = await h.lastConnection(sim);
  const session = await sim.control('GET', `/sessions/${c.sessionId}`);
  assert.deepEqual(session.consumed.map((m) => m.type), ['setup', 'text']);
  assert.equal(c.inputDuringCall.messageIndex, 2);
});

test('a malformed realtimeInput is still refused as such (1007), before the pending call counts', async () => {
  const s = await h.open(gemini, { config: { responseModalities: ['TEXT'], tools: tools() } });
  await callBooking(s);
  s.session.sendRealtimeInput({ audio: { data: 42, mimeType: 'audio/pcm;rate=16000' } });
  const e = await closed(s);
  assert.equal(e.code, 1007);
  assert.equal((await h.lastConnection(sim)).inputDuringCall, null);
});

test('Vertex: audio while a blocking call is pending closes 1008', async () => {
  const s = await h.open(vertex, { model: VERTEX_MODEL, config: { responseModalities: ['TEXT'], tools: tools() } });
  const call = await callBooking(s);
  h.sendAudio(s.session, h.pcmChunks(20));
  await assertRefused(s, ['audio'], [call.id]);
});

test('Vertex partialArgs: the call is pending from its first piece', async () => {
  await sim.control('POST', '/next', { behaviour: { partialArgs: true } });
  const s = await h.open(vertex, { model: VERTEX_MODEL, config: { responseModalities: ['TEXT'], tools: tools() } });
  s.session.sendRealtimeInput({ text: 'call book_table {"note": "window seat"}' });
  const first = await s.waitFor((m) => m.toolCall);
  assert.equal(first.toolCall.functionCalls[0].willContinue, true, 'the announcing piece');
  h.sendAudio(s.session, h.pcmChunks(20));
  await assertRefused(s, ['audio'], [first.toolCall.functionCalls[0].id]);
});

test('after the toolResponse, audio is answered', async () => {
  const s = await h.open(gemini, { config: { responseModalities: ['TEXT'], tools: tools() } });
  const call = await callBooking(s);
  s.session.sendToolResponse({ functionResponses: [{ id: call.id, name: 'book_table', response: { ok: true } }] });
  await assertAudioAnswered(s);
  s.session.close();
});

test('a NON_BLOCKING call does not hold realtime input', async () => {
  const s = await h.open(gemini, { config: { responseModalities: ['TEXT'], tools: tools('NON_BLOCKING') } });
  const call = await callBooking(s);
  await s.turnComplete();
  assert.deepEqual((await h.lastConnection(sim)).pendingCalls, [call.id], 'the call is still open');
  await assertAudioAnswered(s);
  s.session.close();
});

test('a clientContent text turn cancels the pending call; audio after that is answered', async () => {
  const s = await h.open(gemini, { config: { responseModalities: ['TEXT'], tools: tools() } });
  const call = await callBooking(s);
  s.session.sendClientContent({ turns: 'Never mind', turnComplete: true });
  const cancel = await s.waitFor((m) => m.toolCallCancellation);
  assert.deepEqual(cancel.toolCallCancellation.ids, [call.id]);
  await s.turnComplete({ from: s.msgs.indexOf(cancel) });
  assert.equal(h.texts(s.msgs), 'You said: Never mind.');
  await assertAudioAnswered(s);
  s.session.close();
});

test('inputDuringCall "interrupt": audio during a blocking call cancels it, as before', async () => {
  await sim.control('POST', '/next', { behaviour: { inputDuringCall: 'interrupt' } });
  const s = await h.open(gemini, { config: { responseModalities: ['TEXT'], tools: tools() } });
  const call = await callBooking(s);
  assert.equal((await h.lastConnection(sim)).behaviour.inputDuringCall, 'interrupt');
  h.sendAudio(s.session, speech());
  const cancel = await s.waitFor((m) => m.toolCallCancellation);
  assert.deepEqual(cancel.toolCallCancellation.ids, [call.id]);
  await s.waitFor((m) => m.text === 'You said: hello.');
  s.session.close();
});

test('inputDuringCall: the default is "close"; other values are refused', async () => {
  assert.equal((await sim.control('GET', '/defaults')).inputDuringCall, 'close');
  await assert.rejects(sim.control('POST', '/next', { behaviour: { inputDuringCall: 'ignore' } }), /400[\s\S]*inputDuringCall must be close or interrupt/);
});
