#!/usr/bin/env node
'use strict';
// Load test: N concurrent Gemini sessions, each streaming 16 kHz PCM in real time (20 ms chunks:
// 1 s of "speech", then silence) with automatic activity detection, and receiving the paced
// audio replies. Reports reply latency, output pacing, sender lag and the simulator's CPU use.
//
//   node load.js [--sessions 200] [--seconds 30] [--url http://host:port] [-- server args...]
//
// Without --url the simulator is started as a child process (extra server args after "--").
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const readline = require('node:readline');
const WebSocket = require('ws');

function parse(argv) {
  const o = { sessions: 200, seconds: 30, url: null, serverArgs: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--') { o.serverArgs = argv.slice(i + 1); break; }
    if (argv[i] === '--sessions') o.sessions = Number(argv[++i]);
    else if (argv[i] === '--seconds') o.seconds = Number(argv[++i]);
    else if (argv[i] === '--url') o.url = argv[++i];
    else throw new Error(`unknown option ${argv[i]}`);
  }
  return o;
}

function startServer(args) {
  const proc = spawn(process.execPath, [path.join(__dirname, 'server.js'), '--quiet', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve) => {
    readline.createInterface({ input: proc.stdout }).once('line', (line) => resolve({ proc, base: line.split(' ')[1] }));
  });
}

// Total CPU seconds (user + system) of a process, from /proc.
function cpuSeconds(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

function rssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Math.round(Number(m[1]) / 1024);
  } catch {
    return NaN;
  }
}

const pct = (arr, p) => {
  if (!arr.length) return NaN;
  const s = [...arr].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

// Pre-encoded client messages: the per-chunk cost on the client side is one ws.send.
function chunkMessage(amplitude, phase) {
  const pcm = Buffer.alloc(640);
  for (let i = 0; i < 320; i++) pcm.writeInt16LE(Math.round(Math.sin((2 * Math.PI * 300 * (phase + i)) / 16000) * amplitude), i * 2);
  return JSON.stringify({ realtimeInput: { audio: { mimeType: 'audio/pcm;rate=16000', data: pcm.toString('base64') } } });
}

async function main() {
  const o = parse(process.argv.slice(2));
  const server = o.url ? null : await startServer(o.serverArgs);
  const base = o.url || server.base;
  const wsUrl = `${base.replace(/^http/, 'ws')}/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=test-key`;
  const SPEECH = chunkMessage(8000, 0);
  const SILENCE = chunkMessage(0, 0);
  const CYCLE = 150; // chunks per cycle: 1 s speech + 2 s silence
  const SPEECH_CHUNKS = 50;
  const SILENCE_MS = 300;

  const stats = { latency: [], pacing: [], turns: 0, userTurns: 0, closes: {}, errors: 0 };
  const sessions = [];
  await Promise.all(Array.from({ length: o.sessions }, (_, k) => new Promise((resolve) => {
    const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
    const s = { ws, ready: false, offset: k % CYCLE, speechEndAt: 0, firstAudio: 0, audioTimes: [] };
    sessions.push(s);
    ws.on('open', () => ws.send(JSON.stringify({
      setup: {
        model: 'models/gemini-live-2.5-flash-preview',
        generationConfig: { responseModalities: ['AUDIO'] },
        outputAudioTranscription: {},
        realtimeInputConfig: { automaticActivityDetection: { silenceDurationMs: SILENCE_MS } },
      },
    })));
    ws.on('message', (data) => {
      const t = performance.now();
      const text = data.toString();
      if (!s.ready) { s.ready = true; resolve(); return; }
      if (text.includes('"inlineData"')) {
        if (!s.audioTimes.length && s.speechEndAt) stats.latency.push(t - s.speechEndAt);
        s.audioTimes.push(t);
      } else if (text.includes('"turnComplete"')) {
        stats.turns++;
        const n = s.audioTimes.length;
        if (n > 1) stats.pacing.push(s.audioTimes[n - 1] - s.audioTimes[0] - (n - 1) * 40);
        s.audioTimes = [];
        s.speechEndAt = 0;
      }
    });
    ws.on('error', () => { stats.errors++; resolve(); });
    ws.on('close', (code) => { stats.closes[code] = (stats.closes[code] || 0) + 1; });
  })));

  // One ticker drives every session, catching up if it woke late, so each session sends
  // exactly 50 chunks per second of wall-clock time.
  const t0 = performance.now();
  const cpu0 = server ? cpuSeconds(server.proc.pid) : NaN;
  let sent = 0;
  const lag = [];
  await new Promise((done) => {
    const tick = () => {
      const elapsed = performance.now() - t0;
      const due = Math.floor(elapsed / 20);
      if (due - sent > 1) lag.push((due - sent - 1) * 20);
      while (sent < due) {
        for (const s of sessions) {
          if (s.ws.readyState !== 1) continue;
          const pos = (sent + s.offset) % CYCLE;
          s.ws.send(pos < SPEECH_CHUNKS ? SPEECH : SILENCE);
          // The chunk that completes the silence window: the turn ends in audio time here.
          if (pos === SPEECH_CHUNKS + SILENCE_MS / 20 - 1) { s.speechEndAt = performance.now(); stats.userTurns++; }
        }
        sent++;
      }
      if (elapsed >= o.seconds * 1000) return done();
      setTimeout(tick, 20 - (elapsed % 20));
    };
    tick();
  });
  const wall = (performance.now() - t0) / 1000;
  const cpu = server ? cpuSeconds(server.proc.pid) - cpu0 : NaN;
  const rss = server ? rssMb(server.proc.pid) : NaN;
  for (const s of sessions) s.ws.close();
  await new Promise((r) => setTimeout(r, 300));

  const result = {
    sessions: o.sessions,
    seconds: Math.round(wall),
    chunksSentPerSession: sent,
    repliesCompleted: stats.turns,
    userTurns: stats.userTurns,
    replyLatencyMs: { p50: Math.round(pct(stats.latency, 50)), p95: Math.round(pct(stats.latency, 95)), p99: Math.round(pct(stats.latency, 99)) },
    note: 'latency: sending the chunk that completes the 300 ms silence window to the first reply audio frame',
    pacingErrorMs: { p50: Math.round(pct(stats.pacing, 50)), p99: Math.round(pct(stats.pacing, 99)) },
    senderLagMs: { max: lag.length ? Math.max(...lag) : 0 },
    serverCpuPercent: Math.round((cpu / wall) * 100),
    serverRssMb: rss,
    errors: stats.errors,
    closes: stats.closes,
  };
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  if (server) server.proc.kill('SIGTERM');
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
