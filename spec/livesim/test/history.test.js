'use strict';
// History given as clientContent turns: Gemini's initial history (historyConfig), Vertex
// context turns (turnComplete false), mid-session turns, and the Vertex session id.
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
const TEXT = { responseModalities: ['TEXT'] };
const INITIAL = { historyConfig: { initialHistoryInClientContent: true } };
const turns = [
  { role: 'user', parts: [{ text: 'My name is Ada' }] },
  { role: 'model', parts: [{ text: 'Nice to meet you, Ada' }] },
  { role: 'user', parts: [{ text: 'I live in Paris' }] },
  { role: 'model', parts: [{ text: 'Paris is lovely' }] },
];
const SEEN = 'History: user: My name is Ada; model: Nice to meet you, Ada; user: I live in Paris; model: Paris is lovely.';

test('Gemini initial history: turnComplete true, no model call, and later input sees it', async () => {
  const s = await h.open(gemini, { config: TEXT, setup: INITIAL });
  s.session.sendClientContent({ turns, turnComplete: true });
  await h.sleep(300);
  assert.deepEqual(s.msgs.map(Object.keys), [['setupComplete']], 'history is not answered');
  const c = await h.lastConnection(sim);
  assert.equal(c.turnState, 'idle');
  const session = await sim.control('GET', `/sessions/${c.sessionId}`);
  assert.deepEqual(session.history.map((t) => [t.role, t.text]), turns.map((t) => [t.role, t.parts[0].text]));

  s.session.sendRealtimeInput({ text: 'What is in the history?' });
  await s.turnComplete();
  assert.equal(h.texts(s.msgs), SEEN);
  s.session.close();
});

test('Gemini initial history in several messages: realtime input waits until it is complete', async () => {
  const s = await h.open(gemini, { config: TEXT, setup: INITIAL });
  s.session.sendClientContent({ turns: turns.slice(0, 2), turnComplete: false });
  s.session.sendRealtimeInput({ text: 'Tell me the history' });
  await h.sleep(300);
  assert.equal(s.msgs.length, 1, 'input sent before the history ends is held');
  assert.equal((await h.lastConnection(sim)).turnState, 'awaiting-history');
  s.session.sendClientContent({ turns: turns.slice(2), turnComplete: true });
  await s.turnComplete();
  assert.equal(h.texts(s.msgs), SEEN);
  s.session.close();
});

test('Gemini resumed with historyConfig: input waits for history as in a new session', async () => {
  const config = { ...TEXT, sessionResumption: {} };
  const a = await h.open(gemini, { config, setup: INITIAL });
  a.session.sendClientContent({ turns, turnComplete: true });
  a.session.sendRealtimeInput({ text: 'Hello' });
  const done = await a.turnComplete();
  const u = await a.waitFor((m) => m.sessionResumptionUpdate && m.sessionResumptionUpdate.resumable, { from: a.msgs.indexOf(done) + 1 });
  a.session.close();
  const r = await h.open(gemini, { config: { ...TEXT, sessionResumption: { handle: u.sessionResumptionUpdate.newHandle } }, setup: INITIAL });
  r.session.sendRealtimeInput({ text: 'Tell me the history' });
  await h.sleep(300);
  assert.equal(r.msgs.filter((m) => m.serverContent).length, 0, 'input is held');
  assert.equal((await h.lastConnection(sim)).turnState, 'awaiting-history');
  r.session.sendClientContent({ turns: turns.slice(0, 1), turnComplete: true });
  await r.turnComplete();
  r.session.close();
});

test('Gemini without historyConfig: turnComplete true is answered, false is context', async () => {
  const s = await h.open(gemini, { config: TEXT });
  s.session.sendClientContent({ turns: [{ role: 'user', parts: [{ text: 'Remember the code 42' }] }], turnComplete: false });
  await h.sleep(200);
  assert.equal(s.msgs.length, 1, 'context only');
  s.session.sendClientContent({ turns: [{ role: 'model', parts: [{ text: 'Noted' }] }, { role: 'user', parts: [{ text: 'Good' }] }], turnComplete: true });
  await s.turnComplete();
  assert.equal(h.texts(s.msgs), 'You said: Good.');
  const from = s.msgs.length;
  s.session.sendRealtimeInput({ text: 'history' });
  await s.turnComplete({ from });
  assert.equal(h.texts(s.msgs.slice(from)), 'History: user: Remember the code 42; model: Noted; user: Good; model: You said: Good.');
  s.session.close();
});

test('a turn with a role other than user or model closes 1007', async () => {
  const s = await h.open(gemini, { config: TEXT });
  s.session.sendClientContent({ turns: [{ role: 'system', parts: [{ text: 'Be terse' }] }], turnComplete: false });
  const e = await s.closed;
  assert.equal(e.code, 1007);
  assert.match(e.reason, /Please use a valid role: user, model/);
});

test('Vertex history: turnComplete false is context, not answered; later input sees it', async () => {
  const s = await h.open(vertex, { model: VERTEX_MODEL, config: { ...TEXT, outputAudioTranscription: {} } });
  s.session.sendClientContent({ turns, turnComplete: false });
  await h.sleep(300);
  assert.deepEqual(s.msgs.map(Object.keys), [['setupComplete']]);
  s.session.sendRealtimeInput({ text: 'Read me the history' });
  await s.turnComplete();
  assert.equal(h.texts(s.msgs), SEEN);
  s.session.close();
});

test('Vertex sessionId: a UUID per session, the same after resumption', async () => {
  const config = { ...TEXT, sessionResumption: { transparent: true } };
  const a = await h.open(vertex, { model: VERTEX_MODEL, config });
  const b = await h.open(vertex, { model: VERTEX_MODEL, config });
  const id = a.msgs[0].setupComplete.sessionId;
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.notEqual(b.msgs[0].setupComplete.sessionId, id, 'each session has its own id');
  b.session.close();
  a.session.sendRealtimeInput({ text: 'My name is Ada' });
  const done = await a.turnComplete();
  const u = await a.waitFor((m) => m.sessionResumptionUpdate && m.sessionResumptionUpdate.resumable, { from: a.msgs.indexOf(done) + 1 });
  a.session.close();
  const r = await h.open(vertex, { model: VERTEX_MODEL, config: { ...TEXT, sessionResumption: { transparent: true, handle: u.sessionResumptionUpdate.newHandle } } });
  assert.equal(r.msgs[0].setupComplete.sessionId, id);
  r.session.sendRealtimeInput({ text: 'recap' });
  await r.turnComplete();
  assert.equal(h.texts(r.msgs), 'Earlier you said: My name is Ada.');
  r.session.close();
});

test('Gemini setupComplete has no sessionId', async () => {
  const s = await h.open(gemini, { config: TEXT });
  assert.deepEqual({ ...s.msgs[0].setupComplete }, {});
  s.session.close();
});
