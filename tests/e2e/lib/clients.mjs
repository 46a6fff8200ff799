// Spawns Fireproof clients (lib/client.mjs), one process each, and talks to them with timeouts.
//
//   const a = await spawnClient({ fpUrl: kiln.fpUrl("ws"), token });
//   await a.attach();
//   await a.put({ _id: "x", v: 1 });
//   await a.waitFor(["y"]);
//   await a.close();
//
// Every client gets its own keybag (FP_KEYBAG_URL) and its own local store, both in memory by
// default; pass `persistDir` to keep both on disk so a later client can reopen them (same local
// ledger, same keys). All clients still running are killed when the test process exits.
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import readline from "node:readline";

const CLIENT_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), "client.mjs");
const live = new Set();

process.on("exit", () => {
  for (const c of live) c.child.kill("SIGKILL");
});

// Default time for one command (beyond any timeout the command itself carries). Generous: on a busy
// 2-core machine a client process needs seconds just to start.
const DEFAULT_OP_TIMEOUT_MS = 60_000;
const STDERR_TAIL_BYTES = 16 * 1024;

class ClientProcess {
  constructor({ label, child }) {
    this.label = label;
    this.child = child;
    this.nextId = 1;
    this.pending = new Map();
    this.events = [];
    this.stderr = "";
    this.exited = null;
    this.startedPromise = new Promise((resolve, reject) => {
      this.onStarted = resolve;
      this.onStartFailed = reject;
    });
    readline.createInterface({ input: child.stdout }).on("line", (line) => this.#onLine(line));
    child.stderr.on("data", (d) => {
      this.stderr = (this.stderr + d.toString()).slice(-STDERR_TAIL_BYTES);
    });
    child.on("exit", (code, signal) => {
      live.delete(this);
      this.exited = { code, signal };
      const err = new Error(`client ${label} exited (code ${code}, signal ${signal})${this.#tail()}`);
      this.onStartFailed(err);
      for (const { reject, timer } of this.pending.values()) {
        clearTimeout(timer);
        reject(err);
      }
      this.pending.clear();
    });
  }

  #tail() {
    const t = this.stderr.trim().replace(/authJWK=[^&"\s]*/g, "authJWK=<redacted>");
    return t ? `\n--- stderr of client ${this.label} (tail) ---\n${t.slice(-4000)}` : "";
  }

  #onLine(line) {
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      this.stderr = (this.stderr + `[stdout] ${line}\n`).slice(-STDERR_TAIL_BYTES);
      return;
    }
    if (msg.event) {
      this.events.push(msg);
      if (msg.event === "started") this.onStarted();
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    p.resolve(msg);
  }

  // Sends one command and returns the reply object (ok may be false). Rejects when the client does not
  // answer within timeoutMs or exits.
  request(cmd, timeoutMs = DEFAULT_OP_TIMEOUT_MS) {
    if (this.exited) {
      return Promise.reject(new Error(`client ${this.label} already exited${this.#tail()}`));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`client ${this.label}: no answer to ${cmd.op} within ${timeoutMs} ms${this.#tail()}`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.child.stdin.write(JSON.stringify({ ...cmd, id }) + "\n");
    });
  }

  // Like request, but throws unless the reply has ok:true.
  async call(cmd, timeoutMs) {
    const r = await this.request(cmd, timeoutMs);
    if (!r.ok) {
      throw new Error(`client ${this.label}: ${cmd.op} failed: ${JSON.stringify(r).slice(0, 2000)}${this.#tail()}`);
    }
    return r;
  }

