'use strict';
// Test helpers: start the simulator as a child process, talk to its control API, make a
// throw-away CA and server certificate with openssl, and drive sessions of the official
// @google/genai SDK while collecting everything it delivers.
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { GoogleGenAI } = require('@google/genai');

const SERVER = path.join(__dirname, '..', 'server.js');

// Starts `node server.js args`; resolves once it printed its LISTENING line. `ca` (PEM) is
// trusted for control API calls to a TLS simulator.
function startSim(args = [], { env = {}, ca } = {}) {
  const proc = spawn(process.execPath, [SERVER, '--quiet', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = readline.createInterface({ input: proc.stdout });
  return new Promise((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`simulator exited early with ${code}`)));
    lines.once('line', (line) => {
      const m = /^LISTENING (\S+)$/.exec(line);
      if (!m) return reject(new Error(`unexpected first line: ${line}`));
      const base = m[1];
      const exited = new Promise((r) => proc.once('exit', (code, signal) => r({ code, signal })));
      resolve({
        base,
        proc,
        exited,
        control: (method, route, body) => control(base, method, route, body, ca),
        async stop() {
          proc.kill('SIGTERM');
          return exited;
        },
      });
    });
  });
}

// Control API call. Uses node:http(s) rather than fetch so a test CA can be passed without
// NODE_EXTRA_CA_CERTS.
function control(base, method, route, body, ca) {
  const url = new URL(`${base}/_sim${route}`);
  const mod = url.protocol === 'https:' ? https : http;
  const payload = body ? JSON.stringify(body) : null;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, {
      method, ca, headers: payload ? { 'content-type': 'application/json' } : {},
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        if (res.statusCode >= 400) reject(new Error(`${method} ${route}: ${res.statusCode} ${text}`));
        else resolve(JSON.parse(text));
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

// A CA and a server certificate for 127.0.0.1/localhost, made fresh for each run.
function makeCerts() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'livesim-tls-'));
  const f = (name) => path.join(dir, name);
  const ssl = (...args) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'),
    '-days', '2', '-subj', '/CN=livesim test CA');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'),
    '-subj', '/CN=localhost');
  fs.writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n');
  ssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'),
    '-CAcreateserial', '-out', f('server.pem'), '-days', '2', '-extfile', f('ext.cnf'));
  return { dir, ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key') };
}

function geminiClient(base, { apiKey = 'test-key', apiVersion } = {}) {
  return new GoogleGenAI({ apiKey, httpOptions: { baseUrl: base, ...(apiVersion ? { apiVersion } : {}) } });
}

// Vertex through a stub auth client that hands out a fixed bearer token.
function vertexClient(base, token = 'test-bearer', { project = 'proj', location = 'us-central1' } = {}) {
  const authClient = { getRequestHeaders: async () => new Headers({ authorization: `Bearer ${token}` }) };
  return new GoogleGenAI({
    vertexai: true, project, location,
    googleAuthOptions: { authClient },
    httpOptions: { baseUrl: base },
  });
}

// Setup fields the SDK's types declare for LiveClientSetup but its LiveConnectConfig cannot carry
// (historyConfig in this version) are merged into the setup message the SDK itself built, at
// the last moment before it goes on the wire; everything else stays the SDK's own wire form.
function withSetupExtra(ai, extra) {
  if (!extra) return ai;
  const live = ai.live;
  const factory = live.webSocketFactory;
  live.webSocketFactory = {
    create(url, headers, callbacks) {
      live.webSocketFactory = factory;
      const conn = factory.create(url, headers, callbacks);
      const send = conn.send.bind(conn);
      let first = true;
      conn.send = (text) => {
        if (first) {
          first = false;
          const msg = JSON.parse(text);
          Object.assign(msg.setup, extra);
          text = JSON.stringify(msg);
        }
        send(text);
      };
      return conn;
    },
  };
  return ai;
}

