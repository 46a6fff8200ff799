// Real clients at the sizes real ledgers reach, against Kiln and against the differential oracle
// (tests/support/oracle.mjs, a minimal in-memory server following docs/protocol-rules.md): every
// scenario runs on both, so whatever the oracle passes Kiln must pass too. Then the same
// protocol-level workload goes to both and they must serve the same heads and reader entries.
// Three writers taking turns for 200 commits each run here; writers committing at once (3x30 with a
// reader, 3x200, and 3x200 turns without waiting for the previous document) are run by
// tools/bench/client.sh instead: on a 2-core machine the real clients miss their own 3 s request
// timeouts or stall there, against the oracle too (docs/benchmarks.md).
// Every client is its own process with its own keybag.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { startKiln } from "./lib/kiln.mjs";
import { startOracle } from "../support/oracle.mjs";
import { interleavedWriters, lateJoiners, restartedWriter } from "./lib/scenarios.mjs";
import { bindGetMetaMsg, fpRequest, openHttpSession } from "./lib/protocol.mjs";
import { carCid, metaEntry, putMeta, uploadCar, prng } from "./lib/entries.mjs";
import { uniqueName } from "./lib/util.mjs";

const servers = {
  oracle: () => startOracle(),
  kiln: () => startKiln({ auth: "none" }),
};

for (const [name, start] of Object.entries(servers)) {
  describe(`real clients at realistic history (${name})`, () => {
    let server;
    before(async () => {
      server = await start();
    });
    after(async () => {
      await server?.stop();
    });

    test("a late joiner after 1,000 one-document commits converges; so does a second after the first compacted", async () => {
      const r = await lateJoiners(server, { n: 1000 });
      console.log(`[${name}] 1,000 commits: writer ${r.writerCpuSeconds.toFixed(1)} s CPU, joiners converged in ${r.first.convergeMs} and ${r.second.convergeMs} ms`);
    });

    test("a writer restarted on its file store continues the ledger, and a joiner then sees everything", async () => {
      await restartedWriter(server, { before: 150, after: 150 });
    });

    test("three writers taking turns for 200 commits each: every writer and a joiner end with all 600 documents", async () => {
      const r = await interleavedWriters(server, { writers: 3, each: 200 });
      console.log(`[${name}] 3 x 200 taking turns: joiner attached in ${r.attachMs} ms, converged in ${r.convergeMs} ms`);
    });

  });
}

// Three writers put 400 entries (single and batched, some repeated, some before their parents) at
// the protocol level; Kiln (which validates everything) and the oracle must then agree exactly on
// what a new reader is served.
test("Kiln and the oracle serve the same heads and reader entries after the same workload", async () => {
  const seed = process.env.KILN_E2E_SEED ?? String(Date.now());
  console.log(`differential workload seed ${seed} (KILN_E2E_SEED to repeat)`);
  const rand = prng(seed);
  const token = "dev";
  const tenant = "diff";
  const ledger = uniqueName("ledger");
  // The workload, made once: each step is one reqPutMeta of 1-3 entries by one of three writers.
  const cars = [];
  const steps = [];
  const all = [];
  const known = [[], [], []]; // each writer's view of the heads
  for (let i = 0; i < 400; i++) {
    const w = Math.floor(rand() * 3);
    if (rand() < 0.3 && all.length) known[w] = [all[all.length - 1 - Math.floor(rand() * Math.min(5, all.length))].cid];
    const batch = [];
    for (let b = 0, n = 1 + Math.floor(rand() * 3); b < n; b++) {
      const car = Buffer.from(`car ${seed} ${i} ${b}`);
      cars.push(car);
      const e = await metaEntry(await carCid(car), known[w]);
      batch.push(e);
      all.push(e);
      known[w] = [e.cid];
    }
    if (rand() < 0.1 && all.length > batch.length) batch.push(all[Math.floor(rand() * (all.length - batch.length))]);
    if (rand() < 0.1) batch.reverse();
    steps.push({ w, batch });
  }
  const served = {};
  for (const [name, start] of Object.entries(servers)) {
    const server = await start();
    try {
      const sessions = await Promise.all([0, 1, 2].map(() => openHttpSession(server.httpBase, token)));
      const ctx = (w) => ({ token, conn: sessions[w], tenant, ledger });
      for (const car of cars) await uploadCar(server.httpBase, ctx(0), car);
      for (const { w, batch } of steps) await putMeta(server.httpBase, ctx(w), batch);
      const r = await fpRequest(server.httpBase, bindGetMetaMsg(ctx(0)));
      assert.equal(r.body?.type, "eventGetMeta", `${name}: ${r.text.slice(0, 300)}`);
      served[name] = r.body.meta.metas.map((m) => m.cid);
    } finally {
      await server.stop();
    }
  }
  // The heads by definition: accepted entries that no accepted entry names as a parent. Both must
  // serve every head, and each entry once. (The heads *within* what is served may be more: a
  // writer's latest entry can be older than the window's first entry that names it, when a batch
  // came child first.)
  const named = new Set(all.flatMap((e) => e.parents));
  const expectedHeads = [...new Set(all.map((e) => e.cid))].filter((c) => !named.has(c)).sort();
  for (const name of Object.keys(servers)) {
    const missing = expectedHeads.filter((h) => !served[name].includes(h));
    assert.deepEqual(missing, [], `heads ${name} does not serve`);
    assert.equal(new Set(served[name]).size, served[name].length, `${name} serves an entry twice`);
  }
  assert.deepEqual(served.kiln, served.oracle, "Kiln and the oracle serve the same entries in the same order");
});

