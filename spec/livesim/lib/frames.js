'use strict';
// Server→client frame encoding and the pre-built frame sequences of model replies. The real
// service sends camelCase JSON pretty-printed with two spaces and a trailing newline, in binary
// frames; audio reply frames are built once per (backend, voice, text) and then shared by every
// session that says the same thing.
const { RATE } = require('./voice');

const CHUNK_MS = 40;
const PLAN_CACHE_LIMIT = 512;

const encode = (msg) => Buffer.from(JSON.stringify(msg, null, 2) + '\n', 'utf8');

function modelTurn(backend, parts) {
  return backend === 'vertex' ? { parts, role: 'model' } : { parts };
}

const audioMime = (backend) => (backend === 'vertex' ? 'audio/pcm' : `audio/pcm;rate=${RATE}`);

// Words with their leading space, the way streamed transcriptions arrive ("You", " said", ...).
const words = (text) => text.match(/\s*\S+/g) || [];

const planCache = new Map();

function remember(key, plan) {
  if (planCache.size >= PLAN_CACHE_LIMIT) planCache.delete(planCache.keys().next().value);
  planCache.set(key, plan);
  return plan;
}

// A plan is a list of steps {at (ms from reply start), kind: 'audio'|'transcript'|'text',
// frame (Buffer), ms (audio duration), text}. Audio chunks last `chunksMs` in turn (cycled):
// 40 ms each by default.
function audioPlan(backend, voiceKind, text, pcm, chunksMs = [CHUNK_MS]) {
  const key = `a|${backend}|${voiceKind}|${chunksMs.join(',')}|${text}`;
  const cached = planCache.get(key);
  if (cached) return cached;
  const steps = [];
  const mimeType = audioMime(backend);
  for (let off = 0, i = 0, at = 0; off < pcm.length; i++) {
    const bytes = (RATE * 2 * chunksMs[i % chunksMs.length]) / 1000;
    const chunk = pcm.subarray(off, Math.min(off + bytes, pcm.length));
    const ms = (chunk.length / 2 / RATE) * 1000;
    steps.push({
      at,
      kind: 'audio',
      ms,
      frame: encode({
        serverContent: { modelTurn: modelTurn(backend, [{ inlineData: { mimeType, data: chunk.toString('base64') } }]) },
      }),
    });
    off += bytes;
    at += ms;
  }
  // Each word's transcription goes out with the audio chunk in which it starts, proportionally
  // to its character offset, so transcripts run alongside the audio as they do in real sessions.
  const totalMs = (pcm.length / 2 / RATE) * 1000;
  const out = [];
  let offset = 0;
  let si = 0;
  for (const w of words(text)) {
    const start = (offset / text.length) * totalMs;
    while (si < steps.length && steps[si].at <= start) out.push(steps[si++]);
    const at = si > 0 ? steps[si - 1].at : 0;
    out.push({ at, kind: 'transcript', text: w, frame: encode({ serverContent: { outputTranscription: { text: w } } }) });
    offset += w.length;
  }
  while (si < steps.length) out.push(steps[si++]);
  return remember(key, out);
}

// Text replies stream a few words per frame, unpaced.
function textPlan(backend, text) {
  const key = `t|${backend}|${text}`;
  const cached = planCache.get(key);
  if (cached) return cached;
  const ws = words(text);
  const steps = [];
  for (let i = 0; i < ws.length; i += 3) {
    const piece = ws.slice(i, i + 3).join('');
    steps.push({
      at: 0, kind: 'text', text: piece,
      frame: encode({ serverContent: { modelTurn: modelTurn(backend, [{ text: piece }]) } }),
    });
  }
  return remember(key, steps);
}

// Seconds as a google.protobuf.Duration string: "5s", "2.5s".
const duration = (seconds) => `${Number(seconds.toFixed(3))}s`;

module.exports = { encode, audioPlan, textPlan, modelTurn, duration, CHUNK_MS };
