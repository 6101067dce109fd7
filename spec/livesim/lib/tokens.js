'use strict';
// Credential services for client tests: an OAuth 2.0 token endpoint (service-account JWT
// bearer grant and refresh-token grant), a GCE metadata server token endpoint, and the Gemini
// API's ephemeral auth-token endpoint. Access tokens issued here are accepted as Vertex bearer
// tokens; ephemeral tokens on the constrained Live method.
const crypto = require('node:crypto');
const { camelize } = require('./casing');
const { readBody, sendJson, sendText, sendGoogleError, parseJson } = require('./http');
const { BAD_KEY, UNREGISTERED } = require('./auth');

const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
const JWT_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
// Clock skew tolerated on iat, as Google's endpoint does.
const SKEW_S = 60;

const oauthError = (res, status, error, description) => sendJson(res, status, { error, error_description: description });

function decodeSegment(seg) {
  return JSON.parse(Buffer.from(seg, 'base64url').toString('utf8'));
}

class Tokens {
  constructor({ apiKey, bearers }) {
    this.apiKey = apiKey;
    this.staticBearers = new Set(bearers);
    this.reset();
  }

  reset() {
    this.lifetime = 3600;
    this.length = null;
    this.accessTokens = new Map();
    this.serviceAccounts = new Map();
    this.authorizedUsers = new Map();
    this.ephemeral = new Map();
    this.issuedLog = [];
  }

  // ---- registration (control API) -----------------------------------------------------

  addServiceAccount({ client_email: email, public_key: publicKey }) {
    if (!email || !publicKey) throw new Error('client_email and public_key are required');
    crypto.createPublicKey(publicKey);
    this.serviceAccounts.set(email, publicKey);
  }

  addAuthorizedUser({ client_id: id, client_secret: secret, refresh_token: refresh }) {
    if (!id || !secret || !refresh) throw new Error('client_id, client_secret and refresh_token are required');
    const user = this.authorizedUsers.get(id) || { secret, refreshTokens: new Set() };
    user.secret = secret;
    user.refreshTokens.add(refresh);
    this.authorizedUsers.set(id, user);
  }

  configure({ lifetime, length }) {
    if (lifetime !== undefined) {
      if (!(Number(lifetime) > 0)) throw new Error('lifetime must be a positive number of seconds');
      this.lifetime = Number(lifetime);
    }
    if (length !== undefined) {
      // null: the natural length; long ones let clients test tokens past their buffers
      if (length !== null && !(Number.isInteger(length) && length >= 45 && length <= 65536)) {
        throw new Error('length must be an integer from 45 to 65536, or null');
      }
      this.length = length;
    }
  }

  issue(subject, via) {
    const random = crypto.randomBytes(this.length ? Math.ceil(this.length * 3 / 4) : 24).toString('base64url');
    const token = `ya29.livesim.${random}`.slice(0, this.length || undefined);
    const expiresAt = Date.now() + this.lifetime * 1000;
    this.accessTokens.set(token, { subject, expiresAt });
    this.issuedLog.push({ subject, via, issuedAt: Date.now(), expiresAt });
    return { access_token: token, expires_in: Math.ceil(this.lifetime), token_type: 'Bearer' };
  }

  acceptsBearer(token) {
    if (this.staticBearers.has(token)) return true;
    const t = this.accessTokens.get(token);
    return !!t && t.expiresAt > Date.now();
  }

  // ---- OAuth token endpoint -------------------------------------------------------------

  async handleToken(req, res, tokenUrl) {
    if (req.method !== 'POST') return oauthError(res, 400, 'invalid_request', 'Only POST is supported.');
    const form = new URLSearchParams(await readBody(req));
    const grant = form.get('grant_type');
    if (grant === JWT_GRANT) return this.jwtGrant(res, form.get('assertion'), tokenUrl);
    if (grant === 'refresh_token') return this.refreshGrant(res, form);
    return oauthError(res, 400, 'unsupported_grant_type', `Invalid grant_type: ${grant || ''}`);
  }

