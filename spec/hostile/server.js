#!/usr/bin/env node
'use strict';
// The hostile server: a small WebSocket server, written on `net`/`tls` directly, that
// misbehaves on purpose so the tests can see how the library copes (see README.md).
// Prints "LISTENING <http|https>://HOST:PORT" as the first line of stdout.

const fs = require('node:fs');
const net = require('node:net');
const tls = require('node:tls');
const { acceptKey } = require('./lib/frames');
const { modes, interimAnswers } = require('./lib/modes');
const { Connection } = require('./lib/connection');

const USAGE = `usage: node server.js [options]
  --port N            port to listen on (0 = any free port; default 0)
  --host ADDR         address to bind (default 127.0.0.1)
  --tls --cert F --key F  serve wss:// and https:// with this PEM certificate and key
  --watch-pid PID     exit when that process is gone (the test run that started us)
  --quiet             no log lines on stderr
`;

function parseArgs(argv) {
  const o = { port: 0, host: '127.0.0.1', tls: false, cert: null, key: null, watchPid: null, quiet: false };
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
      case '--watch-pid': o.watchPid = Number(val()); break;
      case '--quiet': o.quiet = true; break;
      case '--help': process.stdout.write(USAGE); process.exit(0); break;
      default: throw new Error(`unknown option ${a}`);
    }
  }
  if (o.tls && (!o.cert || !o.key)) throw new Error('--tls needs --cert and --key');
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) throw new Error('--port must be 0..65535');
  return o;
}

// Mode and parameters of a request target: "/<mode>/<k=v>/.../ws/...?k=v". Path segments
// up to "ws" that hold "=" are parameters; the query's win. `mode=` in the query names the
// mode when the path does not.
function parseTarget(target) {
  const [pathPart, query = ''] = target.split('?', 2);
  const params = {};
  let mode = null;
  for (const seg of pathPart.split('/').filter(Boolean)) {
    if (seg === 'ws') break;
    const eq = seg.indexOf('=');
    if (eq > 0) params[decodeURIComponent(seg.slice(0, eq))] = decodeURIComponent(seg.slice(eq + 1));
    else if (mode === null) mode = decodeURIComponent(seg);
  }
  for (const [k, v] of new URLSearchParams(query)) params[k] = v;
  if (params.mode) mode = params.mode;
  return { path: pathPart, mode: mode || 'setup_ok', params };
}

// Reads one HTTP request head from the socket; calls back with { method, target, headers }
// and the bytes after it.
function readHead(socket, cb) {
  let buf = Buffer.alloc(0);
  const onData = (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) {
      if (buf.length > 65536) socket.destroy();
      return;
    }
    socket.removeListener('data', onData);
    const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
    const [method, target] = lines[0].split(' ');
    const headers = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    cb({ method, target: target || '/', headers }, buf.subarray(end + 4));
  };
  socket.on('data', onData);
}

