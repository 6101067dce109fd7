// Workload 3, "idle", with @google/genai: the same measurement as bench/idle.lua (RSS with
// all sessions minus RSS with the first one, after a full GC; run with --expose-gc).
import * as c from './common.mjs';

const n = c.envNumber('BENCH_IDLE_SESSIONS', 1000);
const settle = c.envNumber('BENCH_IDLE_SETTLE', 2);
const gc = globalThis.gc || (() => {});

const ai = c.client();
const sessions = [await c.open(ai, () => {})];
gc();
await c.sleep(500);
const [base] = c.rssKiB();
const t0 = c.now();
for (let i = 1; i < n; i++) sessions.push(await c.open(ai, () => {}));
const t1 = c.now();
await c.sleep(settle * 1000);
gc();
const [rss, hwm] = c.rssKiB();
c.result({
  workload: 'idle',
  sessions: n,
  open: sessions.length,
  rss_one_kib: base,
  rss_all_kib: rss,
  hwm_kib: hwm,
  per_session_kib: (rss - base) / (n - 1),
  connect_seconds: t1 - t0,
});
for (const s of sessions) s.close();
process.exit(0);
