'use strict';
// The observation and control API under /_sim/ (JSON over the simulator's own HTTP(S) port):
// what each connection received and sent, session histories and consumed-message logs, and
// the knobs tests turn — faults, behaviour, credentials, reset. Documented in README.md.
const { readBody, sendJson, parseJson } = require('./http');
const faults = require('./faults');
const realism = require('./realism');

const PACES = new Set(['realtime', 'fast']);
const VOICES = new Set(['speech', 'tone']);
const USAGE = new Set(['alternate', 'together', 'separate', 'none']);
// Realtime input while a blocking call is unanswered: the service's 1008 close, or the
// simulator's older interrupt-and-cancel.
const INPUT_DURING_CALL = new Set(['close', 'interrupt']);

// partialArgs: false (whole calls), true (streamed, the last frame without args) or 'with-args'.
function partialArgsMode(v) {
  if (v === true || v === false || v === 'with-args') return v;
  if (v === 'on') return true;
  if (v === 'off' || v === null) return false;
  throw new Error('partialArgs must be true, false or "with-args"');
}

// A boolean behaviour, also spelt "on"/"off" as on the command line.
function onOff(v, name) {
  if (v === true || v === 'on') return true;
  if (v === false || v === 'off') return false;
  throw new Error(`${name} must be true or false ("on" or "off")`);
}

// Validates a partial behaviour object; throws with a message for the HTTP 400 answer.
function behaviourPatch(b) {
  if (!b || typeof b !== 'object') throw new Error('behaviour must be an object');
  const out = {};
  for (const [k, v] of Object.entries(b)) {
    switch (k) {
      case 'pace': if (!PACES.has(v)) throw new Error('pace must be realtime or fast'); out.pace = v; break;
      case 'voice': if (!VOICES.has(v)) throw new Error('voice must be speech or tone'); out.voice = v; break;
      case 'usage': if (!USAGE.has(v)) throw new Error('usage must be alternate, together, separate or none'); out.usage = v; break;
      case 'heard': out.heard = String(v); break;
      case 'lifetime': out.lifetime = v === null ? null : Number(v); break;
      case 'goAwayLead': out.goAwayLead = Number(v); break;
      case 'recordFrames': out.recordFrames = Math.max(0, Number(v)); break;
      case 'partialArgs': out.partialArgs = partialArgsMode(v); break;
      case 'realism': out.realism = realism.normalise(v); break;
      case 'voiceActivity': out.voiceActivity = onOff(v, 'voiceActivity'); break;
      case 'interimTranscripts': out.interimTranscripts = onOff(v, 'interimTranscripts'); break;
      case 'inputDuringCall':
        if (!INPUT_DURING_CALL.has(v)) throw new Error('inputDuringCall must be close or interrupt');
        out.inputDuringCall = v;
        break;
      default: throw new Error(`unknown behaviour ${JSON.stringify(k)}`);
    }
  }
  return out;
}

function frameView(f) {
  const text = f.data.toString('utf8');
  return { t: f.t, dir: f.dir, opcode: f.opcode, size: f.data.length, text };
}

function sessionSummary(s) {
  return {
    id: s.id, backend: s.backend, model: s.model, createdAt: s.createdAt,
    connectionIds: s.connectionIds, historyLength: s.history.length,
    consumedCount: s.consumed.length, consumedDropped: s.consumedDropped || 0,
  };
}

