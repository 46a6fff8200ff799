// Real-client benchmark (a benchmark, not a test: it never fails on a missed target). For each size
// in SIZES and each server (Kiln from $KILN_BUILD_DIR, durable RocksDB, --auth=none; and the
// differential oracle, tests/support/oracle.mjs) in the same run: one real @fireproof/core 0.24.19
// writer commits N one-document transactions, one put at a time; then a fresh client attaches and
// waits for all N documents. Prints one line per (server, size): the writer's CPU seconds per 100
// commits, documents/s, and the joiner's attach-to-converged time. Then writers all at once
// (CONCURRENT: 3x30 at once with a reader; 3x200 taking turns, each waiting for the previous
// document; 3x200 in rotation without waiting; 3x200 at once): whether every client ends with every
// document. Run by tools/bench/client.sh.
import { serverStarter } from "./servers.mjs";
import { writeSerially, join, busyWritersAndReader, interleavedWriters } from "../../tests/e2e/lib/scenarios.mjs";
import { closeAll } from "../../tests/e2e/lib/clients.mjs";
import { devToken } from "../../tests/e2e/lib/tokens.mjs";

const sizes = (process.env.SIZES ?? "100 1000 5000").split(/\s+/).filter(Boolean).map(Number);
const servers = (process.env.SERVERS ?? "kiln oracle").split(/\s+/).filter(Boolean);
const start = Object.fromEntries(servers.map((n) => [n, serverStarter(n)]));

for (const n of sizes) {
  for (const name of servers) {
    const server = await start[name]();
    const clients = [];
    try {
      const token = await devToken("bench", `client-${n}-${Date.now()}`);
      const w = await writeSerially(server, { n, token });
      clients.push(w.writer);
      const j = await join(server, { token, want: w.ids, timeoutMs: 600_000 });
      clients.push(j.joiner);
      console.log(
        `server=${name} commits=${n} writer_cpu_s_per_100=${((w.cpuSeconds * 100) / n).toFixed(3)} ` +
          `docs_per_s=${w.docsPerSecond.toFixed(1)} joiner_attach_ms=${j.attachMs} joiner_converged_ms=${j.convergeMs}`,
      );
    } catch (e) {
      console.log(`server=${name} commits=${n} FAILED: ${e.message.split("\n")[0].slice(0, 300)}`);
    } finally {
      await closeAll(clients);
      await server.stop();
    }
  }
}
// Writers all at once: does every client end with every document, and at what writer CPU?
const concurrent = {
  busy_3x30_reader: (s) => busyWritersAndReader(s, { writers: 3, each: 30 }),
  turns_3x200: (s) => interleavedWriters(s, { writers: 3, each: 200 }),
  rotation_3x200: (s) => interleavedWriters(s, { writers: 3, each: 200, synced: false }),
  concurrent_3x200: (s) => interleavedWriters(s, { writers: 3, each: 200, concurrent: true }),
};
for (const [label, run] of Object.entries(concurrent)) {
  if (!(process.env.CONCURRENT ?? "busy_3x30_reader turns_3x200 rotation_3x200 concurrent_3x200").split(/\s+/).includes(label)) continue;
  for (const name of servers) {
    const server = await start[name]();
    try {
      const r = await run(server);
      const cpu = r.writerCpuSecondsPerCommit;
      console.log(`server=${name} scenario=${label} passed${cpu ? ` writer_cpu_ms_per_commit=${(cpu * 1000).toFixed(1)}` : ""}`);
    } catch (e) {
      console.log(`server=${name} scenario=${label} FAILED: ${e.message.split("\n")[0].slice(0, 200)}`);
    } finally {
      await server.stop().catch(() => {});
    }
  }
}
process.exit(0);
