// tools/chaos: faults injected into a running Kiln (tools/dev up) under load, with an
// expected-state check after every round. Run it through tools/chaos/run, which builds, installs
// the client, raises the file limit and mounts a small tmpfs for the data (for the disk-full round).
//
//   node tools/chaos/chaos.mjs --root R --data-root D --check-bin B [--replicas 1|2|both]
//        [--smoke] [--storm N] [--disk-full] [--out FILE] [--only REGEX]
//
// Each topology (the embedded one, --replicas 1, and --replicas 2) gets its own mesh and rounds:
// SIGKILL of each service (each replica with --replicas 2) then its restart by tools/dev; SIGSTOP
// then SIGCONT of each service kind (a hung peer); the data filesystem filled then freed; a
// reconnect storm of N WebSocket clients across an edge restart. Load during all of them: protocol
// writers (reqPutData + blob PUT + reqPutMeta, load.mjs) on three ledgers (two writers share one)
// placed on every shard, and real Fireproof clients writing documents (fpclients.mjs). After each
// round the load pauses and checker.mjs verifies entries, log, heads and blobs, and the clients
// must converge. Every loop is bounded in count and time; all traffic goes to 127.0.0.1.
import crypto from "node:crypto";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { devToken } from "../../tests/e2e/lib/tokens.mjs";
import { checkBlobs, checkEntries } from "./checker.mjs";
import { DocWriters } from "./fpclients.mjs";
import { LedgerState, Writer } from "./load.mjs";
import { Mesh } from "./mesh.mjs";
import { reconnectStorm } from "./storm.mjs";
import { log, sleep, until } from "./util.mjs";

const TOKEN = "chaos-dev-token"; // tools/dev up runs --auth=none

function parseArgs(argv) {
  const a = { replicas: "both", smoke: false, storm: 1000, diskFull: false, out: "", only: "" };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => argv[++i];
    if (k === "--root") a.root = v();
    else if (k === "--data-root") a.dataRoot = v();
    else if (k === "--check-bin") a.checkBin = v();
    else if (k === "--replicas") a.replicas = v();
    else if (k === "--smoke") a.smoke = true;
    else if (k === "--storm") a.storm = Number(v());
    else if (k === "--disk-full") a.diskFull = true;
    else if (k === "--out") a.out = v();
    else if (k === "--only") a.only = v();
    else throw new Error(`unknown argument ${k}`);
  }
  for (const k of ["root", "dataRoot", "checkBin"]) if (!a[k]) throw new Error(`--${k} is required`);
  return a;
}

// `n` ledger names of `tenant` that cover every shard (round-robin), placed by kiln-chaos-check
// --shard_only (common/shards.h itself) on the mesh's shard list.
function ledgersOnEveryShard(checkBin, metadataTarget, replicas, tenant, prefix, n) {
  const names = Array.from({ length: 50 * n }, (_, k) => `${prefix}-${k}`);
  const r = spawnSync(checkBin, ["--shard_only", `--metadata_target=${metadataTarget}`], {
    input: names.map((l) => `${tenant}\t${l}\n`).join(""),
    encoding: "utf8",
    timeout: 30_000,
  });
  if (r.status !== 0) throw new Error(`kiln-chaos-check --shard_only failed: ${r.stderr}`);
  const shards = r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l));
  const out = [];
  for (const s of shards) if (out.length < n && s.shard === out.length % replicas) out.push(s.ledger);
  if (out.length < n) throw new Error("no ledger names found for every shard");
  return out;
}

function rounds(replicas, smoke, diskFull, storm) {
  const names = replicas === 1 ? ["edge", "merge", "metadata", "blockstore"] : ["edge", "merge", "metadata", "blockstore"].flatMap((k) => [`${k}-0`, `${k}-1`]);
  if (smoke) return [{ fault: "SIGKILL", target: names[1] }, { fault: "SIGSTOP", target: names[2], holdMs: 2000 }, { fault: "storm", n: storm }];
  const list = names.map((target) => ({ fault: "SIGKILL", target }));
  for (const kind of ["edge", "merge", "metadata", "blockstore"]) list.push({ fault: "SIGSTOP", target: replicas === 1 ? kind : `${kind}-0`, holdMs: 5000 });
  if (diskFull) list.push({ fault: "disk-full", holdMs: 6000 });
  list.push({ fault: "storm", n: storm });
  return list;
}