  jwtGrant(res, assertion, tokenUrl) {
    const parts = String(assertion || '').split('.');
    if (parts.length !== 3) return oauthError(res, 400, 'invalid_grant', 'Invalid JWT: malformed assertion.');
    let header;
    let claims;
    try {
      header = decodeSegment(parts[0]);
      claims = decodeSegment(parts[1]);
    } catch {
      return oauthError(res, 400, 'invalid_grant', 'Invalid JWT: malformed assertion.');
    }
    if (header.alg !== 'RS256') return oauthError(res, 400, 'invalid_grant', 'Invalid JWT Signature.');
    const publicKey = this.serviceAccounts.get(claims.iss);
    if (!publicKey) return oauthError(res, 400, 'invalid_grant', 'Invalid grant: account not found');
    const signed = crypto.verify('RSA-SHA256', Buffer.from(`${parts[0]}.${parts[1]}`), publicKey, Buffer.from(parts[2], 'base64url'));
    if (!signed) return oauthError(res, 400, 'invalid_grant', 'Invalid JWT Signature.');
    if (claims.aud !== tokenUrl) {
      return oauthError(res, 400, 'invalid_grant', `Invalid JWT: Failed audience check. The expected audience is ${tokenUrl}.`);
    }
    const nowS = Date.now() / 1000;
    const { iat, exp } = claims;
    if (typeof iat !== 'number' || typeof exp !== 'number' || iat > nowS + SKEW_S || exp <= nowS
      || exp - iat > 3600 || exp <= iat) {
      return oauthError(res, 400, 'invalid_grant', 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.');
    }
    const scopes = String(claims.scope || '').split(/\s+/);
    if (!scopes.includes(CLOUD_PLATFORM)) {
      return oauthError(res, 400, 'invalid_scope', 'Invalid OAuth scope or ID token audience provided.');
    }
    return sendJson(res, 200, this.issue(claims.iss, 'jwt-bearer'));
  }

  refreshGrant(res, form) {
    const user = this.authorizedUsers.get(form.get('client_id'));
    if (!user || user.secret !== form.get('client_secret')) {
      return oauthError(res, 401, 'invalid_client', 'The OAuth client was not found.');
    }
    if (!user.refreshTokens.has(form.get('refresh_token'))) {
      return oauthError(res, 400, 'invalid_grant', 'Bad Request');
    }
    return sendJson(res, 200, { ...this.issue(form.get('client_id'), 'refresh_token'), scope: CLOUD_PLATFORM });
  }

  // ---- GCE metadata server --------------------------------------------------------------

  handleMetadata(req, res, path) {
    if (req.headers['metadata-flavor'] !== 'Google') {
      return sendText(res, 403, 'Missing required header: Metadata-Flavor\n');
    }
    const headers = { 'metadata-flavor': 'Google' };
    switch (path.replace(/\/+$/, '')) {
      case '/computeMetadata/v1/instance/service-accounts/default/token':
        return sendJson(res, 200, this.issue('default', 'metadata'), headers);
      case '/computeMetadata/v1/instance/service-accounts/default/email':
        return sendText(res, 200, 'default@livesim.iam.gserviceaccount.com', headers);
      case '/computeMetadata/v1/project/project-id':
        return sendText(res, 200, 'livesim-project', headers);
      case '/computeMetadata/v1':
      case '/computeMetadata/v1/instance':
        return sendText(res, 200, 'instance/\nproject/\n', headers);
      default:
        return sendText(res, 404, 'Not Found\n', headers);
    }
  }

  // ---- ephemeral tokens (POST /v1alpha/auth_tokens) -------------------------------------

  async handleAuthTokens(req, res, query) {
    if (req.method !== 'POST') return sendGoogleError(res, 405, 'UNIMPLEMENTED', 'Method not allowed.');
    const key = req.headers['x-goog-api-key'] || query.get('key');
    if (!key) return sendGoogleError(res, 403, 'PERMISSION_DENIED', UNREGISTERED);
    if (key !== this.apiKey) return sendGoogleError(res, 400, 'INVALID_ARGUMENT', BAD_KEY);
    let body;
    try {
      body = camelize(parseJson(await readBody(req)));
    } catch {
      return sendGoogleError(res, 400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
    }
    const nowMs = Date.now();
    const time = (v, dflt) => (v === undefined ? dflt : Date.parse(v));
    const expireTime = time(body.expireTime, nowMs + 30 * 60 * 1000);
    const newSessionExpireTime = time(body.newSessionExpireTime, nowMs + 60 * 1000);
    const uses = body.uses === undefined ? 1 : Number(body.uses);
    if (Number.isNaN(expireTime) || Number.isNaN(newSessionExpireTime) || !Number.isInteger(uses) || uses < 0) {
      return sendGoogleError(res, 400, 'INVALID_ARGUMENT', 'Request contains an invalid argument.');
    }
    const name = `auth_tokens/${crypto.randomBytes(24).toString('hex')}`;
    this.ephemeral.set(name, {
      uses, expireTime, newSessionExpireTime,
      setup: body.bidiGenerateContentSetup || null,
      fieldMask: body.fieldMask || null,
    });
    const out = {
      name,
      uses,
      expireTime: new Date(expireTime).toISOString(),
      newSessionExpireTime: new Date(newSessionExpireTime).toISOString(),
    };
    if (body.bidiGenerateContentSetup) out.bidiGenerateContentSetup = body.bidiGenerateContentSetup;
    if (body.fieldMask) out.fieldMask = body.fieldMask;
    return sendJson(res, 200, out);
  }

  // At the upgrade: is the token known and not yet expired?
  checkEphemeral(name) {
    const t = this.ephemeral.get(name);
    if (!t) return UNREGISTERED;
    if (Date.now() >= t.expireTime) return 'The ephemeral token has expired.';
    return null;
  }

  // At setup: spends one use (a new session must also start before newSessionExpireTime) and
  // returns how the token's locked configuration rewrites the client's setup.
  useEphemeral(name, newSession) {
    const t = this.ephemeral.get(name);
    if (!t || Date.now() >= t.expireTime) return { error: 'The ephemeral token has expired.' };
    if (newSession && Date.now() >= t.newSessionExpireTime) return { error: 'The ephemeral token can no longer start new sessions.' };
    if (t.uses <= 0) return { error: 'The ephemeral token has no uses left.' };
    t.uses--;
    return { constrain: (setup) => lockSetup(setup, t.setup) };
  }
}

// Fields the token locked override the client's values (one level deep for nested configs).
function lockSetup(setup, locked) {
  if (!locked) return setup;
  const out = { ...setup };
  for (const [k, v] of Object.entries(locked)) {
    const mine = out[k];
    const mergeable = v && typeof v === 'object' && !Array.isArray(v) && mine && typeof mine === 'object' && !Array.isArray(mine);
    out[k] = mergeable ? { ...mine, ...v } : v;
  }
  return out;
}

module.exports = { Tokens, CLOUD_PLATFORM };
