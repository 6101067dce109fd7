'use strict';
// Credential services: OAuth token endpoint (JWT bearer and refresh-token grants), metadata
// server, ephemeral tokens minted with the SDK's authTokens.create and used for Live sessions.
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { Modality } = require('@google/genai');
const h = require('../harness/sim');

let sim;
let privateKey;
let publicKey;
const EMAIL = 'robot@proj.iam.gserviceaccount.com';
const SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

test.before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'livesim-key-'));
  const keyFile = path.join(dir, 'sa.pem');
  execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', keyFile]);
  privateKey = fs.readFileSync(keyFile, 'utf8');
  publicKey = crypto.createPublicKey(privateKey).export({ type: 'spki', format: 'pem' });
  sim = await h.startSim(['--pace', 'fast', '--voice', 'tone']);
  await sim.control('POST', '/service-accounts', { client_email: EMAIL, public_key: publicKey });
});
test.after(() => sim.stop());

function jwt(claims, key = privateKey) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const unsigned = `${enc({ alg: 'RS256', typ: 'JWT', kid: 'k1' })}.${enc(claims)}`;
  return `${unsigned}.${crypto.sign('RSA-SHA256', Buffer.from(unsigned), key).toString('base64url')}`;
}

function claims(over = {}) {
  const now = Math.floor(Date.now() / 1000);
  return { iss: EMAIL, scope: SCOPE, aud: `${sim.base}/token`, iat: now, exp: now + 3600, ...over };
}

