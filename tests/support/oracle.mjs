// The differential oracle: a minimal in-memory Fireproof cloud protocol server (no validation, no
// durability, no auth beyond a non-empty token), written from docs/protocol-rules.md and the protocol
// doc, never from Kiln's code. The e2e scenarios run against it and against Kiln; whatever passes
// here must pass on Kiln too, and tests/e2e/oracle.test.mjs compares the heads both serve.
//
//   node tests/support/oracle.mjs [--port=0] [--ready_file=F] [--ack_delay_ms=0]   standalone
//   import { startOracle } from "../support/oracle.mjs"          in-process: {port, fpUrl(), stop()}
//
// What it serves (the rules of docs/protocol-rules.md):
//   - heads = every accepted entry that no accepted entry names as a parent (rule 1);
//   - bindGetMeta: eventGetMeta with the last 64 writers' latest entries that others committed
//     around, the heads, the other writers' latest entries, each group in acceptance order, then
//     the rest of the RECENT newest accepted entries newest first, and every key (rule 2);
//   - reqPutMeta: resPutMeta whose meta is the current heads; then eventGetMeta with the newly
//     accepted entries to every bound connection, the writer's own included (rule 3);
//   - blobs at /blob/<tenant>/<ledger>/<store>/<key> (PUT, GET, HEAD, DELETE), unsigned.
// ackDelayMs (default 0; --ack_delay_ms) makes it handle each WebSocket reqPutMeta that many ms
// after it arrives (accept, push, answer), like a server whose durable commit takes that long: the
// real client's CPU under concurrent writers depends on it (docs/benchmarks.md).
// GET /debug/ledger?tenant=&ledger= returns {heads, entries, keys} for tests.
import http from "node:http";
import fs from "node:fs";
import { createRequire } from "node:module";

// `ws` comes with the Fireproof client, installed in tests/e2e.
const require = createRequire(new URL("../e2e/package.json", import.meta.url));
const { WebSocketServer } = require("ws");

// Rule 2's window: two of the client's compaction windows (it compacts at 100 CARs).
export const RECENT = 200;
const WRITERS = 64;

class Ledger {
  constructor() {
    this.entries = new Map(); // cid -> entry, in acceptance order
    this.referenced = new Set(); // cids some accepted entry names as a parent
    this.heads = new Set();
    this.keys = new Set();
    this.seq = new Map(); // cid -> acceptance order
    this.latestByWriter = new Map(); // writer -> its latest entry's cid, least recent first
    this.firstByWriter = new Map(); // writer -> acceptance order of its first entry
  }
  // Returns the entries that are new.
  put(metas, keys, writer) {
    for (const k of keys) this.keys.add(k);
    const added = [];
    for (const m of metas) {
      if (this.entries.has(m.cid)) continue;
      added.push(m);
      this.seq.set(m.cid, this.seq.size);
      if (!this.latestByWriter.has(writer)) this.firstByWriter.set(writer, this.seq.get(m.cid));
      this.latestByWriter.delete(writer);
      this.latestByWriter.set(writer, m.cid);
      if (this.latestByWriter.size > WRITERS) {
        const evicted = this.latestByWriter.keys().next().value;
        this.latestByWriter.delete(evicted);
        this.firstByWriter.delete(evicted);
      }
      this.entries.set(m.cid, m);
      for (const p of m.parents ?? []) {
        this.referenced.add(p);
        this.heads.delete(p);
      }
      if (!this.referenced.has(m.cid)) this.heads.add(m.cid);
    }
    return added;
  }
  headEntries() {
    return [...this.heads].map((c) => this.entries.get(c));
  }
  // Rule 2: the writers' latest entries that are neither heads nor followed by their own writer's
  // later entries but that others wrote around ("concurrent"), then the heads, then the other
  // writers' latest entries that are not heads, each group in acceptance order, then the rest of
  // the newest RECENT entries, newest first.
  readerEntries() {
    const bySeq = (a, b) => this.seq.get(a) - this.seq.get(b);
    const heads = [...this.heads].sort(bySeq);
    const latest = [...this.latestByWriter.entries()].filter(([, c]) => !this.heads.has(c));
    const concurrent = ([w, c]) => {
      const s = this.seq.get(c);
      for (const [v, cv] of this.latestByWriter) {
        if (v !== w && this.firstByWriter.get(v) < s && this.seq.get(cv) > s) return true;
      }
      return false;
    };
    const early = latest.filter(concurrent).map(([, c]) => c).sort(bySeq);
    const late = latest.filter((x) => !concurrent(x)).map(([, c]) => c).sort(bySeq);
    const first = [...new Set([...early, ...heads, ...late])];
    const seen = new Set(first);
    const rest = [...this.entries.values()].slice(-RECENT).reverse().filter((e) => !seen.has(e.cid));
    return [...first.map((c) => this.entries.get(c)), ...rest];
  }
}

