'use strict';
// Vertex AI scenarios driven through the official @google/genai SDK (bearer token from a stub
// auth client, and express mode with an API key).
const test = require('node:test');
const assert = require('node:assert/strict');
const { GoogleGenAI } = require('@google/genai');
const h = require('../harness/sim');

let sim;
let ai;
test.before(async () => {
  sim = await h.startSim(['--pace', 'fast', '--voice', 'tone', '--bearer', 'test-bearer']);
  ai = h.vertexClient(sim.base);
});
test.after(() => sim.stop());

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MODEL = 'gemini-live-2.5-flash-native-audio';

async function rawFrames(id) {
  const { frames } = await sim.control('GET', `/connections/${id}/frames`);
  return frames.filter((f) => f.dir === 'out' && f.opcode === 'binary').map((f) => JSON.parse(f.text));
}

test('connect with a bearer token: sessionId, full model name, Authorization header', async () => {
  const s = await h.open(ai, { model: MODEL });
  assert.match(s.msgs[0].setupComplete.sessionId, UUID);
  const [c] = (await sim.control('GET', '/connections')).slice(-1);
  assert.equal(c.backend, 'vertex');
  assert.equal(c.headers.authorization, 'Bearer test-bearer');
  assert.equal(c.path, '//ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent');
  assert.equal(c.setup.model, `projects/proj/locations/us-central1/publishers/google/models/${MODEL}`);
  assert.equal(c.sessionId, s.msgs[0].setupComplete.sessionId);
  s.session.close();
});

test('audio reply: role model, plain audio/pcm, usage as candidatesTokenCount on the wire', async () => {
  const s = await h.open(ai, { model: MODEL, config: { outputAudioTranscription: {}, inputAudioTranscription: {} } });
  h.sendAudio(s.session, h.pcmChunks(300));
  h.sendAudio(s.session, h.pcmChunks(600, { amplitude: 0 }));
  await s.turnComplete();
  const audio = s.msgs.find((m) => m.data).serverContent.modelTurn;
  assert.equal(audio.role, 'model');
  assert.equal(audio.parts[0].inlineData.mimeType, 'audio/pcm');
  assert.equal(h.transcript(s.msgs), 'You said: hello.');
  const [c] = (await sim.control('GET', '/connections')).slice(-1);
  const usage = (await rawFrames(c.id)).find((m) => m.usageMetadata).usageMetadata;
  assert.ok(usage.candidatesTokenCount > 0);
  assert.equal(usage.responseTokenCount, undefined);
  assert.equal(usage.candidatesTokensDetails[0].modality, 'AUDIO');
  // The SDK maps Vertex names to the Gemini ones.
  const seen = s.msgs.find((m) => m.usageMetadata).usageMetadata;
  assert.equal(seen.responseTokenCount, usage.candidatesTokenCount);
  s.session.close();
});

test('tool calls carry UUID ids; Vertex matches responses without ids by name', async () => {
  const tools = [{ functionDeclarations: [{ name: 'get_stock_price', parameters: { type: 'OBJECT', properties: { symbol: { type: 'STRING' } }, required: ['symbol'] } }] }];
  const s = await h.open(ai, { model: MODEL, config: { tools, outputAudioTranscription: {} } });
  s.session.sendClientContent({ turns: 'Give me the stock price of Alphabet', turnComplete: true });
  const tc = await s.waitFor((m) => m.toolCall);
  const [call] = tc.toolCall.functionCalls;
  assert.match(call.id, UUID);
  assert.deepEqual(call.args, { symbol: 'Alphabet' });
  const from = s.msgs.length;
  s.session.sendToolResponse({ functionResponses: [{ name: 'get_stock_price', response: { price: 100 } }] });
  await s.turnComplete({ from });
  assert.equal(h.transcript(s.msgs.slice(from)), 'The result of get_stock_price is {"price":100}.');
  s.session.close();
});

test('transparent resumption reports lastConsumedClientMessageIndex as a string', async () => {
  const s = await h.open(ai, { model: MODEL, config: { sessionResumption: { transparent: true }, responseModalities: ['TEXT'] } });
  const first = await s.waitFor((m) => m.sessionResumptionUpdate);
  assert.equal(first.sessionResumptionUpdate.lastConsumedClientMessageIndex, '0');
  s.session.sendRealtimeInput({ text: 'a' });
  s.session.sendRealtimeInput({ text: 'b' });
  await s.waitFor((m) => m.sessionResumptionUpdate && m.sessionResumptionUpdate.lastConsumedClientMessageIndex === '2', { timeout: 3000 });
  s.session.close();
});

test('express mode: x-goog-api-key and a publishers/ model', async () => {
  const express = new GoogleGenAI({ vertexai: true, apiKey: 'test-key', httpOptions: { baseUrl: sim.base } });
  const s = await h.open(express, { model: MODEL });
  assert.match(s.msgs[0].setupComplete.sessionId, UUID);
  const [c] = (await sim.control('GET', '/connections')).slice(-1);
  assert.equal(c.headers['x-goog-api-key'], 'test-key');
  assert.equal(c.auth, 'express');
  assert.equal(c.setup.model, `publishers/google/models/${MODEL}`);
  s.session.close();
});

test('bad bearer token: the upgrade is refused with HTTP 401', async () => {
  const e = await h.openExpectingClose(h.vertexClient(sim.base, 'nope'), { model: MODEL });
  assert.equal(e.code, 1006);
  assert.match(String(e.errors[0] && (e.errors[0].message || e.errors[0].error)), /401/);
});

test('Gemini-only setup fields are refused on Vertex', async () => {
  const e = await h.openExpectingClose(ai, { model: MODEL, config: { translationConfig: { targetLanguageCode: 'es' } } });
  assert.equal(e.code, 1007);
  assert.match(e.reason, /Unknown name "translation_config"/);
});
