'use strict';
// Every LiveClientSetup field that @google/genai declares is accepted on the backend that takes
// it, exactly as the SDK puts it on the wire, and the other backend's fields are refused.
const test = require('node:test');
const assert = require('node:assert/strict');
const WebSocket = require('ws');
const h = require('../harness/sim');

let sim;
let gemini;
let geminiAlpha;
let vertex;
test.before(async () => {
  sim = await h.startSim(['--pace', 'fast', '--voice', 'tone', '--bearer', 'test-bearer']);
  gemini = h.geminiClient(sim.base);
  geminiAlpha = h.geminiClient(sim.base, { apiVersion: 'v1alpha' });
  vertex = h.vertexClient(sim.base);
});
test.after(() => sim.stop());

const VERTEX_MODEL = 'gemini-live-2.5-flash-native-audio';

// Every field of LiveConnectConfig both backends' converters pass on.
const common = () => ({
  responseModalities: ['TEXT'],
  temperature: 0.7, topP: 0.9, topK: 20, maxOutputTokens: 512, seed: 7,
  mediaResolution: 'MEDIA_RESOLUTION_LOW',
  speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: 'Kore' } }, languageCode: 'en-US' },
  thinkingConfig: { includeThoughts: true, thinkingBudget: 1024, thinkingLevel: 'LOW' },
  enableAffectiveDialog: true,
  systemInstruction: 'Answer briefly.',
  tools: [
    { functionDeclarations: [{ name: 'book_table', description: 'Books a table', behavior: 'NON_BLOCKING' }] },
    { googleSearch: {} }, { codeExecution: {} }, { urlContext: {} },
  ],
  inputAudioTranscription: { languageCodes: ['en-US', 'fr-FR'], mode: 'VERBATIM', customVocabulary: ['livesim'] },
  outputAudioTranscription: {},
  realtimeInputConfig: {
    automaticActivityDetection: {
      disabled: false, startOfSpeechSensitivity: 'START_SENSITIVITY_LOW', endOfSpeechSensitivity: 'END_SENSITIVITY_HIGH',
      prefixPaddingMs: 20, silenceDurationMs: 300,
    },
    activityHandling: 'NO_INTERRUPTION',
    turnCoverage: 'TURN_INCLUDES_ALL_INPUT',
    interimTranscriptTimestampEnabled: true,
  },
  contextWindowCompression: { triggerTokens: '25600', slidingWindow: { targetTokens: '12800' } },
  proactivity: { proactiveAudio: true },
  safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_ONLY_HIGH' }],
  labels: { safety_identifier: 'user_session_123' },
});

async function answers(s) {
  s.session.sendRealtimeInput({ text: 'hello there' });
  await s.turnComplete();
  assert.equal(h.texts(s.msgs), 'You said: hello there.');
}

test('Gemini v1alpha: the whole setup the SDK builds is accepted, historyConfig included', async () => {
  const config = { ...common(), sessionResumption: {}, translationConfig: { targetLanguageCode: 'es', echoTargetLanguage: true } };
  const s = await h.open(geminiAlpha, { config, setup: { historyConfig: { initialHistoryInClientContent: false } } });
  const c = await h.lastConnection(sim);
  const gen = c.setup.generationConfig;
  assert.deepEqual(gen.thinkingConfig, { includeThoughts: true, thinkingBudget: 1024, thinkingLevel: 'LOW' });
  assert.equal(gen.enableAffectiveDialog, true);
  assert.equal(gen.mediaResolution, 'MEDIA_RESOLUTION_LOW');
  assert.deepEqual(gen.translationConfig, { targetLanguageCode: 'es', echoTargetLanguage: true });
  assert.deepEqual(c.setup.proactivity, { proactiveAudio: true });
  assert.equal(c.setup.realtimeInputConfig.turnCoverage, 'TURN_INCLUDES_ALL_INPUT');
  assert.deepEqual(c.setup.historyConfig, { initialHistoryInClientContent: false });
  assert.deepEqual(c.setup.labels, { safety_identifier: 'user_session_123' }, 'label keys are user data, kept verbatim');
  assert.deepEqual(c.setup.tools.slice(1), [{ googleSearch: {} }, { codeExecution: {} }, { urlContext: {} }]);
  await answers(s);
  s.session.close();
});

test('Vertex: the whole setup the SDK builds is accepted, Vertex-only fields included', async () => {
  const config = {
    ...common(), sessionResumption: { transparent: true }, explicitVadSignal: true,
    safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_ONLY_HIGH', method: 'SEVERITY' }],
  };
  const s = await h.open(vertex, { model: VERTEX_MODEL, config });
  const c = await h.lastConnection(sim);
  assert.equal(c.setup.explicitVadSignal, true);
  assert.equal(c.setup.generationConfig.thinkingConfig.thinkingLevel, 'LOW');
  assert.deepEqual(c.setup.inputAudioTranscription, { languageCodes: ['en-US', 'fr-FR'], mode: 'VERBATIM', customVocabulary: ['livesim'] });
  await answers(s);
  s.session.close();
});

test('Vertex refuses historyConfig as an unknown field', async () => {
  const e = await h.openExpectingClose(vertex, { model: VERTEX_MODEL, setup: { historyConfig: { initialHistoryInClientContent: true } } });
  assert.equal(e.code, 1007);
  assert.equal(e.reason, 'Invalid JSON payload received. Unknown name "history_config" at \'setup\': Cannot find field.');
});

// One setup on a raw socket; resolves with the close, or 'open' when setupComplete came.
function rawSetup(setup, version = 'v1beta') {
  const ws = new WebSocket(`${sim.base.replace('http', 'ws')}/ws/google.ai.generativelanguage.${version}.GenerativeService.BidiGenerateContent?key=test-key`);
  ws.on('open', () => ws.send(JSON.stringify({ setup })));
  return new Promise((resolve) => {
    ws.on('message', () => { ws.close(); resolve('open'); });
    ws.on('close', (code, why) => resolve({ code, reason: why.toString() }));
  });
}

