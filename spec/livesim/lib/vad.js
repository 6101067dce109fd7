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
  }

  // Feeds PCM bytes; returns 'start', 'end', 'start+end' (both inside this chunk) or null.
  push(pcm, rate) {
    const windowSamples = Math.max(1, Math.round((rate * WINDOW_MS) / 1000));
    const samples = pcm.length >> 1;
    let events = '';
    let sum = this.carrySum;
    let count = this.carryCount;
    for (let i = 0; i < samples; i++) {
      const s = pcm.readInt16LE(i << 1);
      sum += s * s;
      if (++count === windowSamples) {
        const ev = this.window(Math.sqrt(sum / count) >= this.threshold);
        if (ev) events += events ? '+' + ev : ev;
        sum = 0;
        count = 0;
      }
    }
    this.carrySum = sum;
    this.carryCount = count;
    return events || null;
  }

  window(voiced) {
    if (!this.speaking) {
      this.voicedMs = voiced ? this.voicedMs + WINDOW_MS : 0;
      if (this.voicedMs >= this.onsetMs) {
        this.speaking = true;
        this.silentMs = 0;
        return 'start';
      }
      return null;
    }
    this.silentMs = voiced ? 0 : this.silentMs + WINDOW_MS;
    if (this.silentMs >= this.silenceMs) {
      this.speaking = false;
      this.voicedMs = 0;
      return 'end';
    }
    return null;
  }

  // audioStreamEnd: the client will send no more audio, so pending speech is over.
  flush() {
    const was = this.speaking;
    this.speaking = false;
    this.voicedMs = 0;
    this.silentMs = 0;
    return was ? 'end' : null;
  }
}

module.exports = { Vad };