// Fills the filesystem of `dir` (tmpfs or a small loop device), returns a function that frees it.
function fillDisk(dir) {
  const filler = path.join(dir, "chaos-filler");
  const st = fs.statfsSync(dir);
  const free = Number(st.bavail) * Number(st.bsize);
  spawnSync("fallocate", ["-l", String(free), filler], { timeout: 30_000 });
  // Whatever fallocate left (or all of it, where fallocate is unsupported).
  spawnSync("dd", ["if=/dev/zero", `of=${filler}-rest`, "bs=64k", `count=${Math.ceil(free / 65536) + 16}`], { timeout: 60_000 });
  const left = Number(fs.statfsSync(dir).bavail) * Number(st.bsize);
  return {
    filledBytes: free - left,
    leftBytes: left,
    free: () => {
      fs.rmSync(filler, { force: true });
      fs.rmSync(`${filler}-rest`, { force: true });
    },
  };
}

async function runTopology(args, replicas) {
  const dataDir = path.join(args.dataRoot, `replicas-${replicas}`);
  fs.mkdirSync(dataDir, { recursive: true });
  const mesh = new Mesh({ root: args.root, dataDir, replicas, logFile: path.join(args.dataRoot, `mesh-replicas-${replicas}.log`) });
  log(`replicas ${replicas}: starting the mesh (tools/dev up --replicas ${replicas}) under ${dataDir}`);
  await mesh.start();
  try {
    return await runRounds(args, replicas, mesh, dataDir);
  } finally {
    await mesh.stop();
  }
}

