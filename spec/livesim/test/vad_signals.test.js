'use strict';
// What the server says about the user's speech while it listens: `voiceActivity` (behaviour
// voiceActivity), Vertex's `voiceActivityDetectionSignal` (setup explicitVadSignal) and
// `serverContent.interimInputTranscription` (behaviour interimTranscripts). Raw sockets, so the
// exact wire messages and their order are what is checked. Audio is 16 kHz PCM in 20 ms chunks:
// a 300 Hz tone is speech to the detector, zeros are silence.
const test = require('node:test');
const assert = require('node:assert/strict');
const WebSocket = require('ws');
const h = require('../harness/sim');

let sim;
test.before(async () => {
  sim = await h.startSim(['--pace', 'fast', '--voice', 'tone', '--bearer', 'test-bearer']);
});
test.after(() => sim.stop());

const GEMINI_PATH = '/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=test-key';
const VERTEX_PATH = '/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent';
const VERTEX_MODEL = 'projects/proj/locations/us-central1/publishers/google/models/gemini-live-2.5-flash-native-audio';
const GEMINI_MODEL = 'models/gemini-live-2.5-flash-preview';
const TEXT = { responseModalities: ['TEXT'] };
const MANUAL = { automaticActivityDetection: { disabled: true } };

// Connects to `backend` of simulator `on` and sends `setup`; resolves once setupComplete came,
// with the parsed messages received after it and helpers to send and wait.
function connect(backend, setup, on = sim) {
  const base = on.base.replace('http', 'ws');
  const ws = backend === 'vertex'
    ? new WebSocket(base + VERTEX_PATH, { headers: { authorization: 'Bearer test-bearer' } })
    : new WebSocket(base + GEMINI_PATH);
  const msgs = [];
  const waiters = [];
  const notify = () => {
    for (const w of [...waiters]) {
      const m = msgs.slice(w.from).find(w.pred);
      if (m) { waiters.splice(waiters.indexOf(w), 1); clearTimeout(w.timer); w.resolve(m); }
    }
  };
  const waitFor = (pred, from = 0) => new Promise((resolve, reject) => {
    const w = { pred, from, resolve };
    // A missing message fails the test instead of hanging the run.
    w.timer = setTimeout(() => {
      waiters.splice(waiters.indexOf(w), 1);
      reject(new Error(`no such message; got ${JSON.stringify(msgs)}`));
    }, 8000);
    waiters.push(w);
    notify();
  });
  const closed = new Promise((resolve) => ws.on('close', (code, why) => resolve({ code, reason: why.toString() })));
  const send = (msg) => ws.send(JSON.stringify(msg));
  const audio = (chunks) => { for (const data of chunks) send({ realtimeInput: { audio: { data, mimeType: 'audio/pcm;rate=16000' } } }); };
  return new Promise((resolve, reject) => {
    ws.on('open', () => send({ setup }));
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString('utf8'));
      if (m.setupComplete) return resolve({ ws, msgs, waitFor, send, audio, closed });
      msgs.push(m);
      return notify();
    });
    closed.then((e) => reject(new Error(`closed before setupComplete: ${e.code} ${e.reason}`)));
  });
}

const voiced = (ms) => h.pcmChunks(ms);
const silence = (ms) => h.pcmChunks(ms, { amplitude: 0 });
const sc = (m) => m.serverContent || {};
const turnComplete = (m) => sc(m).turnComplete;

// The messages about the user's speech as they are, everything else as a short label
// (consecutive reply frames as one), usage-only frames left out.
function story(msgs) {
  const out = [];
  for (const m of msgs) {
    let item;
    if (m.voiceActivity || m.voiceActivityDetectionSignal) item = m;
    else if (sc(m).interimInputTranscription || sc(m).inputTranscription || sc(m).interrupted) item = m;
    else if (sc(m).modelTurn) item = 'reply';
    else if (sc(m).generationComplete) item = 'gen';
    else if (sc(m).turnComplete) item = 'turn';
    else if (sc(m).waitingForInput) item = 'waiting';
    else continue;
    if (item === 'reply' && out[out.length - 1] === 'reply') continue;
    out.push(item);
  }
  return out;
}

const va = (type, audioOffset) => ({ voiceActivity: { type, audioOffset } });
const sig = (vadSignalType) => ({ voiceActivityDetectionSignal: { vadSignalType } });
const interim = (text) => ({ serverContent: { interimInputTranscription: { text } } });
const input = (text) => ({ serverContent: { inputTranscription: { text } } });

