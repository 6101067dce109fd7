'use strict';
// Gemini Developer API scenarios driven through the official @google/genai SDK.
const test = require('node:test');
const assert = require('node:assert/strict');
const WebSocket = require('ws');
const { Modality, StartSensitivity } = require('@google/genai');
const h = require('../harness/sim');

let sim;
let ai;
test.before(async () => {
  sim = await h.startSim(['--pace', 'fast', '--voice', 'tone']);
  ai = h.geminiClient(sim.base);
});
test.after(() => sim.stop());

const lastConnection = async () => {
  const list = await sim.control('GET', '/connections');
  return list[list.length - 1];
};

test('connect: setupComplete is {} and the key arrives as ?key= on a //ws/ path', async () => {
  const s = await h.open(ai);
  assert.deepEqual({ ...s.msgs[0] }, { setupComplete: {} });
  const c = await lastConnection();
  assert.equal(c.backend, 'gemini');
  assert.equal(c.query.key, 'test-key');
  assert.match(c.headers['x-goog-api-client'], /google-genai-sdk\//);
  assert.equal(c.setup.model, 'models/gemini-live-2.5-flash-preview');
  const frames = await sim.control('GET', `/connections/${c.id}/frames`);
  const out = frames.frames.find((f) => f.dir === 'out');
  assert.equal(out.opcode, 'binary');
  assert.equal(out.text, '{\n  "setupComplete": {}\n}\n');
  assert.equal(frames.frames.find((f) => f.dir === 'in').opcode, 'text');
  s.session.close();
});

test('text turn: audio reply with transcriptions, generationComplete, turnComplete and usage', async () => {
  const s = await h.open(ai, { config: { responseModalities: [Modality.AUDIO], inputAudioTranscription: {}, outputAudioTranscription: {} } });
  s.session.sendRealtimeInput({ text: 'Good morning' });
  await s.turnComplete();
  const input = s.msgs.find((m) => m.serverContent && m.serverContent.inputTranscription);
  assert.equal(input.serverContent.inputTranscription.text, 'Good morning');
  assert.equal(h.transcript(s.msgs), 'You said: Good morning.');
  const audio = s.msgs.filter((m) => m.data);
  assert.ok(audio.length > 5);
  const part = audio[0].serverContent.modelTurn.parts[0];
  assert.equal(part.inlineData.mimeType, 'audio/pcm;rate=24000');
  assert.equal(Buffer.from(part.inlineData.data, 'base64').length, 1920, '40 ms of 24 kHz 16-bit audio');
  const order = s.msgs.map((m) => (m.serverContent && m.serverContent.generationComplete ? 'gen' : m.serverContent && m.serverContent.turnComplete ? 'turn' : null)).filter(Boolean);
  assert.deepEqual(order, ['gen', 'turn']);
  const done = s.msgs.find((m) => m.serverContent && m.serverContent.turnComplete);
  const u = done.usageMetadata;
  assert.ok(u, 'first turn carries usage in the turnComplete frame');
  assert.equal(u.totalTokenCount, u.promptTokenCount + u.responseTokenCount);
  assert.deepEqual(u.responseTokensDetails.map((d) => d.modality), ['AUDIO']);
  assert.equal(u.promptTokensDetails[0].modality, 'TEXT');

  // Second turn: usage comes in its own frame, before turnComplete.
  const from = s.msgs.length;
  s.session.sendClientContent({ turns: 'And again', turnComplete: true });
  const done2 = await s.turnComplete({ from });
  assert.equal(done2.usageMetadata, undefined);
  const u2 = s.msgs.slice(from).find((m) => m.usageMetadata && !m.serverContent);
  assert.ok(u2.usageMetadata.promptTokenCount > u.promptTokenCount, 'context grows');
  assert.equal(h.transcript(s.msgs.slice(from)), 'You said: And again.');
  s.session.close();
});

test('TEXT modality: text parts', async () => {
  const s = await h.open(ai, { config: { responseModalities: [Modality.TEXT] } });
  s.session.sendClientContent({ turns: [{ role: 'user', parts: [{ text: 'Tell me a story' }] }], turnComplete: true });
  await s.turnComplete();
  assert.equal(s.msgs.map((m) => m.text || '').join(''), 'You said: Tell me a story.');
  const done = s.msgs.find((m) => m.serverContent && m.serverContent.turnComplete);
  assert.deepEqual(done.usageMetadata.responseTokensDetails.map((d) => d.modality), ['TEXT']);
  s.session.close();
});

test('audio turn with manual activity detection', async () => {
  const s = await h.open(ai, {
    config: {
      inputAudioTranscription: {}, outputAudioTranscription: {},
      realtimeInputConfig: { automaticActivityDetection: { disabled: true } },
    },
  });
  s.session.sendRealtimeInput({ activityStart: {} });
  h.sendAudio(s.session, h.pcmChunks(400));
  s.session.sendRealtimeInput({ activityEnd: {} });
  await s.turnComplete();
  assert.equal(s.msgs.find((m) => m.serverContent && m.serverContent.inputTranscription).serverContent.inputTranscription.text, 'hello');
  assert.equal(h.transcript(s.msgs), 'You said: hello.');
  const u = s.msgs.find((m) => m.usageMetadata).usageMetadata;
  assert.deepEqual(u.promptTokensDetails, [{ modality: 'AUDIO', tokenCount: 10 }], '0.4 s of audio = 10 tokens');
  s.session.close();
});

test('audio turn with automatic activity detection ends after the configured silence', async () => {
  const c0 = await sim.control('POST', '/next', { behaviour: { heard: 'What is the time?' } });
  assert.equal(c0.remaining, 1);
  const s = await h.open(ai, {
    config: {
      outputAudioTranscription: {},
      realtimeInputConfig: { automaticActivityDetection: { silenceDurationMs: 300, startOfSpeechSensitivity: StartSensitivity.START_SENSITIVITY_HIGH } },
    },
  });
  h.sendAudio(s.session, h.pcmChunks(200, { amplitude: 0 }));
  h.sendAudio(s.session, h.pcmChunks(500));
  h.sendAudio(s.session, h.pcmChunks(200, { amplitude: 0 }));
  await h.sleep(200);
  assert.equal(s.msgs.length, 1, 'no reply before 300 ms of silence');
  h.sendAudio(s.session, h.pcmChunks(200, { amplitude: 0 }));
  await s.turnComplete();
  assert.equal(h.transcript(s.msgs), 'You said: What is the time?');
  s.session.close();
});

test('audioStreamEnd ends the current speech turn', async () => {
  const s = await h.open(ai, { config: { outputAudioTranscription: {} } });
  h.sendAudio(s.session, h.pcmChunks(300));
  s.session.sendRealtimeInput({ audioStreamEnd: true });
  await s.turnComplete();
  assert.equal(h.transcript(s.msgs), 'You said: hello.');
  s.session.close();
});

test('audio without activityStart while automatic detection is disabled closes 1007', async () => {
  const s = await h.open(ai, { config: { realtimeInputConfig: { automaticActivityDetection: { disabled: true } } } });
  h.sendAudio(s.session, h.pcmChunks(20));
  const e = await s.closed;
  assert.equal(e.code, 1007);
});

test('tool call round trip: natural rule, one call', async () => {
  const tools = [{ functionDeclarations: [{ name: 'get_weather', description: 'weather', parameters: { type: 'OBJECT', properties: { city: { type: 'STRING' } }, required: ['city'] } }] }];
  const s = await h.open(ai, { config: { tools, outputAudioTranscription: {} } });
  s.session.sendRealtimeInput({ text: 'What is the weather in Paris?' });
  const tc = await s.waitFor((m) => m.toolCall);
  const [call] = tc.toolCall.functionCalls;
  assert.equal(call.name, 'get_weather');
  assert.deepEqual(call.args, { city: 'Paris' });
  assert.match(call.id, /^function-call-\d+$/);
  const from = s.msgs.length;
  s.session.sendToolResponse({ functionResponses: [{ id: call.id, name: call.name, response: { temp_c: 21, SkyCover: 'clear' } }] });
  await s.turnComplete({ from });
  assert.equal(h.transcript(s.msgs.slice(from)), 'The result of get_weather is {"temp_c":21,"SkyCover":"clear"}.');
  s.session.close();
});

test('tool call round trip: several explicit calls in one toolCall message', async () => {
  const tools = [{ functionDeclarations: [{ name: 'add' }, { name: 'lookup' }] }];
  const s = await h.open(ai, { config: { tools, responseModalities: [Modality.TEXT] } });
  s.session.sendRealtimeInput({ text: 'call add {"a": 1, "b_value": 2}; call lookup {"q": "x;y"}' });
  const tc = await s.waitFor((m) => m.toolCall);
  const calls = tc.toolCall.functionCalls;
  assert.deepEqual(calls.map((c) => [c.name, c.args]), [['add', { a: 1, b_value: 2 }], ['lookup', { q: 'x;y' }]]);
  const from = s.msgs.length;
  s.session.sendToolResponse({ functionResponses: [{ id: calls[0].id, name: 'add', response: { sum: 3 } }] });
  await h.sleep(100);
  assert.equal(s.msgs.length, from, 'waits for every pending call');
  s.session.sendToolResponse({ functionResponses: [{ id: calls[1].id, name: 'lookup', response: { found: true } }] });
  await s.turnComplete({ from });
  assert.equal(s.msgs.slice(from).map((m) => m.text || '').join(''),
    'The result of add is {"sum":3}. The result of lookup is {"found":true}.');
  s.session.close();
});

test('interruption: user text during output → interrupted then turnComplete, no generationComplete', async () => {
  await sim.control('POST', '/next', { behaviour: { pace: 'realtime' } });
  const s = await h.open(ai, { config: { outputAudioTranscription: {} } });
  s.session.sendRealtimeInput({ text: 'Please say something long enough to interrupt' });
  await s.waitFor((m) => m.data);
  const from = s.msgs.length;
  s.session.sendRealtimeInput({ text: 'Stop' });
  const interrupted = await s.waitFor((m) => m.serverContent && m.serverContent.interrupted, { from });
  const iInt = s.msgs.indexOf(interrupted);
  const ended = await s.turnComplete({ from: iInt });
  const iEnd = s.msgs.indexOf(ended);
  assert.ok(!s.msgs.slice(from, iEnd).some((m) => m.serverContent && m.serverContent.generationComplete));
  assert.ok(!s.msgs.slice(iInt + 1, iEnd).some((m) => m.data), 'no audio after interrupted');
  await s.turnComplete({ from: iEnd + 1 });
  const firstTurnEnd = iEnd - from;
  assert.match(h.transcript(s.msgs.slice(from + firstTurnEnd + 1)), /You said: Stop\./);
  s.session.close();
});

test('tool calls pending when the user sends a text turn are cancelled', async () => {
  const tools = [{ functionDeclarations: [{ name: 'book_flight' }] }];
  const s = await h.open(ai, { config: { tools } });
  s.session.sendRealtimeInput({ text: 'call book_flight {}' });
  const tc = await s.waitFor((m) => m.toolCall);
  s.session.sendClientContent({ turns: 'never mind', turnComplete: true });
  const cancel = await s.waitFor((m) => m.toolCallCancellation);
  assert.deepEqual(cancel.toolCallCancellation.ids, [tc.toolCall.functionCalls[0].id]);
  s.session.close();
});

test('NO_INTERRUPTION: output continues and the new turn is answered afterwards', async () => {
  await sim.control('POST', '/next', { behaviour: { pace: 'realtime' } });
  const s = await h.open(ai, { config: { outputAudioTranscription: {}, realtimeInputConfig: { activityHandling: 'NO_INTERRUPTION' } } });
  s.session.sendRealtimeInput({ text: 'one' });
  await s.waitFor((m) => m.data);
  s.session.sendRealtimeInput({ text: 'two' });
  const first = await s.turnComplete();
  const i = s.msgs.indexOf(first);
  await s.turnComplete({ from: i + 1 });
  assert.ok(!s.msgs.some((m) => m.serverContent && m.serverContent.interrupted));
  assert.equal(h.transcript(s.msgs), 'You said: one.You said: two.');
  s.session.close();
});

const wsBase = () => sim.base.replace('http', 'ws');

// Sends one setup on a raw socket and resolves with the close code and reason.
function rawSetup(setup, path = '/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=test-key') {
  const ws = new WebSocket(wsBase() + path);
  ws.on('open', () => ws.send(JSON.stringify({ setup })));
  return new Promise((r) => ws.on('close', (code, why) => r({ code, reason: why.toString() })));
}

for (const [name, config, model, code, reason] of [
  ['unknown field', { outputAudioTranscription: {}, realtimeInputConfig: { activityHandling: 'NO_INTERRUPTION', bogus: 1 } }, undefined, 1007, /Unknown name "bogus" at 'setup.realtime_input_config'/],
  ['v1alpha-only field on v1beta', { proactivity: { proactiveAudio: false } }, undefined, 1007, /^Invalid JSON payload received\. Unknown name "proactivity" at 'setup': Cannot find field\.$/],
  ['wrong enum value', { responseModalities: ['SMELL'] }, undefined, 1007, /Invalid value at 'setup.generation_config.response_modalities\[0\]'/],
  ['model name form', {}, 'tunedModels/x/y', 1008, /is not found for API version v1beta/],
]) {
  test(`invalid setup refused through the SDK: ${name}`, async () => {
    const e = await h.openExpectingClose(ai, { config, ...(model ? { model } : {}) });
    assert.equal(e.code, code);
    assert.match(e.reason, reason);
  });
}

test('invalid setups refused on the raw protocol', async () => {
  let e = await rawSetup({ model: 'models/m', explicitVadSignal: true });
  assert.deepEqual(e, { code: 1007, reason: 'Invalid JSON payload received. Unknown name "explicit_vad_signal" at \'setup\': Cannot find field.' });
  e = await rawSetup({ model: 'models/m', sessionResumption: { transparent: true } });
  assert.equal(e.code, 1007);
  e = await rawSetup({ generationConfig: {} });
  assert.deepEqual(e, { code: 1007, reason: 'Request contains an invalid argument.' });
  e = await rawSetup({ model: 'models/m', generationConfig: { temperature: 'hot' } });
  assert.match(e.reason, /Invalid value at 'setup.generation_config.temperature' \(TYPE_FLOAT\)/);
  e = await rawSetup({ model: 'models/m', contextWindowCompression: { triggerTokens: '100', slidingWindow: { targetTokens: '200' } } });
  assert.equal(e.code, 1007);
});

test('bad and missing API keys are refused after setup like the real service', async () => {
  const bad = await h.openExpectingClose(h.geminiClient(sim.base, { apiKey: 'wrong' }));
  assert.deepEqual([bad.code, bad.reason], [1007, 'API key not valid. Please pass a valid API key.']);
  const ws = new WebSocket(`${wsBase()}/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent`);
  await new Promise((r) => ws.on('open', r));
  ws.send(JSON.stringify({ setup: { model: 'models/x' } }));
  const [code, reason] = await new Promise((r) => ws.on('close', (c, why) => r([c, why.toString()])));
  assert.equal(code, 1008);
  assert.match(reason, /^Method doesn't allow unregistered callers/);
});

test('raw protocol: snake_case keys, URL-safe base64, header key, message before setup', async () => {
  const url = `${wsBase()}/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContent`;
  const ws = new WebSocket(url, { headers: { 'x-goog-api-key': 'test-key' } });
  const got = [];
  ws.on('message', (d, isBinary) => got.push({ isBinary, msg: JSON.parse(d.toString()) }));
  await new Promise((r) => ws.on('open', r));
  ws.send(JSON.stringify({
    setup: {
      model: 'models/m',
      generation_config: { response_modalities: ['TEXT'] },
      realtime_input_config: { automatic_activity_detection: { disabled: true } },
      tools: [{ function_declarations: [{ name: 'echo_args', parameters: { type: 'OBJECT', properties: { Some_Key: { type: 'STRING' } } } }] }],
    },
  }));
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(got[0], { isBinary: true, msg: { setupComplete: {} } });
  // URL-safe alphabet ("-" and "_") in a binary frame.
  const pcm = Buffer.alloc(640, 0xfb);
  ws.send(JSON.stringify({ realtime_input: { activity_start: {} } }));
  ws.send(Buffer.from(JSON.stringify({ realtime_input: { audio: { mime_type: 'audio/pcm;rate=16000', data: pcm.toString('base64url') } } })));
  ws.send(JSON.stringify({ realtime_input: { activity_end: {} } }));
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(got.some((g) => g.msg.serverContent && g.msg.serverContent.turnComplete));
  ws.send(JSON.stringify({ client_content: { turns: [{ role: 'user', parts: [{ text: 'call echo_args {"Some_Key": "v", "other_key": {"x_y": 1}}' }] }], turn_complete: true } }));
  await new Promise((r) => setTimeout(r, 200));
  const tc = got.find((g) => g.msg.toolCall).msg.toolCall.functionCalls[0];
  assert.deepEqual(tc.args, { Some_Key: 'v', other_key: { x_y: 1 } });
  ws.send(JSON.stringify({ tool_response: { function_responses: [{ id: tc.id, name: 'echo_args', response: { snake_case: 1, camelCase: 2 } }] } }));
  await new Promise((r) => setTimeout(r, 200));
  const text = got.filter((g) => g.msg.serverContent && g.msg.serverContent.modelTurn).map((g) => g.msg.serverContent.modelTurn.parts[0].text).join('');
  assert.match(text, /The result of echo_args is \{"snake_case":1,"camelCase":2\}\./);
  ws.close();

  const early = new WebSocket(`${url}?key=test-key`);
  await new Promise((r) => early.on('open', r));
  early.send(JSON.stringify({ realtimeInput: { text: 'hi' } }));
  const code = await new Promise((r) => early.on('close', (c) => r(c)));
  assert.equal(code, 1007);
});
