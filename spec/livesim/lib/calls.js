'use strict';
// Function calls of a connection (mixed into Connection): the toolCall the model sends (whole,
// or on Vertex streamed as partialArgs when asked), and the client's toolResponse, honouring
// NON_BLOCKING declarations and the responses' scheduling and willContinue.
const crypto = require('node:crypto');
const { invalid, policy } = require('./errors');
const { check, FUNCTION_RESPONSE } = require('./setup');
const model = require('./model');
const frames = require('./frames');
const realism = require('./realism');

const FRAGMENT_CHARS = 4;

// What the Gemini API says when realtime input comes while the model waits for a blocking
// call's result (some models say "The operation was aborted." instead).
const INPUT_DURING_CALL = 'Operation is not implemented, or supported, or enabled.';

// Checks one functionResponse the way the service parses it (FunctionResponse: unknown names,
// Gemini-only willContinue, value types, its parts); throws a 1007 CloseError.
function checkResponse(r, i, backend) {
  if (!r || typeof r !== 'object' || Array.isArray(r)) throw invalid();
  check(r, FUNCTION_RESPONSE, `toolResponse.functionResponses[${i}]`, backend);
}

// JSON-path leaves of the arguments as PartialArg fragments: strings in pieces of a few
// characters (all but the last marked willContinue), numbers, booleans and null whole. Empty
// objects and arrays have no leaf, so they do not appear.
function partialArgs(value, path = '$') {
  if (Array.isArray(value)) return value.flatMap((v, i) => partialArgs(v, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => partialArgs(v, /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`));
  }
  if (typeof value === 'string') {
    const pieces = value.match(new RegExp(`[\\s\\S]{1,${FRAGMENT_CHARS}}`, 'gu')) || [''];
    return pieces.map((p, i) => (i < pieces.length - 1
      ? { jsonPath: path, stringValue: p, willContinue: true }
      : { jsonPath: path, stringValue: p }));
  }
  if (typeof value === 'number') return [{ jsonPath: path, numberValue: value }];
  if (typeof value === 'boolean') return [{ jsonPath: path, boolValue: value }];
  return [{ jsonPath: path, nullValue: 'NULL_VALUE' }];
}

module.exports = {
  callId() {
    if (this.backend === 'vertex') return crypto.randomUUID();
    return `function-call-${crypto.randomBytes(8).readBigUInt64BE() % 10000000000000000000n}`;
  },

  blockingPending() {
    for (const call of this.pendingCalls.values()) if (call.blocking) return true;
    return false;
  },

  // The service closes the connection when any realtimeInput arrives while a blocking call is
  // unanswered (field reports on the Gemini API; Vertex is assumed to do the same, unverified).
  // Behaviour `inputDuringCall: "interrupt"` keeps the older model: such input interrupts and
  // cancels the calls. The record's `inputDuringCall` tells tests why the connection closed.
  refuseInputDuringCall(members) {
    if (this.behaviour.inputDuringCall !== 'close' || !this.blockingPending()) return;
    const calls = [...this.pendingCalls].filter(([, c]) => c.blocking).map(([id]) => id);
    this.record.inputDuringCall = { members, calls, messageIndex: this.messageIndex };
    throw policy(INPUT_DURING_CALL);
  },

  isNonBlocking(name) {
    const decl = this.cfg.functions.find((f) => f.name === name);
    return !!decl && decl.behavior === 'NON_BLOCKING';
  },

  // The model's toolCall. With blocking calls among them the model waits for their results;
  // with NON_BLOCKING calls only it goes on talking in the same turn.
  sendToolCall(reply, calls) {
    const functionCalls = calls.map((c) => ({ id: this.callId(), name: c.name, args: c.args }));
    for (const fc of functionCalls) this.pendingCalls.set(fc.id, { name: fc.name, blocking: !this.isNonBlocking(fc.name) });
    this.session.history.push({ role: 'model', functionCalls, tokens: { TEXT: model.textTokens(JSON.stringify(functionCalls)) } });
    if (realism.has(this, 'code-before-call')) {
      const code = { language: 'PYTHON', code: realism.callsAsCode(functionCalls) };
      this.send({ serverContent: { modelTurn: frames.modelTurn(this.backend, [{ executableCode: code }]) } });
    }
    if (this.backend === 'vertex' && this.behaviour.partialArgs) this.streamCalls(functionCalls);
    else this.send({ toolCall: { functionCalls } });
    this.outputFrames++;
    if (this.trigger('turn')) return;
    if (this.blockingPending()) {
      this.reply = null;
      if (this.backend === 'vertex' && realism.has(this, 'generation-after-call')) {
        this.send({ serverContent: { generationComplete: true } });
      }
      if (this.cfg.resumption) this.sendResumptionUpdate(false);
    } else {
      this.speak(reply, model.describeStarted(functionCalls));
    }
  },

  // Vertex streamed function calls, one call after the other: the call announced with
  // willContinue, its arguments as partialArgs fragments, then the call without willContinue
  // (carrying the whole args only with partialArgs "with-args").
  streamCalls(functionCalls) {
    for (const { id, name, args } of functionCalls) {
      this.send({ toolCall: { functionCalls: [{ id, name, willContinue: true }] } });
      for (const pa of partialArgs(args)) {
        this.send({ toolCall: { functionCalls: [{ id, name, partialArgs: [pa], willContinue: true }] } });
      }
      const last = this.behaviour.partialArgs === 'with-args' ? { id, name, args } : { id, name };
      this.send({ toolCall: { functionCalls: [last] } });
    }
  },

  onToolResponse(tr) {
    const responses = tr.functionResponses;
    if (!Array.isArray(responses)) throw invalid();
    responses.forEach((r, i) => checkResponse(r, i, this.backend));
    this.consume('toolResponse', responses.map((r) => r.id || r.name || '').join(','));
    const answered = [];
    const background = [];
    for (const r of responses) {
      if (this.backend === 'gemini' && !r.id) throw invalid();
      // Vertex does not require ids; match by name there.
      const id = r.id || [...this.pendingCalls.keys()].find((k) => this.pendingCalls.get(k).name === r.name);
      // Responses to cancelled, finished or unknown calls are ignored, as after a barge-in race.
      if (!id || !this.pendingCalls.has(id)) continue;
      const call = this.pendingCalls.get(id);
      const result = { id, name: r.name || call.name, response: r.response };
      if (call.blocking) {
        // Scheduling and willContinue apply to NON_BLOCKING calls only.
        this.pendingCalls.delete(id);
        answered.push(result);
        continue;
      }
      // A generator call (willContinue) stays open for more responses; Vertex ignores scheduling.
      if (r.willContinue !== true) this.pendingCalls.delete(id);
      const scheduling = this.backend === 'gemini' && r.scheduling && r.scheduling !== 'SCHEDULING_UNSPECIFIED'
        ? r.scheduling : 'WHEN_IDLE';
      background.push({ ...result, scheduling });
    }
    const all = answered.concat(background);
    if (!all.length) return;
    this.session.history.push({ role: 'user', functionResponses: all, tokens: { TEXT: model.textTokens(JSON.stringify(all)) } });
    for (const b of background) this.schedule(b);
    if (answered.length) {
      this.toolResults = (this.toolResults || []).concat(answered);
      if (!this.blockingPending()) {
        const say = model.describeResults(this.toolResults);
        this.toolResults = null;
        if (this.reply) this.queued.unshift({ say }); else this.startReply({ say });
      }
    }
  },

  // The result of a NON_BLOCKING call: SILENT only joins the context; WHEN_IDLE is reported
  // once the model is idle; INTERRUPT cuts what the model is saying and reports at once. While
  // the model waits for a blocking call, results wait too.
  schedule(result) {
    if (result.scheduling === 'SILENT') return;
    const input = { say: model.describeResults([result]) };
    if (this.blockingPending()) this.queued.push(input);
    else if (!this.reply) this.startReply(input);
    else if (result.scheduling === 'INTERRUPT' && this.stopReply('toolResponse')) this.startReply(input);
    else this.queued.push(input);
  },
};
