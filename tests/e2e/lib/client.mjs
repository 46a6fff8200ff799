// A Fireproof client in its own process: the real, unmodified @fireproof/core 0.24.19 attached to a
// sync server with toCloud. Spawned by lib/clients.mjs (see spawnClient there); not imported by tests.
//
// Configuration: one JSON argument, {label, dbName, localBase, fpUrl?, token?}. The keybag comes from
// the FP_KEYBAG_URL environment variable (the spawner gives every client its own), so the data keys
// can only reach another client through the server ("key gossip", protocol doc section 6).
//
// Protocol: one JSON command per line on stdin, {id, op, ...}; one JSON reply per line on stdout,
// {id, ok, ...}. Replies may come out of order (commands run concurrently). Unsolicited lines carry
// `event` instead of `id`. Every reply for a failed command has ok:false and `error`. Fireproof's own
// logging is sent to stderr so that stdout carries nothing but this protocol.
//
// Commands:
//   {op:"attach", timeoutMs}          db.attach(toCloud(...)) -> {ok}
//   {op:"put", doc}                   -> {ok, docId}
//   {op:"bulk", docs}                 -> {ok, ids}
//   {op:"get", docId}                 -> {ok, doc} | {ok:false, notFound:true}
//   {op:"waitFor", ids, timeoutMs, where?}
//                                     resolves once every id is readable (and, for ids in `where`,
//                                     has the given field values) -> {ok, docs} |
//                                     {ok:false, error:"timeout", missing}
//   {op:"count"}                      -> {ok, count} (allDocs rows)
//   {op:"ids"}                        -> {ok, ids} (allDocs keys)
//   {op:"flush", timeoutMs}           waits until the commit queue is idle, i.e. every local commit has
//                                     been handed to the remote (uploaded or failed) -> {ok}
//   {op:"compact"}                    db.compact() -> {ok, carLog} (CAR groups in the loader's log after)
//   {op:"stats"}                      -> {ok, carLog, cpuMs}: the loader's CAR log length (read-only
//                                     internal) and this process's user+system CPU so far
//   {op:"errors"}                     -> {ok, errors}: unhandled rejections seen so far. The client
//                                     uploads in the background and does not catch upload failures;
//                                     they surface here instead of killing the process.
//   {op:"close"}                      db.close(), then the process exits -> {ok, closeError?}
import { fireproof } from "@fireproof/core";
import { toCloud, SimpleTokenStrategy } from "@fireproof/core-gateways-cloud";
import readline from "node:readline";

const out = process.stdout;
// Fireproof logs through console.*; keep stdout for the protocol.
console.log = console.error;
console.info = console.error;
console.debug = console.error;
console.warn = console.error;

function emit(obj) {
  out.write(JSON.stringify(obj) + "\n");
}

const cfg = JSON.parse(process.argv[2] ?? "{}");
const errors = [];
// Error texts from Fireproof embed store URLs and messages that carry the token.
function redact(text) {
  return String(text)
    .replace(/authJWK=[^&"\s]*/g, "authJWK=<redacted>")
    .replace(/("jwk"\s*:\s*")[^"]*"/g, '$1<redacted>"')
    .replace(/\\"jwk\\":\\"[^\\]*\\"/g, '\\"jwk\\":\\"<redacted>\\"');
}

function recordError(kind, err) {
  const message = redact(err instanceof Error ? err.message : JSON.stringify(err)).slice(0, 2000);
  errors.push({ kind, message });
  console.error(`[client ${cfg.label}] ${kind}: ${message}`);
  emit({ event: "error", kind, message });
}
process.on("unhandledRejection", (err) => recordError("unhandledRejection", err));
process.on("uncaughtException", (err) => recordError("uncaughtException", err));

const db = fireproof(cfg.dbName, { storeUrls: { base: cfg.localBase } });

// Wakes waitFor loops whenever the database changes (local writes and merged remote heads).
let changeWaiters = [];
db.subscribe(() => {
  const w = changeWaiters;
  changeWaiters = [];
  for (const fn of w) fn();
}, true);

function nextChangeOr(ms) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    changeWaiters.push(() => {
      clearTimeout(t);
      resolve();
    });
  });
}

