// Workload 1, "stream", with @google/genai: the same audio and the same pacing rule as
// bench/stream.lua (one utterance in flight; the next starts at the reply's turnComplete).
import * as c from './common.mjs';

const seconds = c.envNumber('BENCH_STREAM_SECONDS', 600);
const chunks = c.utteranceChunks(1, 2);
const utterances = Math.ceil(seconds / (chunks.length * 0.02));

let audioBytes = 0, deltas = 0, replies = 0;
let turnDone = null;

const cpu0 = c.cpu(), t0 = c.now();
const ai = c.client();
const session = await c.open(ai, (msg) => {
  const pcm = c.audioOf(msg);
  if (pcm) { audioBytes += pcm.length; deltas++; }
  if (msg.serverContent && msg.serverContent.turnComplete) { replies++; if (turnDone) turnDone(); }
});
const cpu1 = c.cpu(), t1 = c.now();

let sent = 0;
for (let u = 0; u < utterances; u++) {
  const done = new Promise((r) => { turnDone = r; });
  for (const chunk of chunks) {
    session.sendRealtimeInput({ audio: { data: chunk.toString('base64'), mimeType: c.mime } });
    sent++;
  }
  await done;
}
const cpu2 = c.cpu(), t2 = c.now();
session.close();

const audioS = sent * 0.02;
c.result({
  workload: 'stream',
  audio_seconds: audioS,
  chunks: sent,
  replies,
  reply_audio_seconds: audioBytes / 48000,
  reply_deltas: deltas,
  connect_cpu: cpu1 - cpu0,
  stream_cpu: cpu2 - cpu1,
  stream_wall: t2 - t1,
  stream_cpu_per_audio_hour: ((cpu2 - cpu1) * 3600) / audioS,
});
process.exit(0);
