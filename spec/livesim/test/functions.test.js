'use strict';
// Function behaviour driven through @google/genai: NON_BLOCKING declarations, the scheduling and
// willContinue of function responses, and Vertex's streamed partialArgs.
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
const sc = (m) => m.serverContent || {};
const booking = (behavior) => [{ functionDeclarations: [{ name: 'book_table', behavior, parameters: { type: 'OBJECT', properties: { guests: { type: 'INTEGER' } } } }] }];
const nonBlocking = booking('NON_BLOCKING');
const realtime = () => sim.control('POST', '/next', { behaviour: { pace: 'realtime' } });
const kinds = (msgs) => msgs.map((m) => (m.toolCall ? 'call' : sc(m).interrupted ? 'interrupted' : sc(m).generationComplete ? 'gen' : sc(m).turnComplete ? 'turn' : null)).filter(Boolean);

async function callBooking(s) {
  s.session.sendRealtimeInput({ text: 'call book_table {"guests": 2}' });
  const tc = await s.waitFor((m) => m.toolCall);
  return tc.toolCall.functionCalls[0];
}

test('NON_BLOCKING: the model goes on talking in the same turn, and reports the result when idle', async () => {
  const s = await h.open(gemini, { config: { responseModalities: ['TEXT'], tools: nonBlocking } });
  const call = await callBooking(s);
  await s.turnComplete();
  assert.equal(h.texts(s.msgs), 'I started book_table.');
  assert.deepEqual(kinds(s.msgs), ['call', 'gen', 'turn']);
  const from = s.msgs.length;
  s.session.sendToolResponse({ functionResponses: [{ id: call.id, name: 'book_table', response: { ok: true }, scheduling: 'WHEN_IDLE' }] });
  await s.turnComplete({ from });
  assert.equal(h.texts(s.msgs.slice(from)), 'The result of book_table is {"ok":true}.');
  s.session.close();
});

test('INTERRUPT: the model stops what it says and reports the result at once', async () => {
  await realtime();
  const s = await h.open(gemini, { config: { tools: nonBlocking, outputAudioTranscription: {} } });
  const call = await callBooking(s);
  await s.waitFor((m) => m.data);
  s.session.sendToolResponse({ functionResponses: [{ id: call.id, name: 'book_table', response: { table: 7 }, scheduling: 'INTERRUPT' }] });
  const first = await s.turnComplete();
  const second = await s.turnComplete({ from: s.msgs.indexOf(first) + 1 });
  assert.deepEqual(kinds(s.msgs), ['call', 'interrupted', 'turn', 'gen', 'turn']);
  assert.equal(h.transcript(s.msgs.slice(s.msgs.indexOf(first) + 1, s.msgs.indexOf(second))), 'The result of book_table is {"table":7}.');
  s.session.close();
});

test('WHEN_IDLE during speech: the current turn ends normally, then the result', async () => {
  await realtime();
  const s = await h.open(gemini, { config: { tools: nonBlocking, outputAudioTranscription: {} } });
  const call = await callBooking(s);
  await s.waitFor((m) => m.data);
  s.session.sendToolResponse({ functionResponses: [{ id: call.id, name: 'book_table', response: { table: 7 } }] });
  const first = await s.turnComplete();
  await s.turnComplete({ from: s.msgs.indexOf(first) + 1 });
  assert.deepEqual(kinds(s.msgs), ['call', 'gen', 'turn', 'gen', 'turn']);
  assert.equal(h.transcript(s.msgs), 'I started book_table.The result of book_table is {"table":7}.');
  s.session.close();
});

test('SILENT joins the context without a reply; willContinue keeps the call open until the last response', async () => {
  const s = await h.open(gemini, { config: { responseModalities: ['TEXT'], tools: nonBlocking } });
  const call = await callBooking(s);
  await s.turnComplete();
  let from = s.msgs.length;
  const respond = (response, extra) => s.session.sendToolResponse({ functionResponses: [{ id: call.id, name: 'book_table', response, ...extra }] });
  respond({ step: 1 }, { willContinue: true, scheduling: 'SILENT' });
  await h.sleep(250);
  assert.equal(s.msgs.length, from, 'SILENT: no reply');
  assert.deepEqual((await h.lastConnection(sim)).pendingCalls, [call.id], 'still open');
  respond({ step: 2 }, { willContinue: true, scheduling: 'WHEN_IDLE' });
  await s.turnComplete({ from });
  assert.equal(h.texts(s.msgs.slice(from)), 'The result of book_table is {"step":2}.');
  from = s.msgs.length;
  respond({ step: 3 }, { scheduling: 'WHEN_IDLE' });
  await s.turnComplete({ from });
  assert.equal(h.texts(s.msgs.slice(from)), 'The result of book_table is {"step":3}.');
  assert.deepEqual((await h.lastConnection(sim)).pendingCalls, [], 'the last response closed the call');
  from = s.msgs.length;
  respond({ step: 4 }, { scheduling: 'INTERRUPT' });
  await h.sleep(250);
  assert.equal(s.msgs.length, from, 'responses after the last one are ignored');
  const c = await h.lastConnection(sim);
  const session = await sim.control('GET', `/sessions/${c.sessionId}`);
  const results = session.history.filter((t) => t.functionResponses).map((t) => t.functionResponses[0].response.step);
  assert.deepEqual(results, [1, 2, 3], 'the silent result is in the context');
  s.session.close();
});