// Connects and collects messages. `closed` resolves with the CloseEvent; `waitFor(pred)` resolves
// with the first message (in arrival order) from `from` on that satisfies pred. `setup` holds
// extra setup fields (see withSetupExtra).
async function open(ai, { model = 'gemini-live-2.5-flash-preview', config = {}, setup } = {}) {
  const msgs = [];
  const waiters = [];
  let onClose;
  const closed = new Promise((r) => { onClose = r; });
  const notify = () => {
    for (const w of [...waiters]) {
      const i = msgs.findIndex((m, k) => k >= w.from && w.pred(m));
      if (i >= 0) { waiters.splice(waiters.indexOf(w), 1); clearTimeout(w.timer); w.resolve(msgs[i]); }
    }
  };
  const session = await withSetupExtra(ai, setup).live.connect({
    model,
    config,
    callbacks: {
      onmessage: (m) => { msgs.push(m); notify(); },
      onclose: (e) => onClose({ code: e.code, reason: e.reason }),
      onerror: () => {},
    },
  });
  const waitFor = (pred, { from = 0, timeout = 8000 } = {}) => new Promise((resolve, reject) => {
    const w = { pred, from, resolve };
    w.timer = setTimeout(() => {
      waiters.splice(waiters.indexOf(w), 1);
      reject(new Error(`timed out waiting; got ${msgs.length} messages: ${JSON.stringify(msgs.map(Object.keys))}`));
    }, timeout);
    waiters.push(w);
    notify();
  });
  const turnComplete = (opts) => waitFor((m) => m.serverContent && m.serverContent.turnComplete, opts);
  return { session, msgs, closed, waitFor, turnComplete };
}

// Connects where the server is expected to end the connection before or right after setup:
// connect() then never resolves, so only the close is awaited.
function openExpectingClose(ai, { model = 'gemini-live-2.5-flash-preview', config = {}, setup } = {}) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no close within 8s')), 8000);
    const errors = [];
    withSetupExtra(ai, setup).live.connect({
      model,
      config,
      callbacks: {
        onmessage: () => {},
        onerror: (e) => errors.push(e),
        onclose: (e) => { clearTimeout(timer); resolve({ code: e.code, reason: e.reason, errors }); },
      },
    }).catch(() => {});
  });
}

// 16-bit PCM: a 300 Hz tone ("speech" to the energy detector) or silence, in 20 ms chunks.
function pcmChunks(ms, { rate = 16000, amplitude = 8000, chunkMs = 20 } = {}) {
  const chunks = [];
  const per = (rate * chunkMs) / 1000;
  let n = 0;
  for (let t = 0; t < ms; t += chunkMs) {
    const b = Buffer.alloc(per * 2);
    for (let i = 0; i < per; i++, n++) b.writeInt16LE(Math.round(Math.sin((2 * Math.PI * 300 * n) / rate) * amplitude), i * 2);
    chunks.push(b.toString('base64'));
  }
  return chunks;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function sendAudio(session, chunks, mimeType = 'audio/pcm;rate=16000') {
  for (const data of chunks) session.sendRealtimeInput({ audio: { data, mimeType } });
}

// The newest connection record of a simulator, and the JSON of the frames it sent.
async function lastConnection(sim) {
  const list = await sim.control('GET', '/connections');
  return list[list.length - 1];
}

async function sentFrames(sim, id) {
  const { frames } = await sim.control('GET', `/connections/${id}/frames`);
  return frames.filter((f) => f.dir === 'out' && f.opcode === 'binary').map((f) => JSON.parse(f.text));
}

// The text of every text part, concatenated.
const texts = (msgs) => msgs.map((m) => m.text || '').join('');

// The text of all output transcription chunks, concatenated.
const transcript = (msgs) => msgs.map((m) => (m.serverContent && m.serverContent.outputTranscription && m.serverContent.outputTranscription.text) || '').join('');

module.exports = {
  startSim, control, makeCerts, geminiClient, vertexClient, open, openExpectingClose,
  pcmChunks, sendAudio, sleep, transcript, texts, lastConnection, sentFrames,
};
