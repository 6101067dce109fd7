// Workload 5, "connect", with @google/genai: ai.live.connect until the setupComplete
// message reaches onmessage, on one GoogleGenAI instance, sessions closed one by one.
import * as c from './common.mjs';

const n = c.envNumber('BENCH_CONNECTS', 50);
const ai = c.client();
const times = [];
for (let i = 0; i < n; i++) {
  const t0 = c.now();
  const s = await c.open(ai, () => {});
  times.push((c.now() - t0) * 1000);
  s.close();
  await c.sleep(0);
}
c.result({
  workload: 'connect',
  connects: n,
  p50_ms: c.percentile(times, 50),
  p99_ms: c.percentile(times, 99),
  first_ms: times[0],
});
process.exit(0);