function withTimeout(ms, promise, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: timeout after ${ms} ms`)), ms);
    }),
  ]);
}

async function readableIds() {
  const { rows } = await db.allDocs();
  return new Map(rows.map((r) => [r.key, r.value]));
}

// True when every field of `want` equals (JSON-wise) the same field of `doc`.
function matches(doc, want) {
  return Object.entries(want).every(([k, v]) => JSON.stringify(doc[k]) === JSON.stringify(v));
}

// allDocs can fail while remote heads are being merged (seen: "missing block" on a client loading a
// ledger of 200 heads); such errors count as "not there yet" and the last one is reported on timeout.
async function waitFor(ids, timeoutMs, where = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  for (;;) {
    let have = new Map();
    try {
      have = await readableIds();
    } catch (e) {
      lastError = e instanceof Error ? e.message : String(e);
    }
    const missing = ids.filter((id) => !have.has(id) || (where[id] && !matches(have.get(id), where[id])));
    if (missing.length === 0) return { ok: true, docs: ids.map((id) => have.get(id)) };
    const left = deadline - Date.now();
    if (left <= 0) {
      return { ok: false, error: "timeout", missing: missing.slice(0, 50), missingCount: missing.length, have: have.size, lastError };
    }
    // subscribe is the fast path; the bounded poll covers changes it does not report.
    await nextChangeOr(Math.min(left, 250));
  }
}

const ops = {
  async attach({ timeoutMs = 30000 }) {
    const attachable = toCloud({
      urls: { base: cfg.fpUrl },
      strategy: new SimpleTokenStrategy(cfg.token ?? ""),
    });
    await withTimeout(timeoutMs, db.attach(attachable), "attach");
    return { ok: true };
  },
  async put({ doc }) {
    const r = await db.put(doc);
    return { ok: true, docId: r.id };
  },
  async bulk({ docs }) {
    const r = await db.bulk(docs);
    return { ok: true, ids: r.ids };
  },
  async get({ docId }) {
    try {
      return { ok: true, doc: await db.get(docId) };
    } catch (e) {
      return { ok: false, notFound: /^Not found/.test(e.message), error: e.message };
    }
  },
  async waitFor({ ids, timeoutMs = 30000, where }) {
    return waitFor(ids, timeoutMs, where);
  },
  async count() {
    const { rows } = await db.allDocs();
    return { ok: true, count: rows.length };
  },
  async ids() {
    const { rows } = await db.allDocs();
    return { ok: true, ids: rows.map((r) => r.key) };
  },
  async flush({ timeoutMs = 60000 }) {
    // Internal but read-only: the loader's commit queue carries the remote uploads (loader.js
    // CommitAction.writeCar/writeMeta enqueue them there).
    const loader = db.ledger.crdt.blockstore.loader;
    await withTimeout(timeoutMs, loader.commitQueue.waitIdle(), "flush");
    return { ok: true };
  },
  async compact() {
    await db.compact();
    return { ok: true, carLog: db.ledger.crdt.blockstore.loader.carLog.length };
  },
  async stats() {
    const u = process.cpuUsage();
    return { ok: true, carLog: db.ledger.crdt.blockstore.loader.carLog.length, cpuMs: (u.user + u.system) / 1000 };
  },
  async errors() {
    return { ok: true, errors };
  },
  async close() {
    let closeError;
    try {
      await withTimeout(15000, db.close(), "close");
    } catch (e) {
      // 0.24.19 in HTTP-only mode throws "Controller is already closed" here (protocol doc section 9).
      closeError = e.message;
    }
    return { ok: true, closeError, exit: true };
  },
};

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  if (!line.trim()) return;
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (e) {
    emit({ event: "badCommand", line, error: e.message });
    return;
  }
  let reply;
  try {
    const fn = ops[cmd.op];
    if (!fn) throw new Error(`unknown op ${cmd.op}`);
    reply = await fn(cmd);
  } catch (e) {
    reply = { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
  emit({ ...reply, id: cmd.id });
  if (reply.exit) process.exit(0);
});
rl.on("close", () => process.exit(0));

emit({ event: "started", label: cfg.label });
