'use strict';
// Wall-clock milliseconds with sub-millisecond resolution, for frame timestamps that tests can
// compare (pacing, delays) and that stay meaningful across connections.
const { performance } = require('node:perf_hooks');

const now = () => performance.timeOrigin + performance.now();

module.exports = { now };