async function runRounds(args, replicas, mesh, dataDir) {
  const rows = [];
  const storms = [];
  const tenant = "chaos";
  const [la, lb, lc] = ledgersOnEveryShard(args.checkBin, mesh.metadataTarget, replicas, tenant, "load", 3);
  const states = [la, la, lb, lc]; // two writers share la: concurrent heads
  const ledgerStates = new Map([la, lb, lc].map((l) => [l, new LedgerState(tenant, l)]));
  const writers = states.map((l, i) => new Writer({ label: `w${i}`, httpBase: mesh.httpBase(i), token: TOKEN, state: ledgerStates.get(l), maxOps: 200_000 }));
  const stormLedgers = ledgersOnEveryShard(args.checkBin, mesh.metadataTarget, replicas, tenant, "storm", 4).map((l) => new LedgerState(tenant, l));
  const stormWriters = stormLedgers.map((s, i) => new Writer({ label: `s${i}`, httpBase: mesh.httpBase(0), token: TOKEN, state: s, maxOps: 1000 }));
  const allStates = [...ledgerStates.values(), ...stormLedgers];
  const docLedger = `docs-${crypto.randomBytes(3).toString("hex")}`;
  const docs = new DocWriters({ fpUrl: `fpcloud://127.0.0.1:8787?protocol=ws`, token: await devToken(tenant, docLedger), dir: path.join(dataDir, "clients"), count: 2 });
  await docs.start();
  for (const w of writers) w.paused = true;
  const running = writers.map((w) => w.run());
  try {
    await roundsLoop();
    if (args.smoke) await selfTest();
  } finally {
    for (const w of writers) w.stopped = true;
    await Promise.all(running);
    await docs.close();
  }
  return { rows, storms };

  // The checker must be able to fail: a fabricated acknowledged entry and a blob whose recorded
  // hash is wrong are reported.
  async function selfTest() {
    const state = ledgerStates.get(la);
    const fake = new LedgerState(tenant, la);
    for (const [cid, e] of state.entries) fake.entries.set(cid, e);
    fake.entries.set("bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", { parents: [], acked: true });
    const [key, blob] = state.ackedBlobs()[0];
    fake.blobs.set(key, { ...blob, sha256: "0".repeat(64) });
    const e = await checkEntries({ checkBin: args.checkBin, metadataTarget: mesh.metadataTarget, states: [fake] });
    const b = await checkBlobs({ httpBase: mesh.httpBase(0), token: TOKEN, states: [fake] });
    const caught = !e.ok && e.problems.some((p) => p.includes("is missing")) && !b.ok && b.problems.some((p) => p.includes("wrong hash"));
    log(`checker self-test: ${caught ? "a fabricated entry and a wrong blob hash were reported" : "NOT CAUGHT"}`);
    rows.push({ replicas, round: rows.length + 1, fault: "checker self-test", ok: caught, problems: caught ? [] : ["the checker missed a fabricated loss"], ackedEntries: e.acked, recoveredEntries: e.recovered, ackedBlobs: b.acked, recoveredBlobs: b.recovered });
  }

  async function roundsLoop() {
    const plan = rounds(replicas, args.smoke, args.diskFull, args.storm).filter((r) => !args.only || new RegExp(args.only).test(`${r.fault} ${r.target ?? ""}`));
    const warmMs = args.smoke ? 2000 : 3000;
    let round = 0;
    for (const r of plan) {
      round++;
      const label = r.target ? `${r.fault} ${r.target}` : r.fault;
      log(`replicas ${replicas}, round ${round}/${plan.length}: ${label}`);
      const errorsBefore = writers.reduce((s, w) => s + w.errors, 0);
      const ackedBefore = allStates.reduce((s, st) => s + st.ackedCount(), 0);
      for (const w of writers) w.resume();
      docs.resume();
      await sleep(warmMs);
      const row = { replicas, round, fault: label };
      try {
        if (r.fault === "SIGKILL") {
          const pid = mesh.signal(r.target, "SIGKILL");
          row.recoverMs = await mesh.waitRestarted(r.target, pid);
        } else if (r.fault === "SIGSTOP") {
          const pid = mesh.signal(r.target, "SIGSTOP");
          await sleep(r.holdMs);
          process.kill(pid, "SIGCONT");
          row.recoverMs = await mesh.waitHealthy();
        } else if (r.fault === "disk-full") {
          const before = allStates.reduce((s, st) => s + st.ackedCount(), 0);
          const errorsBeforeFull = writers.reduce((s, w) => s + w.errors, 0);
          const disk = fillDisk(args.dataRoot);
          row.filledMB = Math.round(disk.filledBytes / 2 ** 20);
          // RocksDB preallocates its files, so small writes may still fit: write 256 KiB CARs and
          // hold until writes fail (at least holdMs, at most 45 s).
          for (const w of writers) w.blobBytes = 256 * 1024;
          const fullAt = Date.now();
          await sleep(r.holdMs);
          await until(() => writers.reduce((s, w) => s + w.errors, 0) > errorsBeforeFull, 45_000 - r.holdMs, "writes to fail").catch(() => {});
          row.fullForMs = Date.now() - fullAt;
          row.errorsWhileFull = writers.reduce((s, w) => s + w.errors, 0) - errorsBeforeFull;
          row.ackedWhileFull = allStates.reduce((s, st) => s + st.ackedCount(), 0) - before;
          for (const w of writers) w.blobBytes = null;
          disk.free();
          const freedAt = Date.now();
          // Recovered once a new entry is acknowledged again on every load ledger.
          const marks = writers.map((w) => w.state.ackedCount());
          await until(async () => (await mesh.isHealthy()) && writers.every((w, i) => w.state.ackedCount() > marks[i]), 120_000, "writes to succeed after the disk was freed");
          row.recoverMs = Date.now() - freedAt;
        } else if (r.fault === "storm") {
          const put = async (i) => {
            for (let k = 0; k < 20; k++) {
              try {
                await stormWriters[i].step();
                return stormWriters[i].head;
              } catch {
                stormWriters[i].conn = null;
                await sleep(250);
              }
            }
            throw new Error("storm ledger write failed 20 times");
          };
          for (let i = 0; i < stormLedgers.length; i++) await put(i);
          const s = await reconnectStorm({ mesh, n: r.n, token: TOKEN, ledgers: stormLedgers, put });
          storms.push({ replicas, ...s });
          row.recoverMs = s.resubscribedMs;
          row.storm = s;
        }
      } catch (e) {
        row.faultError = e.message.slice(0, 300);
      }
      await sleep(warmMs);
      await docs.pause();
      await Promise.all(writers.map((w) => w.pause()));
      await mesh.waitHealthy().catch((e) => (row.faultError ??= e.message));
      row.writerErrors = writers.reduce((s, w) => s + w.errors, 0) - errorsBefore;
      row.ackedThisRound = allStates.reduce((s, st) => s + st.ackedCount(), 0) - ackedBefore;
      const entries = await checkEntries({ checkBin: args.checkBin, metadataTarget: mesh.metadataTarget, states: allStates, extraLedgers: [{ tenant, ledger: docLedger }] });
      const blobs = await checkBlobs({ httpBase: mesh.httpBase(0), token: TOKEN, states: allStates });
      const conv = await docs.converge(round);
      Object.assign(row, {
        ackedEntries: entries.acked,
        recoveredEntries: entries.recovered,
        ackedBlobs: blobs.acked,
        recoveredBlobs: blobs.recovered,
        docs: conv.docs,
        clientsRestarted: conv.restarted,
        clientsReloaded: conv.reloaded,
        freshClient: conv.freshClient,
        ok: entries.ok && blobs.ok && conv.ok && !row.faultError,
        problems: [...entries.problems, ...blobs.problems, ...(conv.problem ? [conv.problem] : [])].slice(0, 20),
      });
      log(`  -> ${row.ok ? "OK" : "FAILED"}: entries ${row.recoveredEntries}/${row.ackedEntries}, blobs ${row.recoveredBlobs}/${row.ackedBlobs}, docs ${row.docs} converged=${conv.ok} (clients restarted ${conv.restarted}, reloaded for missed pushes ${conv.reloaded}), recovered in ${row.recoverMs} ms, writer errors ${row.writerErrors}${row.faultError ? `, fault error: ${row.faultError}` : ""}`);
      if (row.filledMB !== undefined) log(`     disk: filled ${row.filledMB} MiB; full for ${row.fullForMs} ms: ${row.errorsWhileFull} failed writes, ${row.ackedWhileFull} acknowledged`);
      for (const p of row.problems) log(`     ${p}`);
      rows.push(row);
    }
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const deadline = setTimeout(() => {
    log("overall time limit reached; giving up");
    process.exit(3);
  }, args.smoke ? 15 * 60_000 : 90 * 60_000);
  const topologies = args.replicas === "both" ? [1, 2] : [Number(args.replicas)];
  const results = { started: new Date().toISOString(), smoke: args.smoke, rounds: [], storms: [] };
  for (const replicas of topologies) {
    const { rows, storms } = await runTopology(args, replicas);
    results.rounds.push(...rows);
    results.storms.push(...storms);
    fs.rmSync(path.join(args.dataRoot, `replicas-${replicas}`), { recursive: true, force: true });
  }
  clearTimeout(deadline);
  if (args.out) fs.writeFileSync(args.out, JSON.stringify(results, null, 2));
  const failed = results.rounds.filter((r) => !r.ok);
  console.log("| replicas | round | fault | recovered in | acked entries (recovered) | acked blobs (recovered) | writer errors | client docs | clients restarted / reloaded | ok |");
  console.log("|---|---|---|---|---|---|---|---|---|---|");
  for (const r of results.rounds) {
    const d = (v) => v ?? "-";
    console.log(`| ${r.replicas} | ${r.round} | ${r.fault} | ${r.recoverMs === undefined ? "-" : `${r.recoverMs} ms`} | ${d(r.ackedEntries)} (${d(r.recoveredEntries)}) | ${d(r.ackedBlobs)} (${d(r.recoveredBlobs)}) | ${d(r.writerErrors)} | ${d(r.docs)} | ${d(r.clientsRestarted)} / ${d(r.clientsReloaded)} | ${r.ok ? "yes" : "NO"} |`);
  }
  for (const s of results.storms) {
    console.log(`storm, replicas ${s.replicas}: ${s.n} clients bound in ${s.firstBindMs} ms; after the edge SIGKILL all resubscribed in ${s.resubscribedMs} ms (${s.reconnectAttempts} reconnect attempts, at most ${s.maxAttempts} per client); a put afterwards reached ${s.pushDelivered}/${s.n} in ${s.pushMs} ms`);
  }
  for (const r of results.rounds.filter((x) => x.filledMB !== undefined)) {
    console.log(`disk full, replicas ${r.replicas}: filled ${r.filledMB} MiB; full for ${r.fullForMs} ms with ${r.errorsWhileFull} failed writes and ${r.ackedWhileFull} acknowledged; writes succeeded again ${r.recoverMs} ms after the space was freed`);
  }
  console.log(`${results.rounds.length - failed.length} passed, ${failed.length} failed`);
  process.exit(failed.length ? 1 : 0);
}

main().catch((e) => {
  log(`error: ${e.stack ?? e}`);
  process.exit(2);
});
