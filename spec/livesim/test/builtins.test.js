'use strict';
// Built-in tools driven through @google/genai: Google Search (grounding metadata), code
// execution (executableCode + codeExecutionResult) and URL context, on both backends.
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
const TEXT = ['TEXT'];
const sc = (m) => m.serverContent || {};
const parts = (msgs) => msgs.flatMap((m) => (sc(m).modelTurn ? sc(m).modelTurn.parts : []));

for (const [backend, ai, model] of [['Gemini', () => gemini, undefined], ['Vertex', () => vertex, VERTEX_MODEL]]) {
  test(`${backend} googleSearch: the answer, then a frame with only groundingMetadata, then generationComplete`, async () => {
    const s = await h.open(ai(), { model, config: { responseModalities: TEXT, tools: [{ googleSearch: {} }] } });
    s.session.sendRealtimeInput({ text: 'Please search for the weather in Paris.' });
    const done = await s.turnComplete();
    const answer = 'I found 2 results for the weather in Paris.';
    assert.equal(h.texts(s.msgs), answer);
    const i = s.msgs.findIndex((m) => sc(m).groundingMetadata);
    assert.ok(i > 0);
    assert.deepEqual(Object.keys(s.msgs[i]), ['serverContent']);
    assert.deepEqual(Object.keys(s.msgs[i].serverContent), ['groundingMetadata'], 'grounding comes alone');
    assert.ok(sc(s.msgs[i + 1]).generationComplete, 'after the content, before generationComplete');
    const g = s.msgs[i].serverContent.groundingMetadata;
    assert.deepEqual(g.webSearchQueries, ['the weather in Paris']);
    assert.deepEqual(g.groundingChunks, [
      { web: { uri: 'https://example.com/the-weather-in-paris', title: 'example.com' } },
      { web: { uri: 'https://example.org/the-weather-in-paris', title: 'example.org' } },
    ]);
    assert.deepEqual(g.groundingSupports, [{ segment: { endIndex: Buffer.byteLength(answer), text: answer }, groundingChunkIndices: [0, 1] }]);
    assert.match(g.searchEntryPoint.renderedContent, /^<div class="search-entry-point">.*the weather in Paris<\/a><\/div>\n$/);
    const usage = (done.usageMetadata || s.msgs.find((m) => m.usageMetadata).usageMetadata);
    assert.ok(usage.toolUsePromptTokenCount > 0);
    assert.equal(usage.totalTokenCount, usage.promptTokenCount + usage.responseTokenCount + usage.toolUsePromptTokenCount);
    assert.deepEqual(usage.toolUsePromptTokensDetails, [{ modality: 'TEXT', tokenCount: usage.toolUsePromptTokenCount }]);
    s.session.close();
  });

  test(`${backend} codeExecution: executableCode then codeExecutionResult, then the spoken answer`, async () => {
    const s = await h.open(ai(), { model, config: { tools: [{ codeExecution: {} }], outputAudioTranscription: {} } });
    s.session.sendRealtimeInput({ text: 'Can you calculate (2 + 3) * 4 for me?' });
    await s.turnComplete();
    const ps = parts(s.msgs);
    assert.deepEqual(ps[0], { executableCode: { language: 'PYTHON', code: 'print((2 + 3) * 4)' } });
    assert.deepEqual(ps[1], { codeExecutionResult: { outcome: 'OUTCOME_OK', output: '20\n' } });
    assert.ok(ps.slice(2).length > 0 && ps.slice(2).every((p) => p.inlineData), 'then audio');
    assert.equal(h.transcript(s.msgs), 'The result is 20.');
    if (backend === 'Vertex') assert.ok(s.msgs.filter((m) => sc(m).modelTurn).every((m) => m.serverContent.modelTurn.role === 'model'));
    s.session.close();
  });

  test(`${backend} urlContext: urlContextMetadata with one entry per URL`, async () => {
    const s = await h.open(ai(), { model, config: { responseModalities: TEXT, tools: [{ urlContext: {} }] } });
    s.session.sendRealtimeInput({ text: 'Compare https://example.com/a and https://down.invalid/b.' });
    await s.turnComplete();
    assert.equal(h.texts(s.msgs), 'I read example.com. I could not open down.invalid.');
    const m = s.msgs.find((x) => sc(x).urlContextMetadata);
    assert.deepEqual(Object.keys(m.serverContent), ['urlContextMetadata']);
    assert.deepEqual(m.serverContent.urlContextMetadata, { urlMetadata: [
      { retrievedUrl: 'https://example.com/a', urlRetrievalStatus: 'URL_RETRIEVAL_STATUS_SUCCESS' },
      { retrievedUrl: 'https://down.invalid/b', urlRetrievalStatus: 'URL_RETRIEVAL_STATUS_ERROR' },
    ] });
    s.session.close();
  });
}

