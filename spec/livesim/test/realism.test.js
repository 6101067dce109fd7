'use strict';
// Quirks of real sessions reproduced on demand (behaviour `realism`), the frames that carry a
// single signal (waitingForInput, generationComplete), and transcription sessions.
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
const next = (behaviour) => sim.control('POST', '/next', { behaviour });
const weather = [{ functionDeclarations: [{ name: 'get_weather', parameters: { type: 'OBJECT', properties: { city: { type: 'STRING' } }, required: ['city'] } }] }];

test('Vertex audio-chunks and empty-transcription: 200-240 ms chunks of plain audio/pcm, {} transcription first', async () => {
  await next({ realism: ['audio-chunks', 'empty-transcription'] });
  const s = await h.open(vertex, { model: VERTEX_MODEL, config: { outputAudioTranscription: {} } });
  s.session.sendRealtimeInput({ text: 'Please describe the weather over the mountains' });
  await s.turnComplete();
  const content = s.msgs.filter((m) => m.serverContent);
  assert.deepEqual({ ...content[0].serverContent }, { outputTranscription: {} }, 'the empty transcription comes first');
  const audio = content.filter((m) => m.data).map((m) => m.serverContent.modelTurn.parts[0].inlineData);
  assert.ok(audio.length >= 3);
  assert.ok(audio.every((a) => a.mimeType === 'audio/pcm'));
  const ms = audio.map((a) => (Buffer.from(a.data, 'base64').length / 48000) * 1000);
  assert.deepEqual(ms.slice(0, 3), [200, 220, 240]);
  assert.ok(ms.slice(0, -1).every((x) => x >= 200 && x <= 240) && ms[ms.length - 1] <= 240);
  assert.equal(h.transcript(s.msgs), 'You said: Please describe the weather over the mountains.');
  s.session.close();
});

test('audio-chunks leaves Gemini at 40 ms; no realism means no empty transcription', async () => {
  await next({ realism: ['audio-chunks'] });
  const s = await h.open(gemini, { config: { outputAudioTranscription: {} } });
  s.session.sendRealtimeInput({ text: 'hello' });
  await s.turnComplete();
  const audio = s.msgs.filter((m) => m.data);
  assert.ok(audio.slice(0, -1).every((m) => Buffer.from(m.data, 'base64').length === 1920));
  assert.ok(!s.msgs.some((m) => sc(m).outputTranscription && sc(m).outputTranscription.text === undefined));
  s.session.close();
});

test('code-before-call: an executableCode part before the toolCall, no code tool declared', async () => {
  await next({ realism: ['code-before-call'] });
  const s = await h.open(gemini, { config: { responseModalities: ['TEXT'], tools: weather } });
  s.session.sendRealtimeInput({ text: 'What is the weather in Paris?' });
  const tc = await s.waitFor((m) => m.toolCall);
  const before = s.msgs[s.msgs.indexOf(tc) - 1];
  assert.deepEqual(before.serverContent.modelTurn.parts, [{ executableCode: { language: 'PYTHON', code: 'print(default_api.get_weather(city="Paris"))' } }]);
  const [call] = tc.toolCall.functionCalls;
  assert.match(call.id, /^function-call-\d+$/);
  s.session.sendToolResponse({ functionResponses: [{ id: call.id, name: call.name, response: { sky: 'grey' } }] });
  await s.turnComplete();
  assert.equal(h.texts(s.msgs.slice(s.msgs.indexOf(tc))), 'The result of get_weather is {"sky":"grey"}.');
  s.session.close();
});