test('NON_BLOCKING calls survive a text turn; blocking calls are cancelled', async () => {
  const tools = [{ functionDeclarations: [{ name: 'book_table', behavior: 'NON_BLOCKING' }, { name: 'check_menu', behavior: 'BLOCKING' }] }];
  const s = await h.open(gemini, { config: { responseModalities: ['TEXT'], tools } });
  s.session.sendRealtimeInput({ text: 'call book_table {}; call check_menu {}' });
  const tc = await s.waitFor((m) => m.toolCall);
  const [book, menu] = tc.toolCall.functionCalls;
  await h.sleep(150);
  assert.ok(!s.msgs.some((m) => sc(m).modelTurn), 'a blocking call among them: the model waits');
  // As clientContent: realtime input would close the connection while check_menu is pending.
  s.session.sendClientContent({ turns: 'Never mind', turnComplete: true });
  const cancel = await s.waitFor((m) => m.toolCallCancellation);
  assert.deepEqual(cancel.toolCallCancellation.ids, [menu.id]);
  await s.turnComplete();
  const from = s.msgs.length;
  s.session.sendToolResponse({ functionResponses: [{ id: book.id, name: 'book_table', response: { ok: 1 } }] });
  await s.turnComplete({ from });
  assert.equal(h.texts(s.msgs.slice(from)), 'The result of book_table is {"ok":1}.');
  s.session.close();
});

test('blocking calls ignore scheduling: SILENT still gets the answer', async () => {
  const s = await h.open(gemini, { config: { responseModalities: ['TEXT'], tools: booking('BLOCKING') } });
  const call = await callBooking(s);
  s.session.sendToolResponse({ functionResponses: [{ id: call.id, name: 'book_table', response: { ok: true }, scheduling: 'SILENT', willContinue: true }] });
  await s.turnComplete();
  assert.equal(h.texts(s.msgs), 'The result of book_table is {"ok":true}.');
  s.session.close();
});

test('a bad scheduling value closes 1007', async () => {
  const s = await h.open(gemini, { config: { tools: nonBlocking } });
  const call = await callBooking(s);
  s.session.sendToolResponse({ functionResponses: [{ id: call.id, name: 'book_table', response: {}, scheduling: 'LATER' }] });
  const e = await s.closed;
  assert.equal(e.code, 1007);
  assert.match(e.reason, /Invalid value at 'tool_response.function_responses\[0\].scheduling'/);
});

test('Vertex: NON_BLOCKING runs on, scheduling is ignored (results come when idle), willContinue is refused', async () => {
  await realtime();
  const s = await h.open(vertex, { model: VERTEX_MODEL, config: { tools: nonBlocking, outputAudioTranscription: {} } });
  const call = await callBooking(s);
  await s.waitFor((m) => m.data);
  s.session.sendToolResponse({ functionResponses: [{ id: call.id, name: 'book_table', response: { table: 7 }, scheduling: 'INTERRUPT' }] });
  const first = await s.turnComplete();
  await s.turnComplete({ from: s.msgs.indexOf(first) + 1 });
  assert.deepEqual(kinds(s.msgs), ['call', 'gen', 'turn', 'gen', 'turn'], 'no interruption');
  // The SDK's live session passes willContinue on; Vertex does not know the field.
  s.session.sendToolResponse({ functionResponses: [{ id: call.id, name: 'book_table', response: {}, willContinue: true }] });
  const e = await s.closed;
  assert.deepEqual(e, { code: 1007, reason: 'Invalid JSON payload received. Unknown name "will_continue" at \'tool_response.function_responses[0]\': Cannot find field.' });
});

