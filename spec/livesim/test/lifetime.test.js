'use strict';
// Connection lifetime (goAway), session resumption with handles, and the consumed-message log.
const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('../harness/sim');

let sim;
let ai;
test.before(async () => {
  sim = await h.startSim(['--pace', 'fast', '--voice', 'tone']);
  ai = h.geminiClient(sim.base);
});
test.after(() => sim.stop());

const config = { sessionResumption: {}, outputAudioTranscription: {}, responseModalities: ['AUDIO'] };

test('goAway with timeLeft, then the connection ends; a new connection resumes with the handle', async () => {
  await sim.control('POST', '/next', { behaviour: { lifetime: 1.5, goAwayLead: 1 } });
  const s = await h.open(ai, { config });
  s.session.sendRealtimeInput({ text: 'My name is Ada' });
  await s.turnComplete();
  const goAway = await s.waitFor((m) => m.goAway, { timeout: 3000 });
  assert.equal(goAway.goAway.timeLeft, '1s');
  const updates = s.msgs.filter((m) => m.sessionResumptionUpdate).map((m) => m.sessionResumptionUpdate);
  assert.ok(updates.every((u) => u.resumable === true && u.newHandle));
  const handle = updates[updates.length - 1].newHandle;
  const e = await s.closed;
  assert.deepEqual(e, { code: 1011, reason: 'Deadline expired before operation could complete.' });

  const r = await h.open(ai, { config: { ...config, sessionResumption: { handle } } });
  r.session.sendRealtimeInput({ text: 'Please recap' });
  await r.turnComplete();
  assert.equal(h.transcript(r.msgs), 'Earlier you said: My name is Ada.');
  const conns = await sim.control('GET', '/connections');
  const [a, b] = conns.slice(-2);
  assert.equal(a.sessionId, b.sessionId);
  assert.equal(b.resumedFrom, handle);

  // Every client message of the session, across both connections, consumed exactly once.
  const session = await sim.control('GET', `/sessions/${b.sessionId}`);
  const texts = session.consumed.filter((c) => c.type === 'text').map((c) => [c.connection, c.digest]);
  assert.deepEqual(texts, [[a.id, 'My name is Ada'], [b.id, 'Please recap']]);
  r.session.close();
});

test('resumable is false with an empty handle while a tool call is pending', async () => {
  const s = await h.open(ai, { config: { ...config, tools: [{ functionDeclarations: [{ name: 'slow_lookup' }] }] } });
  s.session.sendRealtimeInput({ text: 'call slow_lookup {}' });
  const tc = await s.waitFor((m) => m.toolCall);
  const u = await s.waitFor((m) => m.sessionResumptionUpdate && m.sessionResumptionUpdate.resumable === false);
  assert.equal(u.sessionResumptionUpdate.newHandle, '');
  s.session.sendToolResponse({ functionResponses: [{ id: tc.toolCall.functionCalls[0].id, name: 'slow_lookup', response: {} }] });
  await s.turnComplete();
  const last = await s.waitFor((m) => m.sessionResumptionUpdate && m.sessionResumptionUpdate.resumable, { from: s.msgs.indexOf(u) + 1 });
  assert.ok(last.sessionResumptionUpdate.newHandle.length > 20);
  s.session.close();
});

test('an unknown resumption handle is refused with 1007', async () => {
  const e = await h.openExpectingClose(ai, { config: { sessionResumption: { handle: 'no-such-handle' } } });
  assert.deepEqual([e.code, e.reason], [1007, 'Request contains an invalid argument.']);
});

test('resuming from an older handle rolls back what came after it', async () => {
  const s = await h.open(ai, { config });
  const early = await s.waitFor((m) => m.sessionResumptionUpdate);
  s.session.sendRealtimeInput({ text: 'first' });
  await s.turnComplete();
  s.session.close();
  const r = await h.open(ai, { config: { ...config, sessionResumption: { handle: early.sessionResumptionUpdate.newHandle } } });
  r.session.sendRealtimeInput({ text: 'recap' });
  await r.turnComplete();
  assert.equal(h.transcript(r.msgs), 'You have not said anything before.');
  const [c] = (await sim.control('GET', '/connections')).slice(-1);
  const session = await sim.control('GET', `/sessions/${c.sessionId}`);
  assert.equal(session.consumed.find((x) => x.digest === 'first').rolledBack, true);
  r.session.close();
});

test('per-connection lifetime set on a live connection through the control API', async () => {
  const s = await h.open(ai, { config });
  const [c] = (await sim.control('GET', '/connections')).slice(-1);
  await sim.control('POST', `/connections/${c.id}`, { behaviour: { lifetime: 0.6, goAwayLead: 0.5 } });
  const g = await s.waitFor((m) => m.goAway, { timeout: 3000 });
  assert.equal(g.goAway.timeLeft, '0.5s');
  assert.equal((await s.closed).code, 1011);
});