test('code that fails: OUTCOME_FAILED with the Python traceback', async () => {
  const s = await h.open(gemini, { config: { responseModalities: TEXT, tools: [{ codeExecution: {} }] } });
  s.session.sendRealtimeInput({ text: 'compute 7 / (3 - 3)' });
  await s.turnComplete();
  const result = parts(s.msgs).find((p) => p.codeExecutionResult).codeExecutionResult;
  assert.equal(result.outcome, 'OUTCOME_FAILED');
  assert.match(result.output, /ZeroDivisionError: division by zero\n$/);
  assert.equal(h.texts(s.msgs), 'The code failed with ZeroDivisionError.');
  s.session.close();
});

test('built-in tools act only when declared and triggered; function tools beside them still work', async () => {
  const tools = [
    { googleSearch: {} },
    { functionDeclarations: [{ name: 'get_weather', parameters: { type: 'OBJECT', properties: { city: { type: 'STRING' } }, required: ['city'] } }] },
  ];
  const s = await h.open(gemini, { config: { responseModalities: TEXT, tools } });
  s.session.sendRealtimeInput({ text: 'calculate 1 + 1 or read https://example.com' });
  await s.turnComplete();
  assert.equal(h.texts(s.msgs), 'You said: calculate 1 + 1 or read https://example.com.', 'no code or URL tool declared');
  assert.ok(!s.msgs.some((m) => sc(m).urlContextMetadata || parts([m]).some((p) => p.executableCode)));
  let from = s.msgs.length;
  s.session.sendRealtimeInput({ text: 'What is the weather in Paris?' });
  const tc = await s.waitFor((m) => m.toolCall, { from });
  assert.deepEqual(tc.toolCall.functionCalls[0].args, { city: 'Paris' });
  s.session.sendToolResponse({ functionResponses: [{ id: tc.toolCall.functionCalls[0].id, name: 'get_weather', response: { sky: 'clear' } }] });
  await s.turnComplete({ from });
  from = s.msgs.length;
  s.session.sendRealtimeInput({ text: 'What is the latest news?' });
  await s.turnComplete({ from });
  assert.equal(h.texts(s.msgs.slice(from)), 'I found 2 results for What is the latest news.');
  assert.ok(s.msgs.slice(from).some((m) => sc(m).groundingMetadata));
  s.session.close();
});

test('several built-in tools in one answer: code, then URL, then search sentences', async () => {
  const s = await h.open(gemini, { config: { responseModalities: TEXT, tools: [{ googleSearch: {} }, { codeExecution: {} }, { urlContext: {} }] } });
  s.session.sendRealtimeInput({ text: 'Search https://example.net/x and calculate 6*7' });
  await s.turnComplete();
  const text = h.texts(s.msgs);
  assert.equal(text, 'The result is 42. I read example.net. I found 2 results for https://example.net/x and calculate 6*7.');
  const g = s.msgs.find((m) => sc(m).groundingMetadata).serverContent.groundingMetadata;
  const seg = g.groundingSupports[0].segment;
  assert.equal(Buffer.from(text).subarray(seg.startIndex, seg.endIndex).toString(), seg.text, 'byte offsets into the answer');
  s.session.close();
});
