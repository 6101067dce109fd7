'use strict';
// The built-in tools of the simulated model, deterministic: Google Search (an answer plus
// groundingMetadata), code execution (an arithmetic expression run as Python: executableCode,
// then codeExecutionResult) and URL context (urlContextMetadata). README.md ("Built-in tools")
// documents the triggers and the exact output; tests rely on them.

const byteLength = (s) => Buffer.byteLength(s, 'utf8');
const slug = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'query';
const escapeHtml = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// ---- code execution: a small evaluator of Python arithmetic --------------------------------

class PyError extends Error {}

// Tokens: numbers, the operators + - * / // % ** and parentheses.
function tokenize(src) {
  const tokens = [];
  const re = /\s*(\d+\.\d*|\.\d+|\d+|\*\*|\/\/|[-+*/%()])/y;
  let m;
  re.lastIndex = 0;
  while (re.lastIndex < src.length && (m = re.exec(src))) tokens.push(m[1]);
  if (re.lastIndex < src.trimEnd().length) return null;
  return tokens;
}

// Values carry whether Python would hold them as float, so `7/2` prints 3.5 and `4/2` prints 2.0.
function evaluate(src) {
  const tokens = tokenize(src);
  if (!tokens || !tokens.length) return null;
  let i = 0;
  const peek = () => tokens[i];
  const num = (v, f) => ({ v, f });
  const zero = (b) => { if (b.v === 0) throw new PyError('ZeroDivisionError: division by zero'); };
  function atom() {
    const t = tokens[i++];
    if (t === '(') {
      const v = expr();
      if (tokens[i++] !== ')') throw new SyntaxError();
      return v;
    }
    if (t === undefined || !/^[\d.]/.test(t)) throw new SyntaxError();
    return num(Number(t), t.includes('.'));
  }
  function power() {
    const base = atom();
    if (peek() !== '**') return base;
    i++;
    const exp = factor();
    if (base.v === 0 && exp.v < 0) throw new PyError('ZeroDivisionError: 0.0 cannot be raised to a negative power');
    return num(base.v ** exp.v, base.f || exp.f || exp.v < 0);
  }
  function factor() {
    if (peek() === '-' || peek() === '+') {
      const sign = tokens[i++];
      const v = factor();
      return sign === '-' ? num(-v.v, v.f) : v;
    }
    return power();
  }
  function term() {
    let a = factor();
    while (['*', '/', '//', '%'].includes(peek())) {
      const op = tokens[i++];
      const b = factor();
      if (op === '*') a = num(a.v * b.v, a.f || b.f);
      else if (op === '/') { zero(b); a = num(a.v / b.v, true); }
      else if (op === '//') { zero(b); a = num(Math.floor(a.v / b.v), a.f || b.f); }
      else { zero(b); a = num(a.v - b.v * Math.floor(a.v / b.v), a.f || b.f); }
    }
    return a;
  }
  function expr() {
    let a = term();
    while (peek() === '+' || peek() === '-') {
      const op = tokens[i++];
      const b = term();
      a = num(op === '+' ? a.v + b.v : a.v - b.v, a.f || b.f);
    }
    return a;
  }
  try {
    const v = expr();
    if (i !== tokens.length) return null;
    return { output: formatNumber(v) };
  } catch (err) {
    if (err instanceof PyError) return { error: err.message };
    return null;
  }
}

function formatNumber({ v, f }) {
  if (!f) return String(v);
  if (Number.isInteger(v)) return v.toFixed(1);
  return String(v);
}

// The longest run of arithmetic in the text that Python would accept.
function findExpression(text) {
  const runs = (text.match(/[\d.+\-*/%()\s]+/g) || [])
    .map((r) => r.trim().replace(/[.\s]+$/, ''))
    .filter((r) => /\d/.test(r) && /[-+*/%]/.test(r.replace(/^[-+]/, '')))
    .sort((a, b) => b.length - a.length);
  for (const r of runs) {
    const result = evaluate(r);
    if (result) return { expr: r, result };
  }
  return null;
}

