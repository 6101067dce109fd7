// Workload 4, "latency", with @google/genai: the same stream and the same measurement as
// bench/latency.lua. Timestamps use performance.timeOrigin + performance.now(), the
// simulator's own clock (epoch milliseconds, sub-millisecond resolution):
//   down: simulator writes the n-th audio frame -> onmessage holds its PCM (a Buffer)
//   up:   just before the n-th sendRealtimeInput -> the simulator has read that frame
import fs from 'node:fs';
import * as c from './common.mjs';

const seconds = c.envNumber('BENCH_LATENCY_SECONDS', 30);
const chunks = c.utteranceChunks(1, 2);
const sendWall = [], sendRet = [], recvWall = [];

const ai = c.client();
const session = await c.open(ai, (msg) => {
  const pcm = c.audioOf(msg);
  if (pcm) recvWall.push(c.wall());
});

const t0 = c.now() + 0.05;
const ticks = Math.round(seconds * 50);
for (let k = 0; k < ticks; k++) {
  await c.sleep((t0 + k * 0.02 - c.now()) * 1000);
  const chunk = chunks[k % chunks.length];
  const w = c.wall();
  session.sendRealtimeInput({ audio: { data: chunk.toString('base64'), mimeType: c.mime } });
  sendRet.push(process.hrtime.bigint());
  sendWall.push(w);
}
// let a reply in progress finish
let last = recvWall.length;
for (;;) {
  await c.sleep(1000);
  if (recvWall.length === last) break;
  last = recvWall.length;
}
session.close();

const get = async (path) => (await fetch(`${c.simHttp}${path}`)).json();
const conns = await get('/_sim/connections');
const conn = conns[conns.length - 1];
const { frames } = await get(`/_sim/connections/${conn.id}/frames`);
const simIn = [], simOut = [];
for (const f of frames) {
  if (f.dir === 'in' && f.text.includes('"realtimeInput"') && f.text.includes('"audio"')) simIn.push(f.t / 1000);
  else if (f.dir === 'out' && f.text.includes('"inlineData"')) simOut.push(f.t / 1000);
}
const up = [], down = [];
for (let i = 0; i < Math.min(sendWall.length, simIn.length); i++) up.push((simIn[i] - sendWall[i]) * 1000);
for (let i = 0; i < Math.min(recvWall.length, simOut.length); i++) down.push((recvWall[i] - simOut[i]) * 1000);

if (process.env.BENCH_APPEND_TIMES) fs.writeFileSync(process.env.BENCH_APPEND_TIMES, sendRet.map(String).join('\n') + '\n');
c.result({
  workload: 'latency',
  appends: sendWall.length, sim_audio_in: simIn.length,
  deltas: recvWall.length, sim_audio_out: simOut.length,
  up_p50_ms: c.percentile(up, 50), up_p99_ms: c.percentile(up, 99), up_max_ms: c.percentile(up, 100),
  down_p50_ms: c.percentile(down, 50), down_p99_ms: c.percentile(down, 99), down_max_ms: c.percentile(down, 100),
  frames_dropped: conn.framesDropped,
});
process.exit(0);
