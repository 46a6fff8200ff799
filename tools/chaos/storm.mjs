// The reconnect storm: `n` protocol-level WebSocket clients each open a connection to edge 0 and
// bind a ledger (reqOpen, bindGetMeta), the edge is SIGKILLed and restarted by tools/dev, and every
// client reconnects (backoff 250 ms doubling to 2 s, with jitter, at most 120 attempts) and binds
// again, carrying its old resId as the real client does. Measured: the time from the kill until
// every client has been served its ledger again ("fully resubscribed"), and whether a put made
// afterwards is pushed to all of them.
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { bindGetMetaMsg, newTid, openMsg } from "../../tests/e2e/lib/protocol.mjs";
import { sleep, until } from "./util.mjs";

// `ws` comes with the Fireproof client, installed under tests/e2e.
const here = path.dirname(fileURLToPath(import.meta.url));
const WebSocket = createRequire(path.join(here, "../../tests/e2e/lib/wsconn.mjs"))("ws");

class StormClient {
  constructor({ url, token, tenant, ledger }) {
    Object.assign(this, { url, token, tenant, ledger });
    this.reqId = newTid();
    this.resId = null;
    this.bound = 0; // connection generation last served its ledger
    this.generation = 0;
    this.attempts = 0;
    this.seen = new Set(); // entry CIDs pushed to this client
    this.closed = false;
  }

  connect() {
    if (this.closed || this.attempts >= 120) return;
    this.attempts++;
    const generation = ++this.generation;
    const ws = (this.ws = new WebSocket(this.url));
    ws.on("open", () => {
      ws.send(JSON.stringify(openMsg(this.token, this.resId ? { reqId: this.reqId, resId: this.resId } : { reqId: this.reqId })));
    });
    ws.on("message", (data) => {
      let m;
      try {
        m = JSON.parse(data.toString("utf8"));
      } catch {
        return;
      }
      if (m.type === "resOpen") {
        this.resId = m.conn?.resId ?? this.resId;
        ws.send(JSON.stringify(bindGetMetaMsg({ token: this.token, conn: m.conn, tenant: this.tenant, ledger: this.ledger })));
      } else if (m.type === "eventGetMeta") {
        this.bound = generation;
        for (const e of m.meta?.metas ?? []) this.seen.add(e.cid);
      }
    });
    ws.on("error", () => {});
    ws.on("close", () => {
      if (this.closed || generation !== this.generation) return;
      const delay = Math.min(2000, 250 * 2 ** Math.min(this.retries ?? 0, 3)) * (0.5 + Math.random());
      this.retries = (this.retries ?? 0) + 1;
      setTimeout(() => this.connect(), delay);
    });
  }

  get servedNow() {
    return this.bound === this.generation && this.ws?.readyState === WebSocket.OPEN;
  }

  close() {
    this.closed = true;
    this.ws?.terminate();
  }
}

// ledgers: [{tenant, ledger}] to spread the clients over; put(ledgerIndex) makes one acknowledged
// entry on a ledger and returns its CID.
export async function reconnectStorm({ mesh, n, token, ledgers, put, timeoutMs = 180_000 }) {
  const url = mesh.httpBase(0).replace(/^http/, "ws") + "/ws";
  const clients = Array.from({ length: n }, (_, i) => new StormClient({ url, token, ...ledgers[i % ledgers.length] }));
  try {
    const t0 = Date.now();
    for (let i = 0; i < n; i += 50) {
      clients.slice(i, i + 50).forEach((c) => c.connect());
      await sleep(20);
    }
    await until(() => clients.every((c) => c.servedNow), timeoutMs, `${n} WebSocket clients to bind`);
    const firstBindMs = Date.now() - t0;
    for (const c of clients) c.retries = 0;

    const oldPid = mesh.signal(mesh.names.find((x) => x.startsWith("edge")), "SIGKILL");
    const killedAt = Date.now();
    await until(() => clients.every((c) => c.generation > 1 || c.attempts > 1), timeoutMs, "the clients to notice the kill");
    await until(() => clients.every((c) => c.servedNow), timeoutMs, `${n} clients to resubscribe`);
    const resubscribedMs = Date.now() - killedAt;
    const restartMs = await mesh.waitRestarted(mesh.names.find((x) => x.startsWith("edge")), oldPid, 5000).catch(() => -1);
    const attempts = clients.reduce((s, c) => s + c.attempts, 0) - n;
    const maxAttempts = Math.max(...clients.map((c) => c.attempts - 1));

    // A write on each ledger after the storm reaches every client bound to it.
    const cids = [];
    for (let i = 0; i < ledgers.length; i++) cids.push(await put(i));
    const t1 = Date.now();
    const got = () => clients.filter((c, i) => c.seen.has(cids[i % ledgers.length])).length;
    await until(() => got() === n, 60_000, "the pushes after the storm").catch(() => {});
    return { n, firstBindMs, resubscribedMs, restartMs, reconnectAttempts: attempts, maxAttempts, pushDelivered: got(), pushMs: Date.now() - t1 };
  } finally {
    for (const c of clients) c.close();
  }
}
