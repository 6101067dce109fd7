'use strict';
// Client content of a connection (mixed into Connection): turns appended to the session history,
// answered or kept as context.
const { invalid } = require('./errors');
const model = require('./model');

module.exports = {
  onClientContent(cc) {
    const turns = cc.turns || [];
    if (!Array.isArray(turns)) throw invalid();
    const texts = [];
    for (const turn of turns) {
      if (!turn || !Array.isArray(turn.parts)) throw invalid();
      const text = turn.parts.filter((p) => p && typeof p.text === 'string').map((p) => p.text).join('');
      this.session.history.push({ role: turn.role === 'model' ? 'model' : 'user', text, tokens: { TEXT: model.textTokens(text) } });
      if (turn.role !== 'model') texts.push(text);
    }
    this.consume('clientContent', texts.join('\n'));
    this.interruptBy('clientContent');
    if (cc.turnComplete === true) {
      const last = [...this.session.history].reverse().find((t) => t.role === 'user');
      this.submitTurn({ text: last ? last.text : '', transcript: null, tokens: {}, inHistory: true });
    }
  },
};
