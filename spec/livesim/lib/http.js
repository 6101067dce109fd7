'use strict';
// Small helpers for the simulator's HTTP endpoints (control API and token services).

const MAX_BODY = 1 << 20;

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) { reject(new Error('body too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res, status, value, headers = {}) {
  const body = JSON.stringify(value, null, 2) + '\n';
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function sendText(res, status, text, headers = {}) {
  res.writeHead(status, { 'content-type': 'text/plain; charset=UTF-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

// Google APIs wrap errors as {"error": {code, message, status}}.
function sendGoogleError(res, status, code, message) {
  sendJson(res, status, { error: { code: status, message, status: code } });
}

function parseJson(text) {
  if (!text) return {};
  const v = JSON.parse(text);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('expected a JSON object');
  return v;
}

module.exports = { readBody, sendJson, sendText, sendGoogleError, parseJson };
