'use strict';
// The turn engine of a connection (mixed into Connection): user turns from activity detection
// or text, the model's replies paced like real-time output, interruption, usage accounting and
// the end of each turn.
const model = require('./model');
const frames = require('./frames');
const realism = require('./realism');
const transcripts = require('./transcripts');
const { now } = require('./clock');

// The thought part a reply starts with when the setup asks for thoughts (includeThoughts).
const THOUGHT = 'Considering how to answer.';

module.exports = {
  // A user turn whose speech began at input audio time `startAt` (ms).
  beginUserTurn(startAt) {
    this.interruptBy('activity');
    this.userTurn = { audioMs: 0, startAt, interimWords: 0, interim: null };
  },

  // Ends the user turn whose speech stopped at input audio time `endAt` (ms).
  endUserTurn(endAt) {
    const turn = this.userTurn;
    this.userTurn = null;
    if (!turn) return;
    const heard = this.behaviour.heard;
    this.finishInterims(turn, heard);
    this.submitTurn({
      text: heard, transcript: heard, tokens: { AUDIO: model.audioTokens(turn.audioMs) },
      span: { startMs: turn.startAt, endMs: endAt },
    });
  },

  // User activity during model output stops it, unless setup asked for NO_INTERRUPTION, and
  // cancels the blocking calls the model waits for (NON_BLOCKING calls run on).
  interruptBy(cause) {
    if (!this.cfg.interrupts) return;
    this.stopReply(cause);
    const ids = [...this.pendingCalls.keys()].filter((id) => this.pendingCalls.get(id).blocking);
    if (ids.length) {
      this.send({ toolCallCancellation: { ids } });
      for (const id of ids) this.pendingCalls.delete(id);
      this.toolResults = null;
    }
  },

  // Cuts the reply being sent: `interrupted`, then its turnComplete. Returns whether one was cut.
  stopReply(cause) {
    if (!this.reply || this.reply.finishing) return false;
    const r = this.reply;
    r.cancelled = true;
    this.cancel(r.timer);
    this.reply = null;
    this.record.lastInterruption = cause;
    this.send({ serverContent: { interrupted: true } });
    this.completeTurn(r, true);
    return true;
  },

  // The model is busy while it speaks or waits for the result of a blocking call.
  busy() {
    return !!this.reply || this.blockingPending();
  },

  // A user turn: its input transcription goes out at once, independent of the model's output;
  // the model answers it now, or after what it is busy with.
  submitTurn(input) {
    if (input.transcript && this.cfg.inputTranscription) {
      const t = transcripts.inputTranscription(this.cfg.inputTranscription, input.transcript, input.span);
      this.send({ serverContent: { inputTranscription: t } });
    }
    if (!input.inHistory) {
      const tokens = { ...input.tokens };
      if (this.pendingVideoTokens) { tokens.VIDEO = this.pendingVideoTokens; this.pendingVideoTokens = 0; }
      this.session.history.push({ role: 'user', text: input.text, tokens });
    }
    if (this.busy()) {
      this.queued.push(input);
      return;
    }
    this.startReply(input);
  },

  // Starts the model's answer to `input` ({text} from the user, or {say} after tool results).
  startReply(input) {
    const reply = { cancelled: false, finishing: false, steps: null, i: 0, sent: { AUDIO: 0, TEXT: 0 }, text: '', toolUse: 0 };
    this.reply = reply;
    this.turns++;
    const history = this.session.history.slice(0, -1);
    const decision = input.say !== undefined ? { text: input.say } : model.respond(input.text, this.cfg, history);
    const go = () => {
      if (reply.cancelled || this.closed) return;
      if (decision.calls) this.sendToolCall(reply, decision.calls);
      else if (decision.waiting) this.waitForInput(reply);
      else this.speak(reply, decision.text, decision);
    };
    if (this.delayMs) reply.timer = this.after(this.delayMs, go); else go();
  },

  // Streams `text` as the reply's audio or text. What built-in tools produced (`ran`, see
  // builtins.run) goes around it: code parts first, grounding and URL metadata after.
  speak(reply, text, ran = {}) {
    reply.text = text;
    const stream = (plan) => {
      if (reply.cancelled || this.closed) return;
      const steps = this.cfg.outputTranscription ? plan : plan.filter((s) => s.kind !== 'transcript');
      const end = steps.length ? steps[steps.length - 1].at : 0;
      const first = [];
      if (this.cfg.modality === 'AUDIO' && this.cfg.outputTranscription && realism.has(this, 'empty-transcription')) {
        first.push({ at: 0, kind: 'meta', frame: frames.encode({ serverContent: { outputTranscription: {} } }) });
      }
      reply.steps = [...first, ...this.toolSteps(ran, 'before', 0), ...steps, ...this.toolSteps(ran, 'after', end)];
      if (ran.toolUseText) reply.toolUse = model.textTokens(ran.toolUseText);
      reply.t0 = now();
      this.pump(reply);
    };
    if (this.cfg.modality === 'TEXT') {
      stream(frames.textPlan(this.backend, text));
    } else {
      const voice = this.sim.voices[this.behaviour.voice];
      const chunks = this.backend === 'vertex' && realism.has(this, 'audio-chunks') ? realism.VERTEX_CHUNKS_MS : undefined;
      voice.synth(text).then((pcm) => stream(frames.audioPlan(this.backend, voice.kind, text, pcm, chunks)));
    }
  },

  // The model expects the user to go on (the text trailed off): it says nothing, sends
  // `waitingForInput`, and ends the turn.
  waitForInput(reply) {
    this.send({ serverContent: { waitingForInput: true } });
    this.reply = null;
    this.completeTurn(reply, false);
  },

  // Steps of the frames built-in tools add to a reply: executableCode and codeExecutionResult
  // parts before the answer; groundingMetadata and urlContextMetadata, each alone, after it.
  toolSteps(ran, where, at) {
    const part = (p, text) => ({ at, kind: 'part', text, frame: frames.encode({ serverContent: { modelTurn: frames.modelTurn(this.backend, [p]) } }) });
    const meta = (content) => ({ at, kind: 'meta', frame: frames.encode({ serverContent: content }) });
    const steps = [];
    if (where === 'before' && this.cfg.includeThoughts) {
      steps.push(part({ text: THOUGHT, thought: true }, THOUGHT));
    }
    if (where === 'before' && ran.code) {
      steps.push(part({ executableCode: ran.code }, ran.code.code), part({ codeExecutionResult: ran.codeResult }, ''));
    }
    if (where === 'after' && ran.grounding) steps.push(meta({ groundingMetadata: ran.grounding }));
    if (where === 'after' && ran.urlContext) steps.push(meta({ urlContextMetadata: ran.urlContext }));
    return steps;
  },

  // Sends every step that is due, then sleeps until the next one (real-time pacing), or sends
  // them back to back with --pace fast (yielding so interruptions are still noticed).
  pump(reply) {
    if (reply.cancelled || this.closed || this.stalled) return;
    const fast = this.behaviour.pace === 'fast';
    const elapsed = now() - reply.t0;
    const steps = reply.steps;
    let burst = 0;
    while (reply.i < steps.length && (fast ? burst < 25 : steps[reply.i].at <= elapsed)) {
      const s = steps[reply.i++];
      this.sendFrame(s.frame);
      if (s.kind === 'audio') reply.sent.AUDIO += s.ms;
      else if (s.kind === 'text' || s.kind === 'part') reply.sent.TEXT += model.textTokens(s.text);
      this.outputFrames++;
      burst++;
      if (this.trigger('turn') || reply.cancelled) return;
    }
    if (reply.i < steps.length) {
      if (fast) setImmediate(() => this.pump(reply));
      else reply.timer = this.after(steps[reply.i].at - (now() - reply.t0), () => this.pump(reply));
      return;
    }
    reply.finishing = true;
    this.send({ serverContent: { generationComplete: true } });
    this.reply = null;
    this.completeTurn(reply, false);
  },

  usage(reply) {
    const prompt = {};
    for (const turn of this.session.history) {
      for (const [m, n] of Object.entries(turn.tokens || {})) if (n) prompt[m] = (prompt[m] || 0) + n;
    }
    const response = {};
    if (reply.sent.AUDIO) response.AUDIO = model.audioTokens(reply.sent.AUDIO);
    if (reply.sent.TEXT) response.TEXT = reply.sent.TEXT;
    const sum = (o) => Object.values(o).reduce((a, b) => a + b, 0);
    const details = (o) => Object.entries(o).map(([modality, tokenCount]) => ({ modality, tokenCount }));
    const p = sum(prompt);
    const r = sum(response);
    const u = { promptTokenCount: p };
    if (this.backend === 'vertex') u.candidatesTokenCount = r; else u.responseTokenCount = r;
    if (reply.toolUse) u.toolUsePromptTokenCount = reply.toolUse;
    u.totalTokenCount = p + r + reply.toolUse;
    u.promptTokensDetails = details(prompt);
    if (this.backend === 'vertex') u.candidatesTokensDetails = details(response);
    else u.responseTokensDetails = details(response);
    if (reply.toolUse) u.toolUsePromptTokensDetails = details({ TEXT: reply.toolUse });
    return u;
  },

  completeTurn(reply, interrupted) {
    // The prompt is the context the reply was generated from, so usage is taken first.
    const usage = this.usage(reply);
    if (reply.text) {
      this.session.history.push({
        role: 'model', text: reply.text, interrupted,
        tokens: { AUDIO: model.audioTokens(reply.sent.AUDIO), TEXT: reply.sent.TEXT },
      });
    }
    const mode = this.behaviour.usage;
    const together = mode === 'together' || (mode === 'alternate' && this.turns % 2 === 1);
    if (mode !== 'none' && !together) this.send({ usageMetadata: usage });
    this.send(mode !== 'none' && together
      ? { serverContent: { turnComplete: true }, usageMetadata: usage }
      : { serverContent: { turnComplete: true } });
    if (this.cfg.resumption) this.sendResumptionUpdate(true);
    if (interrupted) {
      // Queued user input is superseded by what interrupted; tool results still get reported.
      this.queued = this.queued.filter((q) => q.say !== undefined);
    } else if (this.queued.length && !this.blockingPending()) {
      const next = this.queued.shift();
      setImmediate(() => {
        if (this.closed) return;
        if (this.busy()) this.queued.unshift(next); else this.startReply(next);
      });
    }
  },

  sendResumptionUpdate(resumable) {
    const update = resumable
      ? { newHandle: this.sim.registry.issueHandle(this.session, this), resumable: true }
      : { newHandle: '', resumable: false };
    if (this.cfg.resumption.transparent) update.lastConsumedClientMessageIndex = String(this.messageIndex);
    this.send({ sessionResumptionUpdate: update });
  },
};