function createControl(sim) {
  const { registry, tokens } = sim;

  const routes = [
    ['GET', /^\/_sim\/health$/, () => [200, { ok: true, live: [...registry.connections.values()].filter((c) => !c.closed).length }]],
    ['GET', /^\/_sim\/connections$/, (m, q) => {
      let list = [...registry.connections.values()];
      if (q.get('state') === 'open') list = list.filter((c) => !c.closed);
      if (q.get('session')) list = list.filter((c) => c.record.sessionId === q.get('session'));
      return [200, list.map((c) => c.info())];
    }],
    ['GET', /^\/_sim\/connections\/([^/]+)$/, (m) => withConn(m[1], (c) => [200, c.info()])],
    ['GET', /^\/_sim\/connections\/([^/]+)\/frames$/, (m, q) => withConn(m[1], (c) => {
      const since = Number(q.get('since') || 0);
      return [200, { dropped: c.record.framesDropped, frames: c.frames.filter((f) => f.t > since).map(frameView) }];
    })],
    ['POST', /^\/_sim\/connections\/([^/]+)$/, (m, q, body) => withConn(m[1], (c) => {
      if (c.closed) return [409, { error: 'connection is closed' }];
      const fault = body.fault ? faults.normalise(body.fault, { live: true }) : null;
      if (body.behaviour) c.setBehaviour(behaviourPatch(body.behaviour));
      if (fault) c.addFault(fault);
      return [200, c.info()];
    })],
    ['GET', /^\/_sim\/next$/, () => [200, registry.directives]],
    ['POST', /^\/_sim\/next$/, (m, q, body) => {
      const d = {
        remaining: Math.max(1, Number(body.count || 1)),
        match: body.match || null,
        fault: body.fault ? faults.normalise(body.fault, { live: false }) : null,
        behaviour: body.behaviour ? behaviourPatch(body.behaviour) : null,
      };
      registry.directives.push(d);
      return [200, d];
    }],
    ['DELETE', /^\/_sim\/next$/, () => { registry.directives = []; return [200, []]; }],
    ['GET', /^\/_sim\/defaults$/, () => [200, sim.defaults]],
    ['POST', /^\/_sim\/defaults$/, (m, q, body) => { Object.assign(sim.defaults, behaviourPatch(body)); return [200, sim.defaults]; }],
    ['GET', /^\/_sim\/sessions$/, () => [200, [...registry.sessions.values()].map(sessionSummary)]],
    ['GET', /^\/_sim\/sessions\/([^/]+)$/, (m) => {
      const s = registry.sessions.get(m[1]);
      return s ? [200, { ...sessionSummary(s), history: s.history, consumed: s.consumed, handles: s.handles }] : [404, { error: 'no such session' }];
    }],
    ['POST', /^\/_sim\/service-accounts$/, (m, q, body) => { tokens.addServiceAccount(body); return [200, { ok: true }]; }],
    ['POST', /^\/_sim\/authorized-users$/, (m, q, body) => { tokens.addAuthorizedUser(body); return [200, { ok: true }]; }],
    ['GET', /^\/_sim\/tokens$/, () => [200, {
      lifetime: tokens.lifetime,
      length: tokens.length,
      issued: tokens.issuedLog,
      ephemeral: [...tokens.ephemeral].map(([name, t]) => ({ name, uses: t.uses, expireTime: t.expireTime, newSessionExpireTime: t.newSessionExpireTime })),
    }]],
    ['POST', /^\/_sim\/tokens$/, (m, q, body) => { tokens.configure(body); return [200, { lifetime: tokens.lifetime, length: tokens.length }]; }],
    ['POST', /^\/_sim\/reset$/, () => { sim.reset(); return [200, { ok: true }]; }],
  ];

  function withConn(id, fn) {
    const c = registry.connections.get(id);
    return c ? fn(c) : [404, { error: 'no such connection' }];
  }

  return async function handle(req, res, path, query) {
    for (const [method, re, fn] of routes) {
      const m = re.exec(path);
      if (!m) continue;
      if (req.method !== method) continue;
      try {
        const body = method === 'POST' ? parseJson(await readBody(req)) : {};
        const [status, value] = fn(m, query, body);
        return sendJson(res, status, value);
      } catch (err) {
        return sendJson(res, 400, { error: err.message });
      }
    }
    return sendJson(res, 404, { error: `no control route ${req.method} ${path}` });
  };
}

module.exports = { createControl, behaviourPatch, partialArgsMode, onOff };