  attach({ timeoutMs = 30_000 } = {}) {
    return this.call({ op: "attach", timeoutMs }, timeoutMs + 10_000);
  }
  // The raw reply, for tests that expect the attach to fail.
  tryAttach({ timeoutMs = 15_000 } = {}) {
    return this.request({ op: "attach", timeoutMs }, timeoutMs + 10_000);
  }
  async put(doc) {
    return (await this.call({ op: "put", doc })).docId;
  }
  async bulk(docs) {
    return (await this.call({ op: "bulk", docs })).ids;
  }
  // The raw reply: {ok:true, doc} or {ok:false, notFound:true}.
  get(docId) {
    return this.request({ op: "get", docId });
  }
  // Resolves with the documents once all ids are readable here; throws after timeoutMs. `where` maps
  // an id to field values it must have (to wait for an update rather than for any version).
  async waitFor(ids, { timeoutMs = 60_000, where } = {}) {
    return (await this.call({ op: "waitFor", ids, timeoutMs, where }, timeoutMs + 30_000)).docs;
  }
  // The raw reply (ok:false, error:"timeout", missing) for tests that expect documents NOT to arrive.
  tryWaitFor(ids, { timeoutMs }) {
    return this.request({ op: "waitFor", ids, timeoutMs }, timeoutMs + 30_000);
  }
  async count() {
    return (await this.call({ op: "count" })).count;
  }
  async ids() {
    return (await this.call({ op: "ids" })).ids;
  }
  // Waits until every local commit has been handed to the server (uploaded, or failed: see errors()).
  async flush({ timeoutMs = 60_000 } = {}) {
    await this.call({ op: "flush", timeoutMs }, timeoutMs + 10_000);
  }
  async errors() {
    return (await this.call({ op: "errors" })).errors;
  }
  // Runs db.compact(); returns the loader's CAR log length after it.
  async compact() {
    return (await this.call({ op: "compact" })).carLog;
  }
  // {carLog, cpuMs}: the loader's CAR log length and the process's CPU time so far.
  async stats() {
    const { carLog, cpuMs } = await this.call({ op: "stats" });
    return { carLog, cpuMs };
  }
  // Closes the database and waits for the process to exit. Returns the close reply.
  async close({ timeoutMs = 30_000 } = {}) {
    if (this.exited) return { ok: true };
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    const r = await this.request({ op: "close" }, timeoutMs);
    await exited;
    return r;
  }
  // Kills the process (no close) and waits for it to exit.
  async kill(signal = "SIGKILL") {
    if (this.exited) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.kill(signal);
    await exited;
  }
}

// Starts a client process and waits until it has opened its local database (not yet attached: call
// attach()).
//   fpUrl      the fpcloud:// URL of the server (kiln.fpUrl("ws"))
//   token      what SimpleTokenStrategy gets: a JWT, or any non-empty string for --auth=none
//   label      a name for messages
//   dbName     the local ledger name (does not reach the server)
//   persistDir keep the local store and keybag in this directory instead of memory
//   nodeArgs   options for the client's node (e.g. --cpu-prof, which NODE_OPTIONS refuses)
export async function spawnClient({
  fpUrl,
  token,
  label = "client",
  dbName = "e2e",
  persistDir,
  env = {},
  nodeArgs = [],
  startTimeoutMs = 60_000,
} = {}) {
  const rnd = crypto.randomBytes(6).toString("hex");
  let localBase = `memory://client-${rnd}`;
  let keybagUrl = `memory://kb-${rnd}`;
  if (persistDir) {
    fs.mkdirSync(persistDir, { recursive: true });
    localBase = `file://${path.join(persistDir, "store")}`;
    keybagUrl = `file://${path.join(persistDir, "keybag")}`;
  }
  const cfg = { label, dbName, localBase, fpUrl, token };
  const child = spawn(process.execPath, [...nodeArgs, CLIENT_SCRIPT, JSON.stringify(cfg)], {
    env: { ...process.env, FP_KEYBAG_URL: keybagUrl, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const c = new ClientProcess({ label, child });
  live.add(c);
  let timer;
  try {
    await Promise.race([
      c.startedPromise,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`client ${label} did not start in ${startTimeoutMs} ms`)), startTimeoutMs);
      }),
    ]);
  } catch (e) {
    child.kill("SIGKILL");
    throw e;
  } finally {
    clearTimeout(timer);
  }
  return c;
}

// Spawns and attaches a client in one step.
export async function attachedClient(opts) {
  const c = await spawnClient(opts);
  try {
    await c.attach();
  } catch (e) {
    await c.kill();
    throw e;
  }
  return c;
}

// Closes (or kills, if close fails) every client given; for `after` hooks.
export async function closeAll(clients) {
  await Promise.all(
    clients.filter(Boolean).map(async (c) => {
      try {
        await c.close({ timeoutMs: 20_000 });
      } catch {
        await c.kill();
      }
    }),
  );
}