// body: a string (sent as UTF-8) or a Buffer (any bytes).
function respond(socket, status, reason, body, type = 'application/json') {
  socket.write(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: ${type}\r\n`
    + `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`);
  socket.end(body);
}

function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err.message}\n${USAGE}`);
    process.exit(2);
  }
  const log = opts.quiet ? () => {} : (line) => process.stderr.write(`hostile: ${line}\n`);
  const connections = [];
  let seq = 0;
  let tokenRequests = 0;

  // GET /_log[?tag=T][&mode=M]: the record of every connection (lib/connection.js).
  // GET /_modes: each mode and what it does.
  const http = (socket, req) => {
    const { path } = parseTarget(req.target);
    const query = new URLSearchParams(req.target.split('?', 2)[1] || '');
    if (req.method === 'GET' && path === '/_log') {
      const list = connections.map((c) => c.record)
        .filter((r) => (!query.has('tag') || r.tag === query.get('tag'))
          && (!query.has('mode') || r.mode === query.get('mode')));
      return respond(socket, 200, 'OK', JSON.stringify({ connections: list }));
    }
    // /_token?status=N&body=B64URL&type=T&delay=MS|never&stretch=N: a token endpoint that
    // answers as told (the settings may be path segments too, /_token/status=N/..., and any
    // path may follow them); stretch=N makes the first "@@" of the body N letters "t" (a
    // long answer from a short URL: clients bound their URLs); reply=hangup closes the
    // connection after reading the request, reply=garbage sends bytes that are not HTTP
    // and closes (a server that was reached but gives no HTTP answer); GET /_tokens counts
    // the requests it had.
    const target = parseTarget(req.target);
    if (target.mode === '_token') {
      const p = target.params;
      tokenRequests++;
      let body = p.body !== undefined ? Buffer.from(p.body, 'base64url').toString('latin1')
        : JSON.stringify({ access_token: 'hostile-token', expires_in: 3600, token_type: 'Bearer' });
      if (p.stretch !== undefined) body = body.replace('@@', 't'.repeat(Number(p.stretch)));
      if (p.reply === 'hangup') return socket.end();
      if (p.reply === 'garbage') return socket.end('garbage garbage\r\n\r\n');
      body = Buffer.from(body, 'latin1');
      const send = () => respond(socket, Number(p.status || 200), 'Token', body,
        p.type || 'application/json');
      if (p.delay === 'never') return undefined;
      if (p.delay !== undefined) return setTimeout(send, Number(p.delay));
      return send();
    }
    if (req.method === 'GET' && path === '/_tokens') {
      return respond(socket, 200, 'OK', JSON.stringify({ requests: tokenRequests }));
    }
    if (req.method === 'GET' && path === '/_modes') {
      const list = Object.fromEntries(Object.entries(modes).map(([k, m]) => [k, m.about]));
      return respond(socket, 200, 'OK', JSON.stringify(list));
    }
    return respond(socket, 404, 'Not Found', JSON.stringify({ error: `no such path ${path}` }));
  };

  const onSocket = (socket) => {
    socket.on('error', () => {});
    readHead(socket, (req, rest) => {
      if ((req.headers.upgrade || '').toLowerCase() !== 'websocket') return http(socket, req);
      const { path, mode, params } = parseTarget(req.target);
      if (!modes[mode]) {
        return respond(socket, 404, 'Not Found', `unknown mode '${mode}'; known: ${Object.keys(modes).join(', ')}`,
          'text/plain');
      }
      if (modes[mode].upgrade) {
        log(`${mode} answers the upgrade itself ${JSON.stringify(params)}`);
        return modes[mode].upgrade(socket, params);
      }
      const key = req.headers['sec-websocket-key'];
      if (!key) return respond(socket, 400, 'Bad Request', 'no Sec-WebSocket-Key', 'text/plain');
      const proto = req.headers['sec-websocket-protocol'];
      socket.write(interimAnswers(params));
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
        + `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n`
        + (proto ? `Sec-WebSocket-Protocol: ${proto.split(',')[0].trim()}\r\n` : '') + '\r\n');
      const c = new Connection({
        id: `h${++seq}`, socket, mode: modes[mode], modeName: mode, params, path, tls: opts.tls, log,
      });
      connections.push(c);
      log(`${c.id} open ${mode} ${JSON.stringify(params)}`);
      if (modes[mode].connected) modes[mode].connected(c);
      if (rest.length) c.onData(rest);
    });
  };

  const server = opts.tls
    ? tls.createServer({ cert: fs.readFileSync(opts.cert), key: fs.readFileSync(opts.key) }, onSocket)
    : net.createServer(onSocket);
  server.listen(opts.port, opts.host, () => {
    const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
    process.stdout.write(`LISTENING ${opts.tls ? 'https' : 'http'}://${host}:${server.address().port}\n`);
  });

  const stop = () => {
    for (const c of connections) c.socket.destroy();
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 500).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (opts.watchPid) {
    setInterval(() => {
      try { process.kill(opts.watchPid, 0); } catch { stop(); }
    }, 500).unref();
  }
}

main();