// The arguments a client assembles from partialArgs fragments.
function assemble(calls) {
  const args = {};
  for (const pa of calls.flatMap((c) => c.partialArgs || [])) {
    const keys = [...pa.jsonPath.matchAll(/\.([A-Za-z_]\w*)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : m[1] !== undefined ? m[1] : JSON.parse(`"${m[3]}"`)));
    let o = args;
    keys.forEach((k, i) => {
      if (i === keys.length - 1) {
        const v = 'stringValue' in pa ? pa.stringValue : 'numberValue' in pa ? pa.numberValue : 'boolValue' in pa ? pa.boolValue : null;
        o[k] = typeof v === 'string' && typeof o[k] === 'string' ? o[k] + v : v;
      } else {
        if (o[k] === undefined) o[k] = typeof keys[i + 1] === 'number' ? [] : {};
        o = o[k];
      }
    });
  }
  return args;
}

test('Vertex partialArgs: the call announced, its arguments in fragments, then the call without args', async () => {
  await sim.control('POST', '/next', { behaviour: { partialArgs: true } });
  const tools = [{ functionDeclarations: [{ name: 'get_weather', parameters: { type: 'OBJECT', properties: { city: { type: 'STRING' } }, required: ['city'] } }] }];
  const s = await h.open(vertex, { model: VERTEX_MODEL, config: { responseModalities: ['TEXT'], tools } });
  s.session.sendRealtimeInput({ text: 'What is the weather in Paris?' });
  await s.waitFor((m) => m.toolCall && !m.toolCall.functionCalls[0].willContinue);
  const calls = s.msgs.filter((m) => m.toolCall).map((m) => m.toolCall.functionCalls[0]);
  const id = calls[0].id;
  assert.deepEqual(calls.map(({ id: _, ...rest }) => rest), [
    { name: 'get_weather', willContinue: true },
    { name: 'get_weather', partialArgs: [{ jsonPath: '$.city', stringValue: 'Pari', willContinue: true }], willContinue: true },
    { name: 'get_weather', partialArgs: [{ jsonPath: '$.city', stringValue: 's' }], willContinue: true },
    { name: 'get_weather' },
  ]);
  assert.ok(calls.every((c) => c.id === id));
  assert.deepEqual(assemble(calls), { city: 'Paris' });
  s.session.sendToolResponse({ functionResponses: [{ id, name: 'get_weather', response: { sky: 'clear' } }] });
  await s.turnComplete();
  assert.equal(h.texts(s.msgs), 'The result of get_weather is {"sky":"clear"}.');
  s.session.close();
});

test('Vertex partialArgs "with-args": every kind of leaf, and the complete args at the end', async () => {
  await sim.control('POST', '/next', { behaviour: { partialArgs: 'with-args' } });
  const args = { note: 'hello world', n: 2.5, deep: { ok: true, none: null, list: [1, 'ab'] }, 'odd key': 'x' };
  const s = await h.open(vertex, { model: VERTEX_MODEL, config: { responseModalities: ['TEXT'], tools: [{ functionDeclarations: [{ name: 'save' }] }] } });
  s.session.sendRealtimeInput({ text: `call save ${JSON.stringify(args)}` });
  const last = await s.waitFor((m) => m.toolCall && !m.toolCall.functionCalls[0].willContinue);
  const calls = s.msgs.filter((m) => m.toolCall).map((m) => m.toolCall.functionCalls[0]);
  assert.deepEqual(last.toolCall.functionCalls[0].args, args);
  assert.deepEqual(calls.flatMap((c) => c.partialArgs || []).map((p) => p.jsonPath), [
    '$.note', '$.note', '$.note', '$.n', '$.deep.ok', '$.deep.none', '$.deep.list[0]', '$.deep.list[1]', '$["odd key"]',
  ]);
  assert.deepEqual(assemble(calls), args);
  s.session.close();
});

test('Gemini never streams partialArgs', async () => {
  await sim.control('POST', '/next', { behaviour: { partialArgs: true } });
  const s = await h.open(gemini, { config: { responseModalities: ['TEXT'], tools: [{ functionDeclarations: [{ name: 'save' }] }] } });
  s.session.sendRealtimeInput({ text: 'call save {"a": "long value"}' });
  const tc = await s.waitFor((m) => m.toolCall);
  assert.deepEqual(tc.toolCall.functionCalls[0].args, { a: 'long value' });
  await h.sleep(100);
  assert.equal(s.msgs.filter((m) => m.toolCall).length, 1);
  s.session.close();
});
