// Real-client scenarios at the sizes real ledgers reach, run against any protocol server: Kiln
// (lib/kiln.mjs) in history.test.mjs, the differential oracle (tests/support/oracle.mjs) in
// oracle.test.mjs, and both in tools/bench/client.sh. Each scenario throws an assertion error when a
// client does not converge, and returns what it measured.
//
// `server` needs only fpUrl(protocol). Every client is its own process with its own keybag.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { attachedClient, closeAll, spawnClient } from "./clients.mjs";
import { devToken } from "./tokens.mjs";
import { uniqueName } from "./util.mjs";

const ids = (prefix, n) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

// One writer commits `n` one-document transactions, one put at a time. Returns the writer (still
// attached), the document ids, its CPU seconds for the commits and documents per second.
export async function writeSerially(server, { n, token, prefix = "d", label = "writer", persistDir }) {
  const writer = await attachedClient({ fpUrl: server.fpUrl("ws"), token, label, persistDir });
  const before = await writer.stats();
  const t0 = Date.now();
  for (let i = 0; i < n; i++) await writer.put({ _id: `${prefix}${i}`, i, by: label });
  await writer.flush({ timeoutMs: 300_000 });
  const ms = Date.now() - t0;
  const after = await writer.stats();
  return { writer, ids: ids(prefix, n), cpuSeconds: (after.cpuMs - before.cpuMs) / 1000, docsPerSecond: (n * 1000) / ms };
}

// A fresh client attaches and waits for `want`. Returns it with attach and converge times.
export async function join(server, { token, want, label = "joiner", timeoutMs = 180_000 }) {
  const t0 = Date.now();
  const joiner = await spawnClient({ fpUrl: server.fpUrl("ws"), token, label });
  const t1 = Date.now();
  await joiner.attach({ timeoutMs });
  const attachMs = Date.now() - t1;
  const seen = await joiner.tryWaitFor(want, { timeoutMs });
  assert.ok(seen.ok, `${label} is missing ${seen.missingCount} of ${want.length} documents (last error: ${seen.lastError})`);
  assert.equal(await joiner.count(), want.length, `${label} has documents nobody wrote`);
  return { joiner, attachMs, convergeMs: Date.now() - t1, spawnMs: t1 - t0 };
}

async function assertClean(...clients) {
  for (const c of clients) {
    const errors = await c.errors();
    assert.deepEqual(errors, [], `client ${c.label} recorded errors: ${JSON.stringify(errors).slice(0, 3000)}`);
  }
}

// A late joiner after `n` one-document commits (several client compactions) converges; then the
// joiner compacts and writes, and a second joiner converges on what the first left.
export async function lateJoiners(server, { n = 1000 } = {}) {
  const token = await devToken("e2e", uniqueName("history"));
  const w = await writeSerially(server, { n, token });
  const clients = [w.writer];
  try {
    const first = await join(server, { token, want: w.ids, label: "joiner-1" });
    clients.push(first.joiner);
    await first.joiner.compact();
    await first.joiner.put({ _id: "from-joiner-1" });
    await first.joiner.flush();
    const want = [...w.ids, "from-joiner-1"];
    const second = await join(server, { token, want, label: "joiner-2" });
    clients.push(second.joiner);
    await w.writer.waitFor(["from-joiner-1"], { timeoutMs: 60_000 });
    await assertClean(...clients);
    return { writerCpuSeconds: w.cpuSeconds, docsPerSecond: w.docsPerSecond, first, second };
  } finally {
    await closeAll(clients);
  }
}

