// Workload 2, "fan-out", with @google/genai: the same sessions, audio, phases and 20 ms tick
// as bench/fanout.lua. One timer loop sends a chunk on every session per tick; replies
// arrive through each session's onmessage callback.
import * as c from './common.mjs';

const n = c.envNumber('BENCH_FANOUT_SESSIONS', 200);
const seconds = c.envNumber('BENCH_FANOUT_SECONDS', 60);
const chunks = c.utteranceChunks(1, 2);

let audioBytes = 0, deltas = 0, replies = 0;
const onMessage = (msg) => {
  const pcm = c.audioOf(msg);
  if (pcm) { audioBytes += pcm.length; deltas++; }
  if (msg.serverContent && msg.serverContent.turnComplete) replies++;
};

const cpu0 = c.cpu();
const ai = c.client();
const sessions = [];
for (let i = 0; i < n; i++) sessions.push(await c.open(ai, onMessage));
const cpu1 = c.cpu(), t1 = c.now();
const [connectRss] = c.rssKiB();

const ticks = Math.round(seconds * 50);
let late = 0, maxLag = 0;
for (let k = 0; k < ticks; k++) {
  for (let i = 0; i < n; i++) {
    const chunk = chunks[(k + Math.floor((i * chunks.length) / n)) % chunks.length];
    sessions[i].sendRealtimeInput({ audio: { data: chunk.toString('base64'), mimeType: c.mime } });
  }
  const due = t1 + (k + 1) * 0.02;
  const lag = c.now() - due;
  if (lag > 0) { late++; if (lag > maxLag) maxLag = lag; }
  await c.sleep((due - c.now()) * 1000);
}
const cpu2 = c.cpu(), t2 = c.now();
const [rss, hwm] = c.rssKiB();
for (const s of sessions) s.close();

c.result({
  workload: 'fanout',
  sessions: n,
  seconds: t2 - t1,
  connect_cpu: cpu1 - cpu0,
  stream_cpu: cpu2 - cpu1,
  cpu_percent: (100 * (cpu2 - cpu1)) / (t2 - t1),
  rss_kib: rss,
  rss_after_connect_kib: connectRss,
  hwm_kib: hwm,
  replies,
  reply_audio_seconds: audioBytes / 48000,
  reply_deltas: deltas,
  late_ticks: late,
  max_tick_lag: maxLag,
});
process.exit(0);
