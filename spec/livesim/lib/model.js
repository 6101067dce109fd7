'use strict';
// The deterministic simulated model: given what the user said, the declared functions and the
// conversation so far, it decides whether to call functions or what to say. The rules are
// documented in README.md ("The deterministic model"); tests rely on them exactly.

const builtins = require('./builtins');

const AUDIO_TOKENS_PER_SECOND = 25;
const VIDEO_TOKENS_PER_FRAME = 258;

const textTokens = (s) => (s ? Math.ceil(Buffer.byteLength(s, 'utf8') / 4) : 0);
const audioTokens = (ms) => Math.ceil((ms / 1000) * AUDIO_TOKENS_PER_SECOND);

// Splits "call a {..}; call b {..}" into [{name, args}], honouring braces and strings inside
// the JSON so that a ";" inside an argument value does not end the call.
function parseExplicitCalls(text) {
  const calls = [];
  let i = 0;
  const n = text.length;
  const skipSpace = () => { while (i < n && /\s/.test(text[i])) i++; };
  for (;;) {
    skipSpace();
    const m = /^call\s+([A-Za-z_][A-Za-z0-9_.:-]*)/i.exec(text.slice(i));
    if (!m) return null;
    i += m[0].length;
    skipSpace();
    let args = {};
    if (text[i] === '{') {
      const start = i;
      let depth = 0;
      let inString = false;
      for (; i < n; i++) {
        const c = text[i];
        if (inString) {
          if (c === '\\') i++;
          else if (c === '"') inString = false;
        } else if (c === '"') inString = true;
        else if (c === '{') depth++;
        else if (c === '}' && --depth === 0) { i++; break; }
      }
      try { args = JSON.parse(text.slice(start, i)); } catch { return null; }
    }
    calls.push({ name: m[1], args });
    skipSpace();
    if (i >= n) return calls;
    if (text[i] !== ';') return null;
    i++;
  }
}

const nameWords = (name) => name
  .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
  .split(/[_.:-]+/)
  .map((w) => w.toLowerCase())
  .filter((w) => w.length >= 4);

function lastCapitalisedWord(text) {
  const caps = text.match(/\b[A-Z][\p{L}'-]*/gu);
  if (caps) return caps[caps.length - 1];
  const words = text.match(/[\p{L}\p{N}'-]+/gu);
  return words ? words[words.length - 1] : '';
}

// Fills the required parameters of a declaration from the user's words.
function naturalArgs(decl, text) {
  const schema = decl.parameters || decl.parametersJsonSchema || {};
  const props = schema.properties || {};
  const args = {};
  for (const name of schema.required || []) {
    const type = String((props[name] && props[name].type) || 'string').toLowerCase();
    if (type === 'string') args[name] = lastCapitalisedWord(text);
    else if (type === 'number' || type === 'integer') args[name] = 1;
    else if (type === 'boolean') args[name] = true;
    else if (type === 'array') args[name] = [];
    else args[name] = {};
  }
  return args;
}

function sentence(prefix, text) {
  const t = text.trim();
  return /[.!?]$/.test(t) ? `${prefix}${t}` : `${prefix}${t}.`;
}

// Returns {calls: [{name, args}]}, {waiting: true}, or {text} with, when a built-in tool ran,
// what it produced (see builtins.run). `tools` is {functions: [declarations], builtins:
// {googleSearch, ...}}; `history` is the session's list of turns.
function respond(userText, tools, history) {
  const { functions, builtins: declared } = tools;
  const text = (userText || '').trim();
  if (/^call\s/i.test(text)) {
    const calls = parseExplicitCalls(text);
    if (!calls) return { text: 'I could not understand that call.' };
    const unknown = calls.find((c) => !functions.some((f) => f.name === c.name));
    if (unknown) return { text: `There is no function called ${unknown.name}.` };
    return { calls };
  }
  // A text that trails off: the model waits for the user to go on.
  if (/(\.\.\.|\u2026)$/.test(text)) return { waiting: true };
  const ran = text && builtins.run(text, declared);
  if (ran) return ran;
  if (text && functions.length) {
    const words = new Set((text.toLowerCase().match(/[\p{L}\p{N}]+/gu) || []));
    const matched = functions.filter((f) => nameWords(f.name).some((w) => words.has(w)));
    if (matched.length) return { calls: matched.map((f) => ({ name: f.name, args: naturalArgs(f, text) })) };
  }
  if (/\bhistory\b/i.test(text)) {
    const turns = history.filter((t) => t.text).map((t) => `${t.role}: ${t.text.trim()}`);
    return { text: turns.length ? sentence('History: ', turns.join('; ')) : 'There is no history.' };
  }
  if (/\brecap\b/i.test(text)) {
    const said = history.filter((t) => t.role === 'user' && t.text).map((t) => t.text.trim());
    return { text: said.length ? sentence('Earlier you said: ', said.join('; ')) : 'You have not said anything before.' };
  }
  if (!text) return { text: 'I am listening.' };
  return { text: sentence('You said: ', text) };
}

function describeResults(responses) {
  return responses.map((r) => `The result of ${r.name} is ${JSON.stringify(r.response ?? {})}.`).join(' ');
}

// What the model says while NON_BLOCKING calls run.
function describeStarted(calls) {
  return calls.map((c) => `I started ${c.name}.`).join(' ');
}

module.exports = {
  respond, describeResults, describeStarted, parseExplicitCalls, textTokens, audioTokens,
  AUDIO_TOKENS_PER_SECOND, VIDEO_TOKENS_PER_FRAME,
};