const unknown = (name, at) => ({ code: 1007, reason: `Invalid JSON payload received. Unknown name "${name}" at '${at}': Cannot find field.` });

test('Gemini v1beta: affective dialog and proactivity are unknown names, even when false', async () => {
  let e = await h.openExpectingClose(gemini, { config: { enableAffectiveDialog: true } });
  assert.deepEqual([e.code, e.reason], [1007, unknown('enable_affective_dialog', 'setup.generation_config').reason]);
  e = await h.openExpectingClose(gemini, { config: { proactivity: { proactiveAudio: false } } });
  assert.deepEqual([e.code, e.reason], [1007, unknown('proactivity', 'setup').reason]);
  const m = 'models/m';
  assert.deepEqual(await rawSetup({ model: m, generationConfig: { enableAffectiveDialog: false } }),
    unknown('enable_affective_dialog', 'setup.generation_config'));
  assert.deepEqual(await rawSetup({ model: m, generation_config: { enable_affective_dialog: false } }),
    unknown('enable_affective_dialog', 'setup.generation_config'), 'snake_case alike');
  assert.deepEqual(await rawSetup({ model: m, proactivity: {} }), unknown('proactivity', 'setup'));
  assert.deepEqual(await rawSetup({ model: m, proactivity: { proactive_audio: true } }, 'v1'), unknown('proactivity', 'setup'));
  assert.deepEqual(await rawSetup({ model: m, generationConfig: { enableAffectiveDialog: true } }, 'v1'),
    unknown('enable_affective_dialog', 'setup.generation_config'));
});

test('Gemini v1alpha takes affective dialog and proactivity in either casing', async () => {
  const setup = { model: 'models/m', generation_config: { enable_affective_dialog: false }, proactivity: { proactive_audio: true } };
  assert.equal(await rawSetup(setup, 'v1alpha'), 'open');
});

// The SDK refuses mcpServers on Vertex itself, so the Vertex setup goes on a raw socket.
function rawVertexSetup(setup) {
  const url = `${sim.base.replace('http', 'ws')}/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent`;
  const ws = new WebSocket(url, { headers: { authorization: 'Bearer test-bearer' } });
  ws.on('open', () => ws.send(JSON.stringify({ setup })));
  return new Promise((resolve) => {
    ws.on('message', () => { ws.close(); resolve('open'); });
    ws.on('close', (code, why) => resolve({ code, reason: why.toString() }));
  });
}

test('MCP servers: Gemini takes their fields, Vertex knows none of them', async () => {
  const tools = [{ mcpServers: [{ name: 'calendar', streamableHttpTransport: { url: 'https://mcp.example/', timeout: '5s' } }] }];
  const model = `projects/proj/locations/us-central1/publishers/google/models/${VERTEX_MODEL}`;
  assert.deepEqual(await rawVertexSetup({ model, tools }),
    unknown('name', 'setup.tools[0].mcp_servers[0]'));
  // (this reason is cut at the 123 bytes a close frame carries)
  const e1 = await rawVertexSetup({ model, tools: [{ mcp_servers: [{ streamable_http_transport: {} }] }] });
  assert.match(e1.reason, /^Invalid JSON payload received\. Unknown name "streamable_http_transport" at 'setup\.tools\[0\]\.mcp_servers\[0\]'/);
  assert.equal(await rawVertexSetup({ model, tools: [{ mcpServers: [{}] }] }), 'open');
  assert.equal(await rawSetup({ model: 'models/m', tools }), 'open');
  const e = await rawSetup({ model: 'models/m', tools: [{ mcpServers: [{ name: 7 }] }] });
  assert.match(e.reason, /Invalid value at 'setup.tools\[0\].mcp_servers\[0\].name' \(TYPE_STRING\)/);
});

test('bad values in the new fields are refused with 1007 naming the field', async () => {
  const m = 'models/m';
  let e = await rawSetup({ model: m, inputAudioTranscription: { mode: 'LOUD' } });
  assert.match(e.reason, /Invalid value at 'setup.input_audio_transcription.mode'/);
  e = await rawSetup({ model: m, labels: { team: 7 } });
  assert.match(e.reason, /Invalid value at 'setup.labels\["team"\]' \(TYPE_STRING\)/);
  e = await rawSetup({ model: m, historyConfig: { initialHistoryInClientContent: 'yes' } });
  assert.match(e.reason, /Invalid value at 'setup.history_config.initial_history_in_client_content' \(TYPE_BOOL\)/);
  e = await rawSetup({ model: m, generationConfig: { thinkingConfig: { thinkingLevel: 'EXTREME' } } });
  assert.match(e.reason, /Invalid value at 'setup.generation_config.thinking_config.thinking_level'/);
  e = await rawSetup({ model: m, safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', method: 'SEVERITY' }] });
  assert.match(e.reason, /Unknown name "method" at 'setup.safety_settings\[0\]'/, 'method is Vertex-only');
  e = await rawSetup({ model: m, tools: [{ googleSearch: { excludeDomains: ['a.com'] } }] });
  assert.match(e.reason, /Unknown name "exclude_domains" at 'setup.tools\[0\].google_search'/);
  e = await rawSetup({ model: m, tools: [{ codeExecution: { language: 'PYTHON' } }] });
  assert.match(e.reason, /Unknown name "language" at 'setup.tools\[0\].code_execution'/);
  assert.equal(await rawSetup({ model: m, realtime_input_config: { interim_transcript_timestamp_enabled: true }, labels: { Some_Key: 'v' } }), 'open');
});
