'use strict';
// Runs in a child process started with NODE_EXTRA_CA_CERTS (Node reads the trust store only at
// start-up): drives the simulator over HTTPS/WSS with the official SDK and prints the outcome
// as one JSON line for the parent test to assert on.
const h = require('./sim');

async function main() {
  const base = process.argv[2];
  const out = {};
  const gemini = h.geminiClient(base);
  const s = await h.open(gemini, { config: { outputAudioTranscription: {} } });
  out.setupComplete = s.msgs[0].setupComplete;
  s.session.sendRealtimeInput({ text: 'secure hello' });
  await s.turnComplete({ timeout: 15000 });
  out.transcript = h.transcript(s.msgs);
  out.audioChunks = s.msgs.filter((m) => m.data).length;
  s.session.close();

  const v = await h.open(h.vertexClient(base), { model: 'gemini-live-2.5-flash-native-audio' });
  out.vertexSessionId = v.msgs[0].setupComplete.sessionId;
  v.session.close();

  const token = await h.geminiClient(base, { apiVersion: 'v1alpha' }).authTokens.create({ config: { uses: 1 } });
  out.ephemeral = token.name;
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ error: String(err && err.stack) }) + '\n');
  process.exitCode = 1;
});
