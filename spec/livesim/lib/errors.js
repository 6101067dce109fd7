'use strict';
// A protocol error that ends the connection with a WebSocket close code and a short reason,
// the way the real service reports invalid input (reasons are capped at 123 bytes on the wire).

class CloseError extends Error {
  constructor(code, reason) {
    super(reason);
    this.code = code;
    this.reason = truncateReason(reason);
  }
}

function truncateReason(reason) {
  const buf = Buffer.from(String(reason), 'utf8');
  if (buf.length <= 123) return String(reason);
  // Cut on a character boundary so the close frame stays valid UTF-8.
  let end = 123;
  while (end > 0 && (buf[end] & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString('utf8');
}

const INVALID_ARGUMENT = 'Request contains an invalid argument.';

const invalid = (reason = INVALID_ARGUMENT) => new CloseError(1007, reason);
const policy = (reason) => new CloseError(1008, reason);

module.exports = { CloseError, invalid, policy, truncateReason, INVALID_ARGUMENT };
