'use strict';
// Client content of a connection (mixed into Connection): turns appended to the session history,
// answered (`turnComplete: true`) or kept as context (`false`), and the initial history that a
// Gemini setup with `historyConfig.initialHistoryInClientContent` announces.
const { invalid } = require('./errors');
const { check, unknownName, CONTENT } = require('./setup');
const model = require('./model');

const ROLES = new Set(['user', 'model']);
const CLIENT_CONTENT_FIELDS = new Set(['turns', 'turnComplete']);

// The text of a turn's parts; other parts (media, function calls and responses) carry no text.
const partsText = (parts) => parts.filter((p) => p && typeof p.text === 'string').map((p) => p.text).join('');

module.exports = {
  // While the initial history is open, the service processes client content first: anything
  // else the client sends is held and handled, in order, once the history is complete.
  holdDuringHistory(key, body) {
    if (!this.historyOpen || key === 'clientContent') return false;
    this.held.push({ key, body, index: this.messageIndex });
    return true;
  },

  releaseHeld() {
    const held = this.held;
    this.held = [];
    const current = this.messageIndex;
    try {
      for (const m of held) {
        if (this.closed) return;
        this.messageIndex = m.index;
        this.dispatch(m.key, m.body);
      }
    } finally {
      this.messageIndex = current;
    }
  },

  onClientContent(cc) {
    for (const k of Object.keys(cc)) if (!CLIENT_CONTENT_FIELDS.has(k)) throw unknownName(k, 'clientContent');
    const turns = cc.turns === undefined ? [] : cc.turns;
    if (!Array.isArray(turns)) throw invalid();
    if (cc.turnComplete !== undefined && typeof cc.turnComplete !== 'boolean') {
      throw invalid(`Invalid value at 'client_content.turn_complete' (TYPE_BOOL), ${JSON.stringify(cc.turnComplete)}`);
    }
    const entries = turns.map((turn, i) => {
      if (!turn || typeof turn !== 'object' || !Array.isArray(turn.parts)) throw invalid();
      const role = turn.role === undefined ? 'user' : turn.role;
      if (!ROLES.has(role)) throw invalid(`Please use a valid role: user, model. (client_content.turns[${i}])`);
      // Parts are proto Parts: unknown names and bad values close the socket like anywhere else.
      check(turn, CONTENT, `clientContent.turns[${i}]`, this.backend);
      const text = partsText(turn.parts);
      return { role, text, tokens: { TEXT: model.textTokens(text) } };
    });
    this.session.history.push(...entries);
    this.consume('clientContent', entries.filter((t) => t.role === 'user').map((t) => t.text).join('\n'));

    if (this.historyOpen) {
      // Initial history: never answered, whatever its last turn; it ends at turnComplete.
      if (cc.turnComplete === true) {
        this.historyOpen = false;
        this.releaseHeld();
      }
      return;
    }
    this.interruptBy('clientContent');
    if (cc.turnComplete === true) {
      const last = [...this.session.history].reverse().find((t) => t.role === 'user');
      this.submitTurn({ text: last ? last.text : '', transcript: null, tokens: {}, inHistory: true });
    }
  },
};
