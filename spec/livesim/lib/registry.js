'use strict';
// Everything the simulator remembers across connections: connection records, sessions with
// their history and consumed-message log, resumption handles, and directives for the next
// connections (faults and behaviour chosen through the control API).
const crypto = require('node:crypto');

// Resumption handles stay valid this long after they were issued, as on the real service.
const HANDLE_TTL_MS = 2 * 60 * 60 * 1000;
const CLOSED_CONNECTIONS_KEPT = 2000;

class Registry {
  constructor() {
    this.reset();
  }

  reset() {
    this.connections = new Map();
    this.sessions = new Map();
    this.handles = new Map();
    this.directives = [];
    this.seq = 0;
  }

  nextConnectionId() {
    return `c${++this.seq}`;
  }

  add(conn) {
    this.connections.set(conn.id, conn);
    if (this.connections.size > CLOSED_CONNECTIONS_KEPT) {
      for (const [id, c] of this.connections) {
        if (this.connections.size <= CLOSED_CONNECTIONS_KEPT) break;
        if (c.closed) this.connections.delete(id);
      }
    }
  }

  // Takes the first directive whose `match` fits the connection, counting down its uses.
  takeDirective(info) {
    const i = this.directives.findIndex((d) => Object.entries(d.match || {}).every(([k, v]) => info[k] === v));
    if (i < 0) return null;
    const d = this.directives[i];
    if (--d.remaining <= 0) this.directives.splice(i, 1);
    return d;
  }

  newSession(conn) {
    const session = {
      id: crypto.randomUUID(),
      backend: conn.backend,
      model: conn.cfg.model,
      createdAt: Date.now(),
      connectionIds: [],
      history: [],
      consumed: [],
      handles: [],
    };
    this.sessions.set(session.id, session);
    return session;
  }

  issueHandle(session, conn) {
    const handle = crypto.randomBytes(24).toString('base64url');
    this.handles.set(handle, {
      sessionId: session.id,
      historyLength: session.history.length,
      consumedLength: session.consumed.length,
      connection: conn.id,
      messageIndex: conn.messageIndex,
      issuedAt: Date.now(),
    });
    session.handles.push(handle);
    return handle;
  }

  // Restores the session state a handle stands for. Anything consumed after the handle was
  // issued is rolled back (kept in the log, flagged) because the resumed session never saw it.
  resume(handle, conn) {
    const snap = this.handles.get(handle);
    if (!snap || Date.now() - snap.issuedAt > HANDLE_TTL_MS) return null;
    const session = this.sessions.get(snap.sessionId);
    if (!session || session.backend !== conn.backend) return null;
    session.history.length = Math.min(session.history.length, snap.historyLength);
    for (let i = snap.consumedLength; i < session.consumed.length; i++) session.consumed[i].rolledBack = true;
    return session;
  }
}

module.exports = { Registry };
