'use strict';
// The real service speaks proto3 JSON: every field may arrive as lowerCamelCase or as its
// original snake_case name, at any depth (the Python SDK mixes both). The simulator works on
// camelCase internally, so client messages are normalised once on arrival.

// Values under these keys are user data (function arguments and results, tool schemas whose
// property names the user chose, label keys): they must reach the model verbatim, never
// case-converted.
const VERBATIM = new Set([
  'args', 'partialArgs', 'response', 'parameters', 'parametersJsonSchema', 'responseJsonSchema',
  'labels',
]);

const cache = new Map();

function toCamel(key) {
  if (key.indexOf('_') < 0) return key;
  let camel = cache.get(key);
  if (camel === undefined) {
    camel = key.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
    if (cache.size < 10000) cache.set(key, camel);
  }
  return camel;
}

function toSnake(key) {
  return key.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
}

// Returns a copy of `value` with camelCase keys; both spellings of one field given together
// is ambiguous, so that is reported through `onDuplicate(name)`.
function camelize(value, onDuplicate) {
  if (Array.isArray(value)) return value.map((v) => camelize(v, onDuplicate));
  if (value === null || typeof value !== 'object') return value;
  const out = {};
  for (const key of Object.keys(value)) {
    const camel = toCamel(key);
    if (Object.prototype.hasOwnProperty.call(out, camel) && onDuplicate) onDuplicate(camel);
    out[camel] = VERBATIM.has(camel) ? value[key] : camelize(value[key], onDuplicate);
  }
  return out;
}

module.exports = { camelize, toCamel, toSnake };
