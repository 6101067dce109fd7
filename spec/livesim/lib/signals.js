'use strict';
// What the server says about the user's speech while it listens (mixed into Connection):
// `voiceActivity` (behaviour voiceActivity) and Vertex's `voiceActivityDetectionSignal` (setup
// explicitVadSignal) at the edges automatic activity detection finds, and
// `serverContent.interimInputTranscription` (behaviour interimTranscripts) while a user turn
// lasts. Everything is timed in input audio time, so the same audio gives the same messages.

// One more word of the heard text per this much audio of the user turn.
const INTERIM_EVERY_MS = 200;

const { duration: audioOffset } = require('./transcripts');

// Words with their leading space, so that joining a prefix keeps the heard text's spacing.
const words = (text) => text.match(/\s*\S+/g) || [];

module.exports = {
  // An edge of speech (`type` 'start' or 'end') at audio time `at` (ms); sent before what the
  // edge causes (an interruption, the turn's transcript and reply).
  signalEdge(type, at) {
    if (this.behaviour.voiceActivity) {
      this.send({ voiceActivity: { type: type === 'start' ? 'ACTIVITY_START' : 'ACTIVITY_END', audioOffset: audioOffset(at) } });
    }
    if (this.cfg.explicitVadSignal) {
      this.send({ voiceActivityDetectionSignal: { vadSignalType: type === 'start' ? 'VAD_SIGNAL_TYPE_SOS' : 'VAD_SIGNAL_TYPE_EOS' } });
    }
  },

  interimsOn() {
    return !!(this.behaviour.interimTranscripts && this.cfg.inputTranscription);
  },

  // Sends the interim transcripts due once the user turn has lasted until audio time `t` (ms):
  // each a growing prefix of the heard text, one word more per INTERIM_EVERY_MS.
  interimsUpTo(t) {
    const turn = this.userTurn;
    if (!turn || !this.interimsOn()) return;
    const all = words(this.behaviour.heard);
    while (turn.interimWords < all.length && turn.startAt + (turn.interimWords + 1) * INTERIM_EVERY_MS <= t) {
      turn.interimWords++;
      this.sendInterim(turn, all.slice(0, turn.interimWords).join('').trimStart());
    }
  },

  // At the end of an audio turn the last interim is the whole text the final transcript has.
  finishInterims(turn, heard) {
    if (heard && this.interimsOn() && turn.interim !== heard) this.sendInterim(turn, heard);
  },

  sendInterim(turn, text) {
    turn.interim = text;
    this.send({ serverContent: { interimInputTranscription: { text } } });
  },
};
