'use strict';
// Which Live endpoint a WebSocket upgrade addresses and whether its credentials are accepted.
//
// Refusals follow the real services: the Gemini API accepts the upgrade and then closes the
// socket (1008 for a caller without identity, 1007 for a bad key) once setup arrives; Vertex AI
// refuses the upgrade itself with HTTP 401/400 and Google's JSON error body.

const UNREGISTERED = "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.";
const BAD_KEY = 'API key not valid. Please pass a valid API key.';

const ROUTES = [
  { re: /^\/ws\/google\.ai\.generativelanguage\.(v1alpha|v1beta|v1)\.GenerativeService\.BidiGenerateContent$/, backend: 'gemini', constrained: false },
  { re: /^\/ws\/google\.ai\.generativelanguage\.(v1alpha)\.GenerativeService\.BidiGenerateContentConstrained$/, backend: 'gemini', constrained: true },
  { re: /^\/ws\/google\.cloud\.aiplatform\.(v1beta1|v1)\.LlmBidiService\/BidiGenerateContent$/, backend: 'vertex', constrained: false },
];

// SDK-built URLs contain "//ws/..." because base URLs end with "/"; the real servers accept it.
const collapseSlashes = (p) => p.replace(/\/{2,}/g, '/');

function route(pathname) {
  const path = collapseSlashes(pathname);
  for (const r of ROUTES) {
    const m = r.re.exec(path);
    if (m) return { backend: r.backend, constrained: r.constrained, apiVersion: m[1] };
  }
  return null;
}

function googleError(status, code, message) {
  return { status, body: JSON.stringify({ error: { code: status, message, status: code } }, null, 2) + '\n' };
}

function authorization(req, scheme) {
  const h = req.headers.authorization;
  if (!h) return null;
  const m = /^(\S+)\s+(.+)$/.exec(h.trim());
  return m && m[1].toLowerCase() === scheme ? m[2] : null;
}

// Returns {kind, token?} when accepted, {refuse: {status, body}} to refuse the upgrade, or
// {closeAfterSetup: {code, reason}} to accept and then close like the Gemini API.
function authenticate(rt, req, query, ctx) {
  const apiKeyHeader = req.headers['x-goog-api-key'];
  if (rt.backend === 'vertex') {
    const bearer = authorization(req, 'bearer');
    if (bearer) {
      if (ctx.tokens.acceptsBearer(bearer)) return { kind: 'bearer' };
      return { refuse: googleError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.') };
    }
    if (apiKeyHeader !== undefined) {
      if (apiKeyHeader === ctx.apiKey) return { kind: 'express' };
      return { refuse: googleError(400, 'INVALID_ARGUMENT', BAD_KEY) };
    }
    return { refuse: googleError(401, 'UNAUTHENTICATED', 'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.') };
  }

  if (rt.constrained) {
    const token = query.get('access_token') || authorization(req, 'token');
    if (!token) return { closeAfterSetup: { code: 1008, reason: UNREGISTERED } };
    const problem = ctx.tokens.checkEphemeral(token);
    if (problem) return { closeAfterSetup: { code: 1008, reason: problem } };
    return { kind: 'ephemeral', token };
  }

  const key = query.get('key') || apiKeyHeader;
  if (!key) {
    const bearer = authorization(req, 'bearer');
    if (bearer && ctx.tokens.acceptsBearer(bearer)) return { kind: 'bearer' };
    return { closeAfterSetup: { code: 1008, reason: UNREGISTERED } };
  }
  // An ephemeral token on the unconstrained method is a caller without identity there.
  if (key.startsWith('auth_tokens/')) return { closeAfterSetup: { code: 1008, reason: UNREGISTERED } };
  if (key !== ctx.apiKey) return { closeAfterSetup: { code: 1007, reason: BAD_KEY } };
  return { kind: 'apiKey' };
}

module.exports = { route, authenticate, googleError, collapseSlashes, BAD_KEY, UNREGISTERED };
