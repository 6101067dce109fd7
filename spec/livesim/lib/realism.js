'use strict';
// Quirks of real sessions that the simulator reproduces on demand (behaviour `realism`), so
// clients can be tested against them. README.md ("Realism") documents each one.

const FEATURES = {
  // Vertex audio in chunks of 200, 220 and 240 ms in turn instead of 40 ms.
  'audio-chunks': true,
  // An empty `outputTranscription: {}` before the first audio of a reply.
  'empty-transcription': true,
  // A `modelTurn` with an `executableCode` part (the call written as Python) before a toolCall,
  // although no code tool was declared.
  'code-before-call': true,
  // Vertex: `generationComplete` right after a toolCall the model waits on.
  'generation-after-call': true,
};

const VERTEX_CHUNKS_MS = [200, 220, 240];

// `true` (every feature), `false`/null (none), or a list of feature names (or one name).
function normalise(v) {
  if (v === true || v === 'all') return Object.keys(FEATURES);
  if (v === false || v === null || v === 'none' || v === undefined) return [];
  const list = Array.isArray(v) ? v : String(v).split(',').map((x) => x.trim()).filter(Boolean);
  for (const name of list) {
    if (!FEATURES[name]) throw new Error(`unknown realism feature ${JSON.stringify(name)} (known: ${Object.keys(FEATURES).join(', ')})`);
  }
  return [...new Set(list)];
}

const has = (conn, name) => (conn.behaviour.realism || []).includes(name);

// Python literal of a JSON value, the way the model writes tool calls as code.
function py(v) {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'string' || typeof v === 'number') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(py).join(', ')}]`;
  return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${py(x)}`).join(', ')}}`;
}

// `print(default_api.NAME(key=value, ...))`, one line per call.
function callsAsCode(functionCalls) {
  return functionCalls.map(({ name, args }) => {
    const kw = Object.entries(args || {}).map(([k, v]) => (/^[A-Za-z_]\w*$/.test(k) ? `${k}=${py(v)}` : `**{${JSON.stringify(k)}: ${py(v)}}`));
    return `print(default_api.${name}(${kw.join(', ')}))`;
  }).join('\n');
}

module.exports = { normalise, has, callsAsCode, FEATURES, VERTEX_CHUNKS_MS };
