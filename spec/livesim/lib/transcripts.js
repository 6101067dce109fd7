'use strict';
// The details of an input transcript the setup's inputAudioTranscription asks for
// (AudioTranscriptionConfig): `languageCode` (the first of `languageCodes`), `speakerLabel`
// (`diarization`) and `words` with their audio time (`wordTimestamp`). There is one user,
// so one speaker; the words share the speech's span evenly, which gives offsets that
// depend on the audio alone.

const SPEAKER = 'speaker-1';

// google.protobuf.Duration with millisecond precision: 1230 ms → "1.230s".
const duration = (ms) => `${(Math.round(ms) / 1000).toFixed(3)}s`;

// What the setup asked for; null when input transcription is off.
function parseConfig(cfg) {
  if (!cfg) return null;
  const codes = Array.isArray(cfg.languageCodes) ? cfg.languageCodes : [];
  return {
    language: codes.length ? codes[0] : null,
    diarization: cfg.diarization === true,
    words: cfg.wordTimestamp === true,
  };
}

// Each word of `text` with the even share of the speech from `startMs` to `endMs` it takes.
function timedWords(text, startMs, endMs) {
  const all = text.split(/\s+/).filter(Boolean);
  const each = Math.max(0, endMs - startMs) / (all.length || 1);
  return all.map((word, i) => ({
    word, startOffset: duration(startMs + i * each), endOffset: duration(startMs + (i + 1) * each),
  }));
}

// The inputTranscription of a user turn under config `cfg` (parseConfig's); `span`
// ({startMs, endMs} of input audio) when the turn was speech, null for typed text, which has no
// audio time.
function inputTranscription(cfg, text, span) {
  const t = { text };
  if (cfg.language) t.languageCode = cfg.language;
  if (cfg.diarization) t.speakerLabel = SPEAKER;
  if (cfg.words && span) t.words = timedWords(text, span.startMs, span.endMs);
  return t;
}

module.exports = { parseConfig, inputTranscription, duration };
