// Protocol writers under load and the expected state they build.
//
// A Writer loops over: upload a CAR through a signed URL (reqPutData, then PUT of the bytes), then
// reqPutMeta of a real meta entry naming that CAR whose parent is the writer's last acknowledged
// entry. Every entry sent is recorded with its parents; it counts as acknowledged only when the
// edge answered resPutMeta, a blob only when its PUT answered 2xx. A failed or cut-off put is
// retried with the same entry (the server ignores an entry it already accepted), so an entry whose
// answer was lost is either in the log or not, never twice. Loops are bounded by `maxOps`.
import crypto from "node:crypto";
import { carCid, metaEntry } from "../../tests/e2e/lib/entries.mjs";
import { fpRequest, openHttpSession, putMetaMsg, signedUrlFor } from "../../tests/e2e/lib/protocol.mjs";
import { sleep } from "./util.mjs";

const REQUEST_TIMEOUT_MS = 15_000;

// What was sent to and acknowledged by one ledger.
export class LedgerState {
  constructor(tenant, ledger) {
    this.tenant = tenant;
    this.ledger = ledger;
    this.entries = new Map(); // cid -> {parents, acked}
    this.blobs = new Map(); // key -> {sha256, acked}
  }
  sent(entry) {
    if (!this.entries.has(entry.cid)) this.entries.set(entry.cid, { parents: entry.parents, acked: false });
  }
  acked(cid) {
    this.entries.get(cid).acked = true;
  }
  ackedCount() {
    let n = 0;
    for (const e of this.entries.values()) if (e.acked) n++;
    return n;
  }
  ackedBlobs() {
    return [...this.blobs].filter(([, b]) => b.acked);
  }
}

async function putBlob(signedUrl, bytes) {
  const r = await fetch(signedUrl, { method: "PUT", body: bytes, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  await r.arrayBuffer();
  return r.ok;
}

export class Writer {
  constructor({ label, httpBase, token, state, maxOps }) {
    Object.assign(this, { label, httpBase, token, state, maxOps });
    this.ops = 0;
    this.errors = 0;
    this.head = null; // last acknowledged entry
    this.car = null; // uploaded CAR waiting for its entry
    this.entry = null; // entry being put
    this.paused = false;
    this.stopped = false;
    this.lastError = "";
    this.blobBytes = null; // CAR size; null: 512 B to 4 KiB at random
  }

  ctx() {
    return { token: this.token, conn: this.conn, tenant: this.state.tenant, ledger: this.state.ledger };
  }

  async step() {
    if (!this.conn) this.conn = await openHttpSession(this.httpBase, this.token);
    if (!this.car) {
      const bytes = crypto.randomBytes(this.blobBytes ?? 512 + crypto.randomInt(3584));
      const key = await carCid(bytes);
      const sha256 = crypto.createHash("sha256").update(bytes).digest("hex");
      this.state.blobs.set(key, { sha256, acked: false });
      const { signedUrl } = await signedUrlFor(this.httpBase, "reqPutData", { ...this.ctx(), method: "PUT", store: "car", key });
      if (!(await putBlob(signedUrl, bytes))) throw new Error("blob PUT refused");
      this.state.blobs.get(key).acked = true;
      this.car = key;
    }
    this.entry ??= await metaEntry(this.car, this.head ? [this.head] : []);
    this.state.sent(this.entry);
    const msg = putMetaMsg(this.ctx(), [this.entry]);
    const r = await fpRequest(this.httpBase, msg, { timeoutMs: REQUEST_TIMEOUT_MS });
    if (r.status !== 200 || r.body?.type !== "resPutMeta") throw new Error(`reqPutMeta: ${r.status} ${r.text.slice(0, 200)}`);
    this.state.acked(this.entry.cid);
    this.head = this.entry.cid;
    this.entry = null;
    this.car = null;
  }

  // Runs until stop() or maxOps steps; a failed step is counted and retried after 200 ms.
  async run() {
    while (!this.stopped && this.ops < this.maxOps) {
      if (this.paused) {
        await sleep(50);
        continue;
      }
      this.ops++;
      this.busy = true;
      try {
        await this.step();
      } catch (e) {
        this.errors++;
        this.lastError = String(e.message ?? e).slice(0, 200);
        this.conn = null; // a new session after a failure (the edge may have restarted)
        await sleep(200);
      } finally {
        this.busy = false;
      }
    }
  }

  async pause() {
    this.paused = true;
    while (this.busy) await sleep(20);
  }
  resume() {
    this.paused = false;
  }
}