async function tokenRequest(form) {
  const res = await fetch(`${sim.base}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, body: await res.json() };
}

const jwtGrant = (assertion) => tokenRequest({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion });

test('JWT bearer grant: a signed assertion yields a token the Vertex endpoint accepts', async () => {
  const { status, body } = await jwtGrant(jwt(claims()));
  assert.equal(status, 200);
  assert.equal(body.token_type, 'Bearer');
  assert.equal(body.expires_in, 3600);
  assert.match(body.access_token, /^ya29\./);
  const s = await h.open(h.vertexClient(sim.base, body.access_token), { model: 'gemini-live-2.5-flash-native-audio' });
  assert.ok(s.msgs[0].setupComplete.sessionId);
  s.session.close();
});

test('JWT bearer grant: Google-style errors', async () => {
  const other = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const cases = [
    [jwt(claims(), other), 400, 'invalid_grant', /Invalid JWT Signature/],
    [jwt(claims({ aud: 'https://oauth2.googleapis.com/token' })), 400, 'invalid_grant', /audience/],
    [jwt(claims({ exp: Math.floor(Date.now() / 1000) + 7200 })), 400, 'invalid_grant', /short-lived/],
    [jwt(claims({ exp: Math.floor(Date.now() / 1000) - 10, iat: Math.floor(Date.now() / 1000) - 100 })), 400, 'invalid_grant', /short-lived/],
    [jwt(claims({ scope: 'https://www.googleapis.com/auth/userinfo.email' })), 400, 'invalid_scope', /scope/],
    [jwt(claims({ iss: 'stranger@x.iam.gserviceaccount.com' })), 400, 'invalid_grant', /account not found/],
    ['not.a.jwt', 400, 'invalid_grant', /JWT/],
  ];
  for (const [assertion, status, error, description] of cases) {
    const r = await jwtGrant(assertion);
    assert.equal(r.status, status);
    assert.equal(r.body.error, error);
    assert.match(r.body.error_description, description);
  }
  const r = await tokenRequest({ grant_type: 'password' });
  assert.equal(r.body.error, 'unsupported_grant_type');
});

test('refresh-token grant for authorized users', async () => {
  await sim.control('POST', '/authorized-users', { client_id: 'cid', client_secret: 'secret', refresh_token: 'rt' });
  const ok = await tokenRequest({ grant_type: 'refresh_token', client_id: 'cid', client_secret: 'secret', refresh_token: 'rt' });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.token_type, 'Bearer');
  const badClient = await tokenRequest({ grant_type: 'refresh_token', client_id: 'cid', client_secret: 'wrong', refresh_token: 'rt' });
  assert.deepEqual([badClient.status, badClient.body.error], [401, 'invalid_client']);
  const badToken = await tokenRequest({ grant_type: 'refresh_token', client_id: 'cid', client_secret: 'secret', refresh_token: 'old' });
  assert.deepEqual([badToken.status, badToken.body.error], [400, 'invalid_grant']);
});

test('short-lived tokens expire and are then refused', async () => {
  await sim.control('POST', '/tokens', { lifetime: 0.5 });
  const { body } = await jwtGrant(jwt(claims()));
  assert.equal(body.expires_in, 1);
  await h.sleep(600);
  const e = await h.openExpectingClose(h.vertexClient(sim.base, body.access_token), { model: 'm' });
  assert.match(String(e.errors[0].message), /401/);
  await sim.control('POST', '/tokens', { lifetime: 3600 });
});

test('access tokens of a configured length', async () => {
  await sim.control('POST', '/tokens', { length: 2000 });
  const { body } = await jwtGrant(jwt(claims()));
  assert.equal(body.access_token.length, 2000);
  assert.match(body.access_token, /^ya29\.livesim\.[A-Za-z0-9_-]+$/);
  const s = await h.open(h.vertexClient(sim.base, body.access_token), { model: 'gemini-live-2.5-flash-native-audio' });
  assert.ok(s.msgs[0].setupComplete);
  s.session.close();
  await sim.control('POST', '/tokens', { length: null });
  assert.equal((await jwtGrant(jwt(claims()))).body.access_token.length, 45);
});

test('metadata server token endpoint requires Metadata-Flavor: Google', async () => {
  const url = `${sim.base}/computeMetadata/v1/instance/service-accounts/default/token`;
  assert.equal((await fetch(url)).status, 403);
  const res = await fetch(url, { headers: { 'Metadata-Flavor': 'Google' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('metadata-flavor'), 'Google');
  const body = await res.json();
  assert.deepEqual(Object.keys(body).sort(), ['access_token', 'expires_in', 'token_type']);
  const s = await h.open(h.vertexClient(sim.base, body.access_token), { model: 'gemini-live-2.5-flash-native-audio' });
  s.session.close();
});

test('ephemeral token from ai.authTokens.create, used on the constrained method', async () => {
  const ai = h.geminiClient(sim.base, { apiVersion: 'v1alpha' });
  const token = await ai.authTokens.create({
    config: {
      uses: 1,
      expireTime: new Date(Date.now() + 30 * 60 * 1000).toISOString(),
      newSessionExpireTime: new Date(Date.now() + 60 * 1000).toISOString(),
      liveConnectConstraints: { model: 'gemini-live-2.5-flash-preview', config: { responseModalities: [Modality.TEXT] } },
    },
  });
  assert.match(token.name, /^auth_tokens\//);

  const user = h.geminiClient(sim.base, { apiKey: token.name, apiVersion: 'v1alpha' });
  const s = await h.open(user, { config: { responseModalities: [Modality.AUDIO] } });
  const [c] = (await sim.control('GET', '/connections')).slice(-1);
  assert.equal(c.method, 'BidiGenerateContentConstrained');
  assert.equal(c.query.access_token, token.name);
  s.session.sendRealtimeInput({ text: 'locked' });
  await s.turnComplete();
  assert.equal(s.msgs.map((m) => m.text || '').join(''), 'You said: locked.', 'the token locked TEXT output');
  s.session.close();

  const again = await h.openExpectingClose(user);
  assert.equal(again.code, 1008, 'the single use is spent');

  const noKey = await fetch(`${sim.base}/v1alpha/auth_tokens`, { method: 'POST', body: '{}' });
  assert.equal(noKey.status, 403);
});

test('an ephemeral token past newSessionExpireTime cannot start a session', async () => {
  const ai = h.geminiClient(sim.base, { apiVersion: 'v1alpha' });
  const token = await ai.authTokens.create({ config: { uses: 5, newSessionExpireTime: new Date(Date.now() - 1000).toISOString() } });
  const e = await h.openExpectingClose(h.geminiClient(sim.base, { apiKey: token.name, apiVersion: 'v1alpha' }));
  assert.equal(e.code, 1008);
});
