'use strict';
// Function calls of a connection (mixed into Connection): the toolCall the model sends, and the
// client's toolResponse that answers it.
const crypto = require('node:crypto');
const { invalid } = require('./errors');
const model = require('./model');

module.exports = {
  callId() {
    if (this.backend === 'vertex') return crypto.randomUUID();
    return `function-call-${crypto.randomBytes(8).readBigUInt64BE() % 10000000000000000000n}`;
  },

  sendToolCall(reply, calls) {
    const functionCalls = calls.map((c) => ({ id: this.callId(), name: c.name, args: c.args }));
    for (const fc of functionCalls) this.pendingCalls.set(fc.id, { name: fc.name });
    this.session.history.push({ role: 'model', functionCalls, tokens: { TEXT: model.textTokens(JSON.stringify(functionCalls)) } });
    this.reply = null;
    this.send({ toolCall: { functionCalls } });
    this.outputFrames++;
    if (this.trigger('turn')) return;
    if (this.cfg.resumption) this.sendResumptionUpdate(false);
  },

  onToolResponse(tr) {
    const responses = tr.functionResponses;
    if (!Array.isArray(responses)) throw invalid();
    this.consume('toolResponse', responses.map((r) => (r && r.id) || (r && r.name) || '').join(','));
    const answered = [];
    for (const r of responses) {
      if (!r || typeof r !== 'object') throw invalid();
      if (this.backend === 'gemini' && !r.id) throw invalid();
      // Vertex does not require ids; match by name there.
      const id = r.id || [...this.pendingCalls.keys()].find((k) => this.pendingCalls.get(k).name === r.name);
      // Responses to cancelled or unknown calls are ignored, as after a barge-in race.
      if (!id || !this.pendingCalls.has(id)) continue;
      const call = this.pendingCalls.get(id);
      this.pendingCalls.delete(id);
      answered.push({ id, name: r.name || call.name, response: r.response });
    }
    if (!answered.length) return;
    const tokens = model.textTokens(JSON.stringify(answered));
    this.session.history.push({ role: 'user', functionResponses: answered, tokens: { TEXT: tokens } });
    this.toolResults = (this.toolResults || []).concat(answered);
    if (this.pendingCalls.size === 0) {
      const results = this.toolResults;
      this.toolResults = null;
      this.startReply({ say: model.describeResults(results), tokens: {} });
    }
  },
};
