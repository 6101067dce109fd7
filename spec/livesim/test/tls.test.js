'use strict';
// HTTPS + WSS on one port with a throw-away CA made by openssl; the SDK trusts it through
// NODE_EXTRA_CA_CERTS in a child process. Also checks real-time pacing of audio output.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFile } = require('node:child_process');
const h = require('../harness/sim');

test('the SDK works over TLS; audio is paced at 40 ms per chunk', async () => {
  const certs = h.makeCerts();
  const sim = await h.startSim(['--tls', '--cert', certs.cert, '--key', certs.key, '--bearer', 'test-bearer', '--voice', 'tone'], { ca: fs.readFileSync(certs.ca) });
  try {
    assert.match(sim.base, /^https:\/\/127\.0\.0\.1:\d+$/);
    const stdout = await new Promise((resolve, reject) => {
      execFile(process.execPath, [path.join(__dirname, '..', 'harness', 'tls-scenario.js'), sim.base], {
        env: { ...process.env, NODE_EXTRA_CA_CERTS: certs.ca }, timeout: 30000,
      }, (err, out) => (out ? resolve(out) : reject(err)));
    });
    const r = JSON.parse(stdout.trim().split('\n').pop());
    assert.equal(r.error, undefined);
    assert.deepEqual(r.setupComplete, {});
    assert.equal(r.transcript, 'You said: secure hello.');
    assert.ok(r.vertexSessionId);
    assert.match(r.ephemeral, /^auth_tokens\//);

    const [c] = await sim.control('GET', '/connections');
    const { frames } = await sim.control('GET', `/connections/${c.id}/frames`);
    const audio = frames.filter((f) => f.dir === 'out' && f.text.includes('"inlineData"')).map((f) => f.t);
    assert.equal(audio.length, r.audioChunks);
    const span = audio[audio.length - 1] - audio[0];
    const expected = (audio.length - 1) * 40;
    assert.ok(Math.abs(span - expected) < 60, `audio spans ${span} ms, expected about ${expected}`);
  } finally {
    await sim.stop();
  }
});

test('plain HTTP clients are not served on the TLS port', async () => {
  const certs = h.makeCerts();
  const sim = await h.startSim(['--tls', '--cert', certs.cert, '--key', certs.key]);
  try {
    await assert.rejects(fetch(sim.base.replace('https', 'http') + '/_sim/health'));
  } finally {
    await sim.stop();
  }
});
