'use strict';
// What an input transcript carries besides its text when the setup's inputAudioTranscription
// asks for it: `words` with audio-time offsets (wordTimestamp), `speakerLabel` (diarization) and
// `languageCode` (the first of languageCodes). Raw sockets, so the wire shape is what is checked.
// Audio is 16 kHz PCM in 20 ms chunks: a 300 Hz tone is speech to the detector, zeros silence.
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
const MODEL = {
  gemini: 'models/gemini-live-2.5-flash-preview',
  vertex: 'projects/proj/locations/us-central1/publishers/google/models/gemini-live-2.5-flash-native-audio',
};
const TEXT = { responseModalities: ['TEXT'] };

// Opens a session on `backend` with `transcription` as its inputAudioTranscription, sends the
// input `send` gives, and resolves with the inputTranscription of the turn once it completed.
function transcriptOf(backend, transcription, send, extra = {}) {
  const base = sim.base.replace('http', 'ws');
  const ws = backend === 'vertex'
    ? new WebSocket(base + VERTEX_PATH, { headers: { authorization: 'Bearer test-bearer' } })
    : new WebSocket(base + GEMINI_PATH);
  const setup = { model: MODEL[backend], generationConfig: TEXT, inputAudioTranscription: transcription, ...extra };
  let input = null;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { ws.close(); reject(new Error('no turnComplete')); }, 8000);
    ws.on('open', () => ws.send(JSON.stringify({ setup })));
    ws.on('close', (code, why) => reject(new Error(`closed: ${code} ${why}`)));
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString('utf8'));
      const sc = m.serverContent || {};
      if (m.setupComplete) send((msg) => ws.send(JSON.stringify(msg)));
      if (sc.inputTranscription) input = sc.inputTranscription;
      if (sc.turnComplete) { clearTimeout(timer); ws.removeAllListeners('close'); ws.close(); resolve(input); }
    });
  });
}

// 100 ms of silence, 400 ms of speech, then silence until the detector ends the turn (500 ms).
const speech = (send) => {
  for (const data of [...h.pcmChunks(100, { amplitude: 0 }), ...h.pcmChunks(400), ...h.pcmChunks(600, { amplitude: 0 })]) {
    send({ realtimeInput: { audio: { data, mimeType: 'audio/pcm;rate=16000' } } });
  }
};

for (const backend of ['gemini', 'vertex']) {
  test(`${backend}: wordTimestamp gives each heard word its share of the speech, in audio time`, async () => {
    await sim.control('POST', '/next', { behaviour: { heard: 'one two three four' } });
    const t = await transcriptOf(backend, { wordTimestamp: true }, speech);
    assert.deepEqual(t, {
      text: 'one two three four',
      words: [
        { word: 'one', startOffset: '0.100s', endOffset: '0.200s' },
        { word: 'two', startOffset: '0.200s', endOffset: '0.300s' },
        { word: 'three', startOffset: '0.300s', endOffset: '0.400s' },
        { word: 'four', startOffset: '0.400s', endOffset: '0.500s' },
      ],
    });
  });

  test(`${backend}: diarization labels the user's transcript speaker-1`, async () => {
    await sim.control('POST', '/next', { behaviour: { heard: 'hello there' } });
    const t = await transcriptOf(backend, { diarization: true }, speech);
    assert.deepEqual(t, { text: 'hello there', speakerLabel: 'speaker-1' });
  });

  test(`${backend}: languageCodes gives the input transcript the first code`, async () => {
    await sim.control('POST', '/next', { behaviour: { heard: 'bonjour' } });
    const t = await transcriptOf(backend, { languageCodes: ['fr-FR', 'en-US'] }, speech);
    assert.deepEqual(t, { text: 'bonjour', languageCode: 'fr-FR' });
  });
}

test('manual activity: the words span activityStart to activityEnd', async () => {
  await sim.control('POST', '/next', { behaviour: { heard: 'a b' } });
  const t = await transcriptOf('gemini', { wordTimestamp: true, diarization: true, languageCodes: ['en-US'] }, (send) => {
    send({ realtimeInput: { activityStart: {} } });
    for (const data of h.pcmChunks(300)) send({ realtimeInput: { audio: { data, mimeType: 'audio/pcm;rate=16000' } } });
    send({ realtimeInput: { activityEnd: {} } });
  }, { realtimeInputConfig: { automaticActivityDetection: { disabled: true } } });
  assert.deepEqual(t, {
    text: 'a b', languageCode: 'en-US', speakerLabel: 'speaker-1',
    words: [
      { word: 'a', startOffset: '0.000s', endOffset: '0.150s' },
      { word: 'b', startOffset: '0.150s', endOffset: '0.300s' },
    ],
  });
});

test('typed text has no audio time: no words, the other details still', async () => {
  const t = await transcriptOf('gemini', { wordTimestamp: true, diarization: true, languageCodes: ['en-US'] },
    (send) => send({ realtimeInput: { text: 'typed words' } }));
  assert.deepEqual(t, { text: 'typed words', languageCode: 'en-US', speakerLabel: 'speaker-1' });
});

test('an empty config adds nothing: the transcript is the text alone', async () => {
  await sim.control('POST', '/next', { behaviour: { heard: 'plain' } });
  const t = await transcriptOf('gemini', {}, speech);
  assert.deepEqual(t, { text: 'plain' });
});