// `writers` clients commit `each` documents each, interleaved; a joiner converges. By default the
// writers take turns, one put each in rotation, and a writer puts only once it has the document
// written just before its turn (users taking turns on a shared document: every writer merges the
// others' commits between its own). With `synced: false` a writer does not wait for the previous
// document, so nearly every put branches the clock; the real client's merge cost then grows with
// every round and a put stalls past 60 s on Kiln and the oracle alike (docs/benchmarks.md). With
// `concurrent` all write at once as fast as they can, which on a 2-core machine makes the real
// clients miss their own 3 s request timeouts.
export async function interleavedWriters(server, { writers = 3, each = 200, concurrent = false, synced = true } = {}) {
  const token = await devToken("e2e", uniqueName("interleaved"));
  const clients = await Promise.all(
    Array.from({ length: writers }, (_, k) => attachedClient({ fpUrl: server.fpUrl("ws"), token, label: `w${k}` })),
  );
  try {
    if (concurrent) {
      await Promise.all(
        clients.map(async (c, k) => {
          for (let i = 0; i < each; i++) await c.put({ _id: `w${k}-${i}`, k, i });
        }),
      );
    } else {
      let previous = null;
      for (let i = 0; i < each; i++) {
        for (const [k, c] of clients.entries()) {
          if (synced && previous) await c.waitFor([previous], { timeoutMs: 60_000 });
          previous = await c.put({ _id: `w${k}-${i}`, k, i });
        }
      }
    }
    await Promise.all(clients.map((c) => c.flush({ timeoutMs: 300_000 })));
    const want = clients.flatMap((_, k) => ids(`w${k}-`, each));
    const j = await join(server, { token, want, label: "joiner" });
    clients.push(j.joiner);
    await Promise.all(clients.slice(0, writers).map((c) => c.waitFor(want, { timeoutMs: 120_000 })));
    await assertClean(...clients);
    return { attachMs: j.attachMs, convergeMs: j.convergeMs };
  } finally {
    await closeAll(clients);
  }
}

// A writer on a file:// store commits, stops, starts again on the same store, commits more; a joiner
// then sees every document.
export async function restartedWriter(server, { before = 150, after = 150 } = {}) {
  const token = await devToken("e2e", uniqueName("restarted"));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kiln-writer-"));
  const clients = [];
  try {
    const w1 = await writeSerially(server, { n: before, token, prefix: "a", persistDir: dir, label: "writer-1" });
    await w1.writer.close();
    const w2 = await writeSerially(server, { n: after, token, prefix: "b", persistDir: dir, label: "writer-2" });
    clients.push(w2.writer);
    const want = [...w1.ids, ...w2.ids];
    await w2.writer.waitFor(want, { timeoutMs: 60_000 });
    const j = await join(server, { token, want, label: "joiner" });
    clients.push(j.joiner);
    await assertClean(...clients);
    return { convergeMs: j.convergeMs };
  } finally {
    await closeAll(clients);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// `writers` clients commit `each` documents each at once while a reader follows; everyone ends
// with every document. Returns the writers' CPU seconds per commit.
export async function busyWritersAndReader(server, { writers = 3, each = 30 } = {}) {
  const token = await devToken("e2e", uniqueName("busy"));
  const reader = await attachedClient({ fpUrl: server.fpUrl("ws"), token, label: "reader" });
  const clients = [reader];
  try {
    const ws = await Promise.all(
      Array.from({ length: writers }, (_, k) => attachedClient({ fpUrl: server.fpUrl("ws"), token, label: `bw${k}` })),
    );
    clients.push(...ws);
    const cpu0 = await Promise.all(ws.map((c) => c.stats()));
    await Promise.all(
      ws.map(async (c, k) => {
        for (let i = 0; i < each; i++) await c.put({ _id: `bw${k}-${i}`, k, i });
        await c.flush({ timeoutMs: 120_000 });
      }),
    );
    const want = ws.flatMap((_, k) => ids(`bw${k}-`, each));
    await reader.waitFor(want, { timeoutMs: 120_000 });
    await Promise.all(ws.map((c) => c.waitFor(want, { timeoutMs: 120_000 })));
    const cpu1 = await Promise.all(ws.map((c) => c.stats()));
    await assertClean(...clients);
    const cpu = cpu1.reduce((s, c, i) => s + c.cpuMs - cpu0[i].cpuMs, 0) / 1000;
    return { writerCpuSecondsPerCommit: cpu / (writers * each) };
  } finally {
    await closeAll(clients);
  }
}