// The same audio in other chunks, at another rate, says the same: all timing is audio time.
for (const pcm of [{}, { rate: 24000, chunkMs: 50 }]) {
  test(`a speech turn: ACTIVITY_START, interims, ACTIVITY_END, the last interim, the transcript, the reply (${JSON.stringify(pcm)})`, async () => {
    await sim.control('POST', '/next', { behaviour: { voiceActivity: true, interimTranscripts: true, heard: 'one two three four five' } });
    const s = await connect('gemini', { model: GEMINI_MODEL, generationConfig: TEXT, inputAudioTranscription: {} });
    const mimeType = `audio/pcm;rate=${pcm.rate || 16000}`;
    for (const data of [...h.pcmChunks(100, { ...pcm, amplitude: 0 }), ...h.pcmChunks(300, pcm), ...h.pcmChunks(600, { ...pcm, amplitude: 0 })]) {
      s.send({ realtimeInput: { audio: { data, mimeType } } });
    }
    await s.waitFor(turnComplete);
    // Speech from 100 to 400 ms; its end is found after 500 ms of silence (at 900 ms), and by then
    // four 200 ms steps of the turn have passed.
    assert.deepEqual(story(s.msgs), [
      va('ACTIVITY_START', '0.100s'),
      interim('one'), interim('one two'), interim('one two three'), interim('one two three four'),
      va('ACTIVITY_END', '0.400s'),
      interim('one two three four five'),
      input('one two three four five'),
      'reply', 'gen', 'turn',
    ]);
    s.ws.close();
  });
}

test('a second turn is timed from the start of the connection\'s audio', async () => {
  await sim.control('POST', '/next', { behaviour: { voiceActivity: true } });
  const s = await connect('gemini', { model: GEMINI_MODEL, generationConfig: TEXT });
  s.audio([...voiced(300), ...silence(600)]);
  const first = s.msgs.indexOf(await s.waitFor(turnComplete));
  s.audio([...voiced(1240), ...silence(520)]);
  await s.waitFor(turnComplete, first + 1);
  const signals = s.msgs.filter((m) => m.voiceActivity);
  assert.deepEqual(signals, [
    va('ACTIVITY_START', '0.000s'), va('ACTIVITY_END', '0.300s'),
    va('ACTIVITY_START', '0.900s'), va('ACTIVITY_END', '2.140s'),
  ]);
  s.ws.close();
});

test('barge-in: ACTIVITY_START comes before the interrupted it causes', async () => {
  await sim.control('POST', '/next', { behaviour: { voiceActivity: true, pace: 'realtime' } });
  const s = await connect('gemini', { model: GEMINI_MODEL });
  s.send({ realtimeInput: { text: 'Please say something long enough to interrupt' } });
  await s.waitFor((m) => sc(m).modelTurn);
  const from = s.msgs.length;
  s.audio(voiced(100));
  await s.waitFor((m) => sc(m).interrupted, from);
  const after = story(s.msgs.slice(from)).filter((x) => x !== 'reply');
  assert.deepEqual(after.slice(0, 2), [va('ACTIVITY_START', '0.000s'), { serverContent: { interrupted: true } }]);
  s.ws.close();
});

test('audioStreamEnd ends the speech with ACTIVITY_END, where the audio or the silence began', async () => {
  await sim.control('POST', '/next', { behaviour: { voiceActivity: true, interimTranscripts: true, heard: 'one two three' } });
  const s = await connect('gemini', { model: GEMINI_MODEL, generationConfig: TEXT, inputAudioTranscription: {} });
  s.audio([...silence(100), ...voiced(300)]);
  s.send({ realtimeInput: { audioStreamEnd: true } });
  const first = s.msgs.indexOf(await s.waitFor(turnComplete));
  assert.deepEqual(story(s.msgs), [
    va('ACTIVITY_START', '0.100s'),
    interim('one'),
    va('ACTIVITY_END', '0.400s'),
    interim('one two three'),
    input('one two three'),
    'reply', 'gen', 'turn',
  ]);
  // Speech, then some silence shorter than the detector's 500 ms, then the end of the stream.
  s.audio([...voiced(200), ...silence(100)]);
  s.send({ realtimeInput: { audioStreamEnd: true } });
  await s.waitFor(turnComplete, first + 1);
  assert.deepEqual(s.msgs.slice(first + 1).filter((m) => m.voiceActivity),
    [va('ACTIVITY_START', '0.400s'), va('ACTIVITY_END', '0.600s')]);
  s.ws.close();
});

