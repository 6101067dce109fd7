#!/usr/bin/env node
'use strict';
// Entry point of the Live API simulator: parses the command line, serves the Live WebSocket
// endpoints, the token services and the /_sim/ control API on one HTTP(S) port, and prints
// "LISTENING <base url>" as the first line of stdout once connections are accepted.
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const { STATUS_CODES } = require('node:http');
const { WebSocketServer } = require('ws');
const { route, authenticate, googleError, collapseSlashes } = require('./lib/auth');
const { Connection } = require('./lib/connection');
const { Registry } = require('./lib/registry');
const { Tokens } = require('./lib/tokens');
const { Voice, hasEspeak } = require('./lib/voice');
const realism = require('./lib/realism');
const { createControl, partialArgsMode, onOff } = require('./lib/control');
const { sendGoogleError } = require('./lib/http');

// Request targets like "//ws/..." would parse as protocol-relative URLs, so slashes are
// collapsed before URL parsing.
const parseTarget = (target) => new URL(collapseSlashes(target.replace(/\?.*$/, '')) + target.replace(/^[^?]*/, ''), 'http://localhost');

const USAGE = `usage: node server.js [options]
  --port N              port to listen on (0 = any free port; default 0)
  --host ADDR           address to bind (default 127.0.0.1)
  --tls --cert F --key F  serve HTTPS and WSS with this PEM certificate and key
  --api-key KEY         accepted Gemini / Vertex express API key (default test-key)
  --bearer TOKEN        accepted Vertex bearer token (repeatable, or comma-separated)
  --lifetime SECONDS    connection lifetime; goAway is sent --goaway-lead seconds before
  --goaway-lead SECONDS time between goAway and the close (default 5, capped at the lifetime)
  --pace realtime|fast  audio output pacing (default realtime)
  --heard TEXT          what every audio user turn is transcribed as (default "hello")
  --voice tone|speech   reply audio: espeak-ng speech or a tone (default speech if espeak-ng exists)
  --usage MODE          usageMetadata placement: alternate|together|separate|none (default alternate)
  --record-frames N     frames kept per connection for /_sim/ (default 2000; 0 = none)
  --partial-args MODE   Vertex function calls streamed as partialArgs: off|on|with-args (default off)
  --realism LIST        quirks of real sessions: all, or comma-separated names (default none)
  --input-during-call close|interrupt
                        realtime input while a blocking tool call is unanswered: closes with
                        1008, as the service does, or interrupts and cancels the calls (default close)
  --voice-activity on|off
                        voiceActivity ACTIVITY_START/END at the edges automatic activity
                        detection finds (default off)
  --interim-transcripts on|off
                        serverContent.interimInputTranscription during user speech, when input
                        transcription is on (default off)
  --quiet               no log lines on stderr
`;

function parseArgs(argv) {
  const o = {
    port: 0, host: '127.0.0.1', tls: false, cert: null, key: null, apiKey: 'test-key', bearers: [],
    lifetime: null, goAwayLead: 5, pace: 'realtime', heard: 'hello',
    voice: hasEspeak() ? 'speech' : 'tone', usage: 'alternate', recordFrames: 2000, quiet: false,
    partialArgs: false, realism: [], inputDuringCall: 'close',
    voiceActivity: false, interimTranscripts: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--port': o.port = Number(val()); break;
      case '--host': o.host = val(); break;
      case '--tls': o.tls = true; break;
      case '--cert': o.cert = val(); break;
      case '--key': o.key = val(); break;
      case '--api-key': o.apiKey = val(); break;
      case '--bearer': o.bearers.push(...val().split(',').filter(Boolean)); break;
      case '--lifetime': o.lifetime = Number(val()); break;
      case '--goaway-lead': o.goAwayLead = Number(val()); break;
      case '--pace': o.pace = val(); break;
      case '--heard': o.heard = val(); break;
      case '--voice': o.voice = val(); break;
      case '--usage': o.usage = val(); break;
      case '--record-frames': o.recordFrames = Number(val()); break;
      case '--partial-args': o.partialArgs = partialArgsMode(val()); break;
      case '--realism': o.realism = realism.normalise(val()); break;
      case '--input-during-call': o.inputDuringCall = val(); break;
      case '--voice-activity': o.voiceActivity = onOff(val(), a); break;
      case '--interim-transcripts': o.interimTranscripts = onOff(val(), a); break;
      case '--quiet': o.quiet = true; break;
      case '--help': process.stdout.write(USAGE); process.exit(0); break;
      default: throw new Error(`unknown option ${a}`);
    }
  }
  if (!['realtime', 'fast'].includes(o.pace)) throw new Error('--pace must be realtime or fast');
  if (!['tone', 'speech'].includes(o.voice)) throw new Error('--voice must be tone or speech');
  if (!['alternate', 'together', 'separate', 'none'].includes(o.usage)) throw new Error('--usage: bad mode');
  if (!['close', 'interrupt'].includes(o.inputDuringCall)) throw new Error('--input-during-call must be close or interrupt');
  if (o.tls && (!o.cert || !o.key)) throw new Error('--tls needs --cert and --key');
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) throw new Error('--port must be 0..65535');
  return o;
}

