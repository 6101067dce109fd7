'use strict';
// Turns reply text into 24 kHz 16-bit mono PCM: real speech through espeak-ng when available,
// otherwise a deterministic tone pattern (one beep per word). Results are cached because a
// benchmark repeats the same few replies thousands of times.
const { spawn, spawnSync } = require('node:child_process');

const RATE = 24000;
const CACHE_LIMIT = 256;

function hasEspeak() {
  try {
    return spawnSync('espeak-ng', ['--version'], { stdio: 'ignore' }).status === 0;
  } catch {
    return false;
  }
}

// Linear interpolation is enough for speech that is only ever checked by ear or by a
// transcriber; it keeps the resampler dependency-free.
function resample(pcm, fromRate, toRate) {
  if (fromRate === toRate) return pcm;
  const inSamples = pcm.length >> 1;
  const outSamples = Math.floor((inSamples * toRate) / fromRate);
  const out = Buffer.alloc(outSamples * 2);
  const step = fromRate / toRate;
  for (let i = 0; i < outSamples; i++) {
    const pos = i * step;
    const j = Math.floor(pos);
    const frac = pos - j;
    const a = pcm.readInt16LE(j * 2);
    const b = j + 1 < inSamples ? pcm.readInt16LE((j + 1) * 2) : a;
    out.writeInt16LE(Math.round(a + (b - a) * frac), i * 2);
  }
  return out;
}

// espeak-ng writes a WAV whose header sizes may be placeholders when streaming to stdout, so
// the data chunk is taken to run to the end of the output.
function wavToPcm(wav) {
  if (wav.toString('ascii', 0, 4) !== 'RIFF') throw new Error('espeak-ng did not produce WAV');
  let off = 12;
  let rate = 22050;
  while (off + 8 <= wav.length) {
    const id = wav.toString('ascii', off, off + 4);
    const size = wav.readUInt32LE(off + 4);
    if (id === 'fmt ') rate = wav.readUInt32LE(off + 12);
    if (id === 'data') return { rate, pcm: wav.subarray(off + 8, Math.min(wav.length, off + 8 + size)) };
    off += 8 + size;
  }
  throw new Error('WAV without data chunk');
}

function espeak(text) {
  return new Promise((resolve, reject) => {
    const child = spawn('espeak-ng', ['--stdout', '-v', 'en-us', '-s', '170', '--', text], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const chunks = [];
    child.stdout.on('data', (c) => chunks.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`espeak-ng exited with ${code}`));
      try {
        const { rate, pcm } = wavToPcm(Buffer.concat(chunks));
        // An odd byte count would misalign every sample after resampling.
        resolve(resample(pcm.subarray(0, pcm.length & ~1), rate, RATE));
      } catch (err) {
        reject(err);
      }
    });
  });
}

// 440 Hz beeps, one per word, 55 ms per letter, separated by 60 ms of silence, with 5 ms fades
// so the chunks do not click.
function tone(text) {
  const words = text.split(/\s+/).filter(Boolean);
  const pieces = [];
  for (const word of words.length ? words : ['']) {
    const n = Math.round((RATE * Math.max(1, word.length) * 55) / 1000);
    const buf = Buffer.alloc(n * 2);
    const fade = RATE * 0.005;
    for (let i = 0; i < n; i++) {
      const env = Math.min(1, i / fade, (n - i) / fade);
      buf.writeInt16LE(Math.round(Math.sin((2 * Math.PI * 440 * i) / RATE) * 8000 * env), i * 2);
    }
    pieces.push(buf, Buffer.alloc(Math.round(RATE * 0.06) * 2));
  }
  return Buffer.concat(pieces);
}

class Voice {
  constructor(kind) {
    this.kind = kind === 'speech' && hasEspeak() ? 'speech' : 'tone';
    this.cache = new Map();
  }

  // Resolves to the PCM of `text`; concurrent requests for one text share one synthesis.
  synth(text) {
    let p = this.cache.get(text);
    if (!p) {
      p = this.kind === 'speech'
        ? espeak(text).catch(() => tone(text))
        : Promise.resolve(tone(text));
      if (this.cache.size >= CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value);
      this.cache.set(text, p);
    }
    return p;
  }
}

module.exports = { Voice, RATE, hasEspeak, resample };