export function createOracle({ ackDelayMs = 0 } = {}) {
  const ledgers = new Map(); // "tenant\0ledger" -> Ledger
  const blobs = new Map(); // path -> Buffer
  const conns = new Map(); // resId -> {socket, binds: Map<ledgerKey, bindMsg>}
  let nextId = 1;
  let port = 0;

  const ledgerOf = (t, l) => {
    const k = `${t}\0${l}`;
    if (!ledgers.has(k)) ledgers.set(k, new Ledger());
    return [k, ledgers.get(k)];
  };
  const tl = (msg) => [msg.tenant?.tenant ?? msg.urlParam?.tenant, msg.tenant?.ledger ?? msg.urlParam?.ledger];
  const metaOf = (entries, keys) => ({ metas: entries, keys: [...keys] });

  function handle(msg, socket) {
    const err = (message) => ({ type: "error", tid: msg.tid, version: "FP-MSG-1.0", src: msg, message });
    if (!msg.auth?.params?.jwk) return err("auth is required");
    switch (msg.type) {
      case "reqGestalt":
        return {
          tid: msg.tid,
          type: "resGestalt",
          version: "FP-MSG-1.0",
          auth: msg.auth,
          gestalt: {
            id: "FP-Oracle",
            storeTypes: ["meta", "file", "car", "wal"],
            protocolCapabilities: ["reqRes", "stream"],
            httpEndpoints: ["/fp"],
            wsEndpoints: ["/ws"],
            encodings: ["JSON"],
            auth: [],
            requiresAuth: true,
          },
        };
      case "reqOpen": {
        const resId = msg.conn?.resId ?? `oracle-${nextId++}`;
        const old = conns.get(resId);
        conns.set(resId, { socket, binds: old?.binds ?? new Map() });
        return { ...msg, type: "resOpen", conn: { reqId: msg.conn?.reqId, resId } };
      }
      case "reqClose":
        conns.delete(msg.conn?.resId);
        return { ...msg, type: "resClose" };
      case "bindGetMeta": {
        const [t, l] = tl(msg);
        const [k, ledger] = ledgerOf(t, l);
        const c = conns.get(msg.conn?.resId);
        if (c && socket) c.binds.set(k, msg);
        return { ...msg, type: "eventGetMeta", signedUrl: "", meta: metaOf(ledger.readerEntries(), ledger.keys) };
      }
      case "reqPutMeta": {
        const [t, l] = tl(msg);
        const [k, ledger] = ledgerOf(t, l);
        const newKeys = (msg.meta?.keys ?? []).filter((key) => !ledger.keys.has(key));
        const added = ledger.put(msg.meta?.metas ?? [], msg.meta?.keys ?? [], msg.conn?.resId ?? "http");
        const push = metaOf(added, newKeys);
        // After the reply (setImmediate), to every bound connection, the writer included.
        for (const c of conns.values()) {
          const bind = c.binds.get(k);
          if (!bind || !c.socket || (added.length === 0 && newKeys.length === 0)) continue;
          setImmediate(() => {
            if (c.socket.readyState === 1) {
              c.socket.send(JSON.stringify({ ...bind, type: "eventGetMeta", signedUrl: "", meta: push }));
            }
          });
        }
        return { ...msg, type: "resPutMeta", signedUrl: "", meta: metaOf(ledger.headEntries(), []) };
      }
      case "reqDelMeta":
        return { ...msg, type: "resDelMeta" };
      case "reqPutData":
      case "reqGetData":
      case "reqDelData": {
        const [t, l] = tl(msg);
        const store = msg.methodParam?.store ?? "car";
        const url = `http://127.0.0.1:${port}/blob/${t}/${l}/${store}/${msg.urlParam?.key}`;
        return { ...msg, type: `res${msg.type.slice(3)}`, signedUrl: url };
      }
      default:
        return err("unexpected message");
    }
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url, "http://x");
      if (url.pathname === "/fp" && req.method === "PUT") {
        let reply;
        try {
          reply = handle(JSON.parse(body.toString("utf8")), null);
        } catch (e) {
          res.writeHead(400).end(JSON.stringify({ type: "error", message: e.message }));
          return;
        }
        res.writeHead(reply.type === "error" ? 500 : 200, { "Content-Type": "application/json" });
        res.end(JSON.stringify(reply));
      } else if (url.pathname.startsWith("/blob/")) {
        const key = url.pathname;
        if (req.method === "PUT") blobs.set(key, body);
        if (req.method === "DELETE") blobs.delete(key);
        if ((req.method === "GET" || req.method === "HEAD") && !blobs.has(key)) return res.writeHead(404).end();
        res.writeHead(200).end(req.method === "GET" ? blobs.get(key) : undefined);
      } else if (url.pathname === "/debug/ledger") {
        const [, ledger] = ledgerOf(url.searchParams.get("tenant"), url.searchParams.get("ledger"));
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ heads: [...ledger.heads].sort(), entries: ledger.entries.size, keys: [...ledger.keys] }));
      } else {
        res.writeHead(404).end();
      }
    });
  });
  const wss = new WebSocketServer({ server, path: "/ws" });
  wss.on("connection", (socket) => {
    socket.on("message", (data) => {
      let msg;
      try {
        msg = JSON.parse(data.toString("utf8"));
      } catch {
        return;
      }
      const answer = () => socket.send(JSON.stringify(handle(msg, socket)));
      if (ackDelayMs > 0 && msg.type === "reqPutMeta") setTimeout(answer, ackDelayMs);
      else answer();
    });
    socket.on("close", () => {
      for (const [resId, c] of conns) if (c.socket === socket) conns.delete(resId);
    });
  });

  return {
    listen(p = 0) {
      return new Promise((resolve) =>
        server.listen(p, "127.0.0.1", () => {
          port = server.address().port;
          resolve(port);
        }),
      );
    },
    get port() {
      return port;
    },
    get httpBase() {
      return `http://127.0.0.1:${port}`;
    },
    fpUrl(protocol = "ws") {
      return `fpcloud://127.0.0.1:${port}?protocol=${protocol}`;
    },
    ledger(tenant, ledger) {
      return ledgerOf(tenant, ledger)[1];
    },
    stop() {
      for (const s of wss.clients) s.terminate();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

export async function startOracle(opts) {
  const o = createOracle(opts);
  await o.listen(0);
  return o;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name, dflt) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt;
  const o = createOracle({ ackDelayMs: Number(arg("ack_delay_ms", "0")) });
  const p = await o.listen(Number(arg("port", "0")));
  const ready = arg("ready_file");
  if (ready) fs.writeFileSync(ready, `http_port=${p}\nready\n`);
  console.error(`oracle listening on 127.0.0.1:${p}`);
  process.on("SIGTERM", () => o.stop().then(() => process.exit(0)));
}