function refuseUpgrade(socket, status, body, headers = {}) {
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] || 'Error'}\r\n`
    + 'Content-Type: application/json; charset=UTF-8\r\n'
    + `Content-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`);
}

function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err.message}\n${USAGE}`);
    process.exit(2);
  }

  const initialDefaults = () => ({
    pace: opts.pace, voice: opts.voice, heard: opts.heard, lifetime: opts.lifetime,
    goAwayLead: opts.goAwayLead, usage: opts.usage, recordFrames: opts.recordFrames,
    partialArgs: opts.partialArgs, realism: opts.realism, inputDuringCall: opts.inputDuringCall,
    voiceActivity: opts.voiceActivity, interimTranscripts: opts.interimTranscripts,
  });
  const sim = {
    registry: new Registry(),
    tokens: new Tokens({ apiKey: opts.apiKey, bearers: opts.bearers }),
    voices: { speech: new Voice('speech'), tone: new Voice('tone') },
    defaults: initialDefaults(),
    apiKey: opts.apiKey,
    consumedLimit: 100000,
    log: opts.quiet ? () => {} : (line) => process.stderr.write(`livesim: ${line}\n`),
    reset() {
      for (const c of this.registry.connections.values()) {
        if (!c.closed) { c.markClosed(1006, 'reset', 'server'); c.ws.terminate(); }
      }
      this.registry.reset();
      this.tokens.reset();
      this.defaults = initialDefaults();
    },
  };
  const control = createControl(sim);
  const scheme = opts.tls ? 'https' : 'http';

  const onRequest = (req, res) => {
    const url = parseTarget(req.url);
    const path = url.pathname;
    const fail = (err) => { if (!res.headersSent) sendGoogleError(res, 500, 'INTERNAL', err.message); };
    if (path.startsWith('/_sim/')) return control(req, res, path, url.searchParams).catch(fail);
    if (path === '/token') return sim.tokens.handleToken(req, res, `${scheme}://${req.headers.host}/token`).catch(fail);
    if (path.startsWith('/computeMetadata/')) return sim.tokens.handleMetadata(req, res, path);
    if (/^\/v1(alpha|beta)\/auth_tokens$/.test(path)) return sim.tokens.handleAuthTokens(req, res, url.searchParams).catch(fail);
    return sendGoogleError(res, 404, 'NOT_FOUND', `The requested URL ${path} was not found on this server.`);
  };

  const server = opts.tls
    ? https.createServer({ cert: fs.readFileSync(opts.cert), key: fs.readFileSync(opts.key) }, onRequest)
    : http.createServer(onRequest);
  // Compression stays off: the per-frame zlib cost would cap concurrency, and clients must
  // cope with uncompressed frames anyway.
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => {});
    const url = parseTarget(req.url);
    const rt = route(url.pathname);
    if (!rt) {
      const e = googleError(404, 'NOT_FOUND', `The requested URL ${url.pathname} was not found on this server.`);
      return refuseUpgrade(socket, e.status, e.body);
    }
    const directive = sim.registry.takeDirective({ backend: rt.backend, method: rt.constrained ? 'constrained' : 'default' });
    const fault = directive && directive.fault;
    if (fault && fault.type === 'refuse') {
      sim.log(`refused handshake on ${url.pathname} with ${fault.status} (fault)`);
      return refuseUpgrade(socket, fault.status, fault.body, fault.headers);
    }
    const auth = authenticate(rt, req, url.searchParams, { apiKey: opts.apiKey, tokens: sim.tokens });
    if (auth.refuse) {
      sim.log(`refused handshake on ${url.pathname}: HTTP ${auth.refuse.status}`);
      return refuseUpgrade(socket, auth.refuse.status, auth.refuse.body);
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const behaviour = { ...sim.defaults, ...(directive && directive.behaviour) };
      const conn = new Connection({ ws, req, url, rt, auth, sim, behaviour, fault: fault ? { ...fault } : null });
      sim.registry.add(conn);
      sim.log(`${conn.id} open ${rt.backend} ${url.pathname}`);
    });
  });

  server.listen(opts.port, opts.host, () => {
    const { port } = server.address();
    const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
    process.stdout.write(`LISTENING ${scheme}://${host}:${port}\n`);
  });

  const stop = () => {
    for (const c of sim.registry.connections.values()) if (!c.closed) c.closeWith(1001, 'Server shutting down.');
    server.close(() => process.exit(0));
    // Sockets that do not finish their close handshake must not hold the exit.
    setTimeout(() => process.exit(0), 1000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
