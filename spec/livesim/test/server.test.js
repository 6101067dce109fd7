'use strict';
// The command line contract: first stdout line, clean exit on SIGTERM, option errors.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const h = require('../harness/sim');

const SERVER = path.join(__dirname, '..', 'server.js');

test('prints LISTENING first and exits 0 on SIGTERM with a session open', async () => {
  const sim = await h.startSim(['--port', '0', '--host', '127.0.0.1']);
  assert.match(sim.base, /^http:\/\/127\.0\.0\.1:\d+$/);
  const s = await h.open(h.geminiClient(sim.base));
  const closed = s.closed;
  const { code } = await sim.stop();
  assert.equal(code, 0);
  assert.equal((await closed).code, 1001);
});

test('reset closes live connections and forgets state', async () => {
  const sim = await h.startSim();
  try {
    const s = await h.open(h.geminiClient(sim.base));
    await sim.control('POST', '/reset');
    assert.equal((await s.closed).code, 1006);
    assert.deepEqual(await sim.control('GET', '/connections'), []);
  } finally {
    await sim.stop();
  }
});

test('bad options exit 2 with usage; --help exits 0', () => {
  const bad = spawnSync(process.execPath, [SERVER, '--pace', 'slow'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /usage: node server\.js/);
  for (const args of [['--realism', 'chunky'], ['--partial-args', 'maybe']]) {
    const r = spawnSync(process.execPath, [SERVER, ...args], { encoding: 'utf8' });
    assert.equal(r.status, 2, args.join(' '));
    assert.match(r.stderr, args[0] === '--realism' ? /unknown realism feature "chunky"/ : /partialArgs must be/);
  }
  const help = spawnSync(process.execPath, [SERVER, '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--lifetime SECONDS/);
});

test('--voice speech replies with espeak-ng speech (skipped without espeak-ng)', async (t) => {
  const { hasEspeak, Voice } = require('../lib/voice');
  if (!hasEspeak()) return t.skip('espeak-ng not installed');
  const sim = await h.startSim(['--voice', 'speech', '--pace', 'fast']);
  try {
    const s = await h.open(h.geminiClient(sim.base), { config: { outputAudioTranscription: {} } });
    s.session.sendRealtimeInput({ text: 'Speak up' });
    await s.turnComplete();
    const pcm = Buffer.concat(s.msgs.filter((m) => m.data).map((m) => Buffer.from(m.data, 'base64')));
    const tone = await new Voice('tone').synth('You said: Speak up.');
    assert.ok(pcm.length > 24000, 'at least half a second of audio');
    assert.ok(!pcm.equals(tone), 'not the tone fallback');
    assert.equal(h.transcript(s.msgs), 'You said: Speak up.');
    s.session.close();
  } finally {
    await sim.stop();
  }
});