test('Vertex generation-after-call: generationComplete follows the toolCall; ids are UUIDs', async () => {
  const s = await h.open(vertex, { model: VERTEX_MODEL, config: { responseModalities: ['TEXT'], tools: weather } });
  const [c] = (await sim.control('GET', '/connections')).slice(-1);
  await sim.control('POST', `/connections/${c.id}`, { behaviour: { realism: 'generation-after-call,code-before-call' } });
  s.session.sendRealtimeInput({ text: 'What is the weather in Rome?' });
  const tc = await s.waitFor((m) => m.toolCall);
  const after = await s.waitFor((m) => sc(m).generationComplete);
  assert.equal(s.msgs.indexOf(after), s.msgs.indexOf(tc) + 1);
  assert.equal(s.msgs[s.msgs.indexOf(tc) - 1].serverContent.modelTurn.role, 'model');
  const [call] = tc.toolCall.functionCalls;
  assert.match(call.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  const from = s.msgs.length;
  s.session.sendToolResponse({ functionResponses: [{ id: call.id, name: call.name, response: { sky: 'blue' } }] });
  await s.turnComplete({ from });
  const kinds = s.msgs.map((m) => (m.toolCall ? 'call' : sc(m).generationComplete ? 'gen' : sc(m).turnComplete ? 'turn' : null)).filter(Boolean);
  assert.deepEqual(kinds, ['call', 'gen', 'gen', 'turn'], 'the reply after the result has its own generationComplete');
  s.session.close();
});

test('realism through the control API: all features by true, unknown names refused', async () => {
  const d = await sim.control('POST', '/defaults', { realism: true });
  assert.deepEqual(d.realism, ['audio-chunks', 'empty-transcription', 'code-before-call', 'generation-after-call']);
  await sim.control('POST', '/defaults', { realism: false });
  await assert.rejects(sim.control('POST', '/next', { behaviour: { realism: ['loud'] } }), /400[\s\S]*unknown realism feature \\"loud\\"/);
});

for (const [backend, ai, model] of [['Gemini', () => gemini, undefined], ['Vertex', () => vertex, VERTEX_MODEL]]) {
  test(`${backend} waitingForInput: a text that trails off gets a frame with only waitingForInput, then turnComplete`, async () => {
    const s = await h.open(ai(), { model, config: { responseModalities: ['TEXT'] } });
    s.session.sendRealtimeInput({ text: 'So I was thinking...' });
    await s.turnComplete();
    const content = s.msgs.filter((m) => m.serverContent);
    assert.deepEqual({ ...content[0].serverContent }, { waitingForInput: true });
    assert.equal(content.length, 2);
    assert.ok(!content.some((m) => sc(m).modelTurn || sc(m).generationComplete));
    s.session.close();
  });
}

test('server frames are pretty-printed with two spaces and a trailing newline, in binary frames', async () => {
  await next({ realism: true });
  const s = await h.open(vertex, { model: VERTEX_MODEL, config: { outputAudioTranscription: {}, tools: weather } });
  s.session.sendRealtimeInput({ text: 'Weather in Oslo?' });
  const tc = await s.waitFor((m) => m.toolCall);
  s.session.sendToolResponse({ functionResponses: [{ id: tc.toolCall.functionCalls[0].id, name: 'get_weather', response: {} }] });
  await s.turnComplete();
  const c = await h.lastConnection(sim);
  const { frames } = await sim.control('GET', `/connections/${c.id}/frames`);
  const out = frames.filter((f) => f.dir === 'out');
  assert.ok(out.length > 8);
  for (const f of out) {
    assert.equal(f.opcode, 'binary');
    assert.equal(f.text, `${JSON.stringify(JSON.parse(f.text), null, 2)}\n`);
  }
  s.session.close();
});

for (const [backend, ai, model] of [['Gemini', () => gemini, undefined], ['Vertex', () => vertex, VERTEX_MODEL]]) {
  test(`${backend} transcription session: TEXT, input transcription with languageCodes, VAD without interruption`, async () => {
    await next({ heard: 'good morning' });
    const config = {
      responseModalities: ['TEXT'],
      inputAudioTranscription: { languageCodes: ['en-US'] },
      realtimeInputConfig: { automaticActivityDetection: { disabled: false, silenceDurationMs: 300 }, activityHandling: 'NO_INTERRUPTION' },
    };
    const s = await h.open(ai(), { model, config });
    for (let i = 0; i < 2; i++) {
      h.sendAudio(s.session, h.pcmChunks(400));
      h.sendAudio(s.session, h.pcmChunks(400, { amplitude: 0 }));
    }
    const first = await s.turnComplete();
    await s.turnComplete({ from: s.msgs.indexOf(first) + 1 });
    const heard = s.msgs.filter((m) => sc(m).inputTranscription).map((m) => m.serverContent.inputTranscription.text);
    assert.deepEqual(heard, ['good morning', 'good morning']);
    assert.ok(!s.msgs.some((m) => sc(m).interrupted || sc(m).outputTranscription));
    // The service still answers: a transcription-only client drops the model's turns.
    assert.equal(h.texts(s.msgs), 'You said: good morning.You said: good morning.');
    const c = await h.lastConnection(sim);
    assert.deepEqual(c.setup.inputAudioTranscription, { languageCodes: ['en-US'] });
    s.session.close();
  });
}

test('input transcription goes out when the user turn ends, even while the model is still speaking', async () => {
  await next({ pace: 'realtime', heard: 'second thought' });
  const s = await h.open(gemini, {
    config: { inputAudioTranscription: {}, outputAudioTranscription: {}, realtimeInputConfig: { activityHandling: 'NO_INTERRUPTION', automaticActivityDetection: { silenceDurationMs: 200 } } },
  });
  s.session.sendRealtimeInput({ text: 'Say something long enough to talk over please' });
  await s.waitFor((m) => m.data);
  h.sendAudio(s.session, h.pcmChunks(300));
  h.sendAudio(s.session, h.pcmChunks(300, { amplitude: 0 }));
  const t = await s.waitFor((m) => sc(m).inputTranscription && m.serverContent.inputTranscription.text === 'second thought');
  const firstEnd = await s.turnComplete();
  assert.ok(s.msgs.indexOf(t) < s.msgs.indexOf(firstEnd), 'transcribed before the first reply ended');
  await s.turnComplete({ from: s.msgs.indexOf(firstEnd) + 1 });
  assert.match(h.transcript(s.msgs), /You said: second thought\.$/);
  s.session.close();
});