for (const backend of ['gemini', 'vertex']) {
  test(`${backend}: manual activity sends no activity signals, interims between activityStart and activityEnd`, async () => {
    await sim.control('POST', '/next', { behaviour: { voiceActivity: true, interimTranscripts: true, heard: 'one two three' } });
    const setup = backend === 'vertex'
      ? { model: VERTEX_MODEL, generationConfig: TEXT, inputAudioTranscription: {}, realtimeInputConfig: MANUAL, explicitVadSignal: true }
      : { model: GEMINI_MODEL, generationConfig: TEXT, inputAudioTranscription: {}, realtimeInputConfig: MANUAL };
    const s = await connect(backend, setup);
    s.send({ realtimeInput: { activityStart: {} } });
    s.audio([...voiced(300), ...silence(200)]);
    s.send({ realtimeInput: { activityEnd: {} } });
    await s.waitFor(turnComplete);
    assert.deepEqual(story(s.msgs), [
      interim('one'), interim('one two'),
      interim('one two three'),
      input('one two three'),
      'reply', 'gen', 'turn',
    ]);
    s.ws.close();
  });
}

test('both behaviours off (CLI): no signals and no interims; the control API checks the values', async () => {
  const off = await h.startSim(['--pace', 'fast', '--voice', 'tone', '--voice-activity', 'off', '--interim-transcripts', 'off']);
  try {
    const defaults = await off.control('GET', '/defaults');
    assert.equal(defaults.voiceActivity, false);
    assert.equal(defaults.interimTranscripts, false);
    await assert.rejects(off.control('POST', '/defaults', { voiceActivity: 'sometimes' }), /400 [^]*"voiceActivity must be true or false/);
    await assert.rejects(off.control('POST', '/defaults', { interimTranscripts: 1 }), /400 [^]*"interimTranscripts must be true or false/);
    const s = await connect('gemini', { model: GEMINI_MODEL, generationConfig: TEXT, inputAudioTranscription: {} }, off);
    s.audio([...voiced(300), ...silence(600)]);
    await s.waitFor(turnComplete);
    assert.deepEqual(story(s.msgs), [input('hello'), 'reply', 'gen', 'turn']);
    s.ws.close();
  } finally {
    await off.stop();
  }
});

test('explicitVadSignal: Gemini refuses the field as before; Vertex sends SOS and EOS at the edges', async () => {
  const refused = new WebSocket(sim.base.replace('http', 'ws') + GEMINI_PATH);
  refused.on('open', () => refused.send(JSON.stringify({ setup: { model: GEMINI_MODEL, explicitVadSignal: true } })));
  const [code, why] = await new Promise((resolve) => refused.on('close', (c, r) => resolve([c, r.toString()])));
  assert.equal(code, 1007);
  assert.equal(why, 'Invalid JSON payload received. Unknown name "explicit_vad_signal" at \'setup\': Cannot find field.');

  const s = await connect('vertex', { model: VERTEX_MODEL, generationConfig: TEXT, explicitVadSignal: true });
  s.audio([...silence(100), ...voiced(300), ...silence(600)]);
  await s.waitFor(turnComplete);
  assert.deepEqual(story(s.msgs), [sig('VAD_SIGNAL_TYPE_SOS'), sig('VAD_SIGNAL_TYPE_EOS'), 'reply', 'gen', 'turn']);
  s.ws.close();
});

test('Vertex with explicitVadSignal and voiceActivity: voiceActivity first at each edge', async () => {
  await sim.control('POST', '/next', { behaviour: { voiceActivity: true } });
  const s = await connect('vertex', { model: VERTEX_MODEL, generationConfig: TEXT, explicit_vad_signal: true });
  s.audio([...silence(100), ...voiced(300), ...silence(600)]);
  await s.waitFor(turnComplete);
  assert.deepEqual(story(s.msgs), [
    va('ACTIVITY_START', '0.100s'), sig('VAD_SIGNAL_TYPE_SOS'),
    va('ACTIVITY_END', '0.400s'), sig('VAD_SIGNAL_TYPE_EOS'),
    'reply', 'gen', 'turn',
  ]);
  s.ws.close();
});

test('Vertex without explicitVadSignal sends no SOS/EOS; voiceActivity has the same shape as on Gemini', async () => {
  await sim.control('POST', '/next', { behaviour: { voiceActivity: true } });
  const s = await connect('vertex', { model: VERTEX_MODEL, generationConfig: TEXT });
  s.audio([...voiced(300), ...silence(600)]);
  await s.waitFor(turnComplete);
  assert.deepEqual(story(s.msgs), [va('ACTIVITY_START', '0.000s'), va('ACTIVITY_END', '0.300s'), 'reply', 'gen', 'turn']);
  s.ws.close();
});

test('interims need input transcription: without it, interimTranscripts sends none', async () => {
  await sim.control('POST', '/next', { behaviour: { interimTranscripts: true, voiceActivity: true } });
  const s = await connect('gemini', { model: GEMINI_MODEL, generationConfig: TEXT });
  s.audio([...voiced(700), ...silence(600)]);
  await s.waitFor(turnComplete);
  assert.deepEqual(story(s.msgs), [va('ACTIVITY_START', '0.000s'), va('ACTIVITY_END', '0.700s'), 'reply', 'gen', 'turn']);
  s.ws.close();
});