function codeExecution(text) {
  if (!/\b(compute|calculate)\b/i.test(text)) return null;
  const found = findExpression(text);
  if (!found) return null;
  const { expr, result } = found;
  const code = { language: 'PYTHON', code: `print(${expr})` };
  if (result.error) {
    const output = `Traceback (most recent call last):\n  File "<string>", line 1, in <module>\n${result.error}\n`;
    return {
      code, result: { outcome: 'OUTCOME_FAILED', output },
      sentence: `The code failed with ${result.error.split(':')[0]}.`,
    };
  }
  return { code, result: { outcome: 'OUTCOME_OK', output: `${result.output}\n` }, sentence: `The result is ${result.output}.` };
}

// ---- URL context ---------------------------------------------------------------------------

function urlContext(text) {
  const urls = (text.match(/\bhttps?:\/\/[^\s<>"'`]+/gi) || []).map((u) => u.replace(/[.,;:!?)\]]+$/, ''));
  if (!urls.length) return null;
  const entries = urls.map((u) => {
    let host = null;
    try { host = new URL(u).hostname; } catch { /* unparsable: retrieval fails */ }
    const ok = host && !host.endsWith('.invalid');
    return {
      meta: { retrievedUrl: u, urlRetrievalStatus: ok ? 'URL_RETRIEVAL_STATUS_SUCCESS' : 'URL_RETRIEVAL_STATUS_ERROR' },
      sentence: ok ? `I read ${host}.` : `I could not open ${host || u}.`,
    };
  });
  return { metadata: { urlMetadata: entries.map((e) => e.meta) }, sentence: entries.map((e) => e.sentence).join(' ') };
}

// ---- Google Search -------------------------------------------------------------------------

function searchQuery(text) {
  const after = text.replace(/^.*?\bsearch(?:\s+(?:the\s+web|online|google))?(?:\s+for)?\b\s*/i, '');
  const q = (/\bsearch\b/i.test(text) && after.trim() ? after : text).trim().replace(/[.?!]+$/, '');
  return q || text.trim();
}

function googleSearch(text) {
  if (!/\b(search|latest)\b/i.test(text)) return null;
  const query = searchQuery(text);
  const s = slug(query);
  return {
    query,
    chunks: [
      { web: { uri: `https://example.com/${s}`, title: 'example.com' } },
      { web: { uri: `https://example.org/${s}`, title: 'example.org' } },
    ],
    sentence: `I found 2 results for ${query}.`,
  };
}

// groundingMetadata for the search sentence at its place in the whole answer. Segment indices
// are UTF-8 byte offsets; a zero startIndex is left out, as proto3 JSON does.
function groundingMetadata(search, answer) {
  const start = byteLength(answer.slice(0, answer.indexOf(search.sentence)));
  const segment = { endIndex: start + byteLength(search.sentence), text: search.sentence };
  if (start) segment.startIndex = start;
  return {
    searchEntryPoint: {
      renderedContent: `<div class="search-entry-point"><a href="https://www.example.com/search?q=${encodeURIComponent(search.query)}">${escapeHtml(search.query)}</a></div>\n`,
    },
    groundingChunks: search.chunks,
    groundingSupports: [{ segment, groundingChunkIndices: [0, 1] }],
    webSearchQueries: [search.query],
  };
}

// Runs every declared built-in tool that the text triggers. Returns null when none ran, else
// {text, code?, codeResult?, grounding?, urlContext?, toolUseText}.
function run(text, declared) {
  const code = declared.codeExecution ? codeExecution(text) : null;
  const url = declared.urlContext ? urlContext(text) : null;
  const search = declared.googleSearch ? googleSearch(text) : null;
  if (!code && !url && !search) return null;
  const answer = [code, url, search].filter(Boolean).map((r) => r.sentence).join(' ');
  const out = { text: answer, toolUseText: '' };
  if (code) {
    out.code = code.code;
    out.codeResult = code.result;
    out.toolUseText += code.result.output;
  }
  if (url) {
    out.urlContext = url.metadata;
    out.toolUseText += JSON.stringify(url.metadata);
  }
  if (search) {
    out.grounding = groundingMetadata(search, answer);
    out.toolUseText += JSON.stringify(search.chunks);
  }
  return out;
}

module.exports = { run, evaluate, findExpression, searchQuery };
