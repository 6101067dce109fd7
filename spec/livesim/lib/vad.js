'use strict';
// Energy-based voice activity detection on 16-bit little-endian PCM. Time is audio time (sample
// counts at the declared rate), never wall-clock, so results do not depend on how fast a client
// streams.

const WINDOW_MS = 10;
// RMS thresholds in sample units (full scale 32767): about -34 dBFS for HIGH start sensitivity,
// -26 dBFS for LOW.
const THRESHOLD = { HIGH: 650, LOW: 1650 };
// Speech must last this long before it counts as an onset.
const ONSET_MS = { HIGH: 20, LOW: 60 };

class Vad {
  constructor({ sensitivity = 'HIGH', silenceMs = 500 } = {}) {
    this.threshold = THRESHOLD[sensitivity] || THRESHOLD.HIGH;
    this.onsetMs = ONSET_MS[sensitivity] || ONSET_MS.HIGH;
    this.silenceMs = silenceMs;
    this.speaking = false;
    this.voicedMs = 0;
    this.silentMs = 0;
    // Samples of a window not completed by the previous chunk.
    this.carrySum = 0;
    this.carryCount = 0;
    this.rate = 16000;
    // Audio time (ms since the first sample) of the completed windows, and where the current
    // run of voiced windows and of silent windows began: the edges reported to the client.
    this.t = 0;
    this.voicedFrom = 0;
    this.silentFrom = 0;
  }

  // Feeds PCM bytes; returns the edges found in this chunk, in order, as
  // [{type: 'start'|'end', at, found}] in audio time (ms): `at` is the edge of speech (the first
  // voiced window for a start, the first of the silent windows that ended it for an end),
  // `found` when the detector decided it.
  push(pcm, rate) {
    this.rate = rate;
    const windowSamples = Math.max(1, Math.round((rate * WINDOW_MS) / 1000));
    const windowMs = (windowSamples * 1000) / rate;
    const samples = pcm.length >> 1;
    const edges = [];
    let sum = this.carrySum;
    let count = this.carryCount;
    for (let i = 0; i < samples; i++) {
      const s = pcm.readInt16LE(i << 1);
      sum += s * s;
      if (++count === windowSamples) {
        const type = this.window(Math.sqrt(sum / count) >= this.threshold, windowMs);
        if (type) edges.push({ type, at: type === 'start' ? this.voicedFrom : this.silentFrom, found: this.t });
        sum = 0;
        count = 0;
      }
    }
    this.carrySum = sum;
    this.carryCount = count;
    return edges;
  }

  window(voiced, windowMs) {
    const start = this.t;
    this.t += windowMs;
    if (!this.speaking) {
      if (voiced && this.voicedMs === 0) this.voicedFrom = start;
      this.voicedMs = voiced ? this.voicedMs + WINDOW_MS : 0;
      if (this.voicedMs >= this.onsetMs) {
        this.speaking = true;
        this.silentMs = 0;
        return 'start';
      }
      return null;
    }
    if (!voiced) {
      if (this.silentMs === 0) this.silentFrom = start;
      this.silentMs += WINDOW_MS;
    } else {
      this.silentMs = 0;
    }
    if (this.silentMs >= this.silenceMs) {
      this.speaking = false;
      this.voicedMs = 0;
      return 'end';
    }
    return null;
  }

  // Audio time (ms) of everything pushed so far, the incomplete window included.
  now() {
    return this.t + (this.carryCount * 1000) / this.rate;
  }

  // audioStreamEnd: the client will send no more audio, so pending speech is over. Returns the
  // end edge ({type: 'end', at, found}) or null: speech ended where the trailing silence began,
  // or with the last sample when there was none.
  flush() {
    const was = this.speaking;
    const found = this.now();
    const at = this.silentMs > 0 ? this.silentFrom : found;
    this.speaking = false;
    this.voicedMs = 0;
    this.silentMs = 0;
    return was ? { type: 'end', at, found } : null;
  }
}

module.exports = { Vad };
