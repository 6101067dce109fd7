// Shared pieces of the @google/genai side of the benchmarks (bench/run.sh runs them).
// The SDK comes from the simulator's node_modules (installed by `make deps`); Node must be
// started with NODE_EXTRA_CA_CERTS naming the simulator's CA, which run.sh does.
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';

const genai = await import(new URL('../../spec/livesim/node_modules/@google/genai/dist/node/index.mjs', import.meta.url));
export const { GoogleGenAI, Modality } = genai;

export const model = 'gemini-2.5-flash-native-audio-preview-09-2025';
export const simHttp = process.env.BENCH_SIM_HTTP;
export const simKey = process.env.BENCH_SIM_KEY || 'test-key';

export function envNumber(name, dflt) {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && process.env[name] !== '' && process.env[name] !== undefined ? v : dflt;
}

export function client() {
  if (!simHttp) throw new Error('BENCH_SIM_HTTP is not set: run the benchmarks through bench/run.sh');
  return new GoogleGenAI({ apiKey: simKey, httpOptions: { baseUrl: simHttp } });
}

// What the Lua side's session options put on the wire: audio out, automatic activity
// detection, session resumption on (the Lua module's default).
export const sessionConfig = { responseModalities: [Modality.AUDIO], sessionResumption: {} };

// Opens a session and resolves once setupComplete arrived. `onMessage(msg)` sees every
// later message.
export async function open(ai, onMessage) {
  let ready;
  const setup = new Promise((resolve) => { ready = resolve; });
  let isReady = false;
  const session = await ai.live.connect({
    model,
    config: sessionConfig,
    callbacks: {
      onmessage: (msg) => {
        if (!isReady && msg.setupComplete) { isReady = true; ready(); return; }
        onMessage(msg);
      },
      onerror: (e) => { console.error('session error', e && e.message); },
      onclose: () => {},
    },
  });
  await setup;
  return session;
}

// The PCM bytes of a server message's audio parts (what the Lua side gets as msg.audio).
export function audioOf(msg) {
  const parts = msg.serverContent && msg.serverContent.modelTurn && msg.serverContent.modelTurn.parts;
  if (!parts) return null;
  let out = null;
  for (const p of parts) {
    if (p.inlineData && p.inlineData.data) {
      const b = Buffer.from(p.inlineData.data, 'base64');
      out = out ? Buffer.concat([out, b]) : b;
    }
  }
  return out;
}

// One utterance as 20 ms chunks of 16 kHz PCM: `speech` s of a 220 Hz tone, then silence.
export function utteranceChunks(speech, silence) {
  const rate = 16000, chunk = 320;
  const nSpeech = Math.round(speech * 50);
  const nTotal = nSpeech + Math.round(silence * 50);
  const chunks = [];
  for (let c = 0; c < nTotal; c++) {
    const b = Buffer.alloc(chunk * 2);
    if (c < nSpeech) {
      for (let i = 0; i < chunk; i++) {
        const n = c * chunk + i;
        b.writeInt16LE(Math.floor(8000 * Math.sin(2 * Math.PI * 220 * n / rate)), i * 2);
      }
    }
    chunks.push(b);
  }
  return chunks;
}

export const mime = 'audio/pcm;rate=16000';

// CPU seconds (user + system) of this process so far.
export const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
export const now = () => performance.now() / 1000;           // monotonic seconds
export const wall = () => (performance.timeOrigin + performance.now()) / 1000; // epoch seconds

export function rssKiB() {
  const s = fs.readFileSync('/proc/self/status', 'utf8');
  return [Number(/VmRSS:\s+(\d+)/.exec(s)[1]), Number(/VmHWM:\s+(\d+)/.exec(s)[1])];
}

export function percentile(values, p) {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.max(0, Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1))];
}

export function result(t) {
  t.side = 'node';
  process.stdout.write(`RESULT ${JSON.stringify(t)}\n`);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
