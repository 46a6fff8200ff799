// Real Fireproof clients (tests/e2e/lib/client.mjs, one process each, local store on disk) that
// write documents to one ledger during the chaos, and the convergence check after each round.
//
// The 0.24.19 client gives up on a connection after three failed attempts and never uploads the
// commits made meanwhile (tests/e2e/README.md); what brings them to the server is the client
// starting again on its persisted store. So after a round, a client that recorded upload errors is
// restarted on its store, as a user reloading the page would, before convergence is checked.
import fs from "node:fs";
import path from "node:path";
import { spawnClient } from "../../tests/e2e/lib/clients.mjs";
import { sleep } from "./util.mjs";

export class DocWriters {
  constructor({ fpUrl, token, dir, count }) {
    Object.assign(this, { fpUrl, token, dir, count });
    this.clients = [];
    this.written = new Set(); // every document id put by any client
    this.restarts = 0;
    this.running = false;
  }

  // Starts client i on its store and attaches it (a restarted client re-uploads every local CAR
  // first, which takes a while on a loaded machine: 90 s allowed).
  async open(i) {
    const c = await spawnClient({ fpUrl: this.fpUrl, token: this.token, label: `doc${i}`, persistDir: path.join(this.dir, `doc${i}`) });
    try {
      await c.attach({ timeoutMs: 90_000 });
    } catch (e) {
      await c.kill();
      throw e;
    }
    return c;
  }

  async start() {
    fs.mkdirSync(this.dir, { recursive: true });
    for (let i = 0; i < this.count; i++) this.clients.push(await this.open(i));
    this.seq = 0;
  }

  async putOne(i, id) {
    await this.clients[i].put({ _id: id, by: i });
    this.written.add(id);
  }

  // Each client puts a document every `everyMs` until pause() (bounded by maxDocs per client).
  resume({ everyMs = 700, maxDocs = 500 } = {}) {
    this.running = true;
    this.loops = this.clients.map(async (_, i) => {
      for (let n = 0; this.running && n < maxDocs; n++) {
        try {
          await this.putOne(i, `doc${i}-${++this.seq}`);
        } catch {
          // a local put fails only if the process died; the round's check restarts it
          return;
        }
        await sleep(everyMs);
      }
    });
  }

  async pause() {
    this.running = false;
    await Promise.all(this.loops ?? []);
  }

  // Restarts every client that lost uploads, makes each write a marker, and waits until every
  // client has every document any client wrote. Returns {ok, docs, restarted, reloaded, problem}.
  async converge(round, timeoutMs = 45_000) {
    try {
      return await this.#converge(round, timeoutMs);
    } catch (e) {
      // A client that cannot even be restarted fails the round; the next round tries again.
      return { ok: false, docs: this.written.size, restarted: 0, reloaded: 0, problem: `clients: ${e.message.slice(0, 500)}` };
    }
  }

  async #converge(round, timeoutMs) {
    let restarted = 0;
    for (let i = 0; i < this.clients.length; i++) {
      let c = this.clients[i];
      let lost = c.exited !== null;
      if (!lost) {
        try {
          await this.putOne(i, `mark${i}-r${round}`);
          await c.flush({ timeoutMs: 30_000 });
          lost = (await c.errors()).length > 0;
        } catch {
          lost = true;
        }
      }
      if (lost) {
        try {
          await c.close({ timeoutMs: 20_000 });
        } catch {
          await c.kill();
        }
        c = this.clients[i] = await this.open(i);
        restarted++;
        this.restarts++;
        await this.putOne(i, `mark${i}-r${round}-again`);
        await c.flush({ timeoutMs: 30_000 });
      }
    }
    const want = [...this.written];
    // A client whose live subscription did not come back gets no pushes until it reloads (seen
    // after edge restarts); it is reloaded once and counted, and must then have everything.
    let reloaded = 0;
    const missing = await Promise.all(this.clients.map(async (c) => !(await c.tryWaitFor(want, { timeoutMs })).ok));
    for (let i = 0; i < this.clients.length; i++) {
      if (!missing[i]) continue;
      await this.clients[i].close({ timeoutMs: 20_000 }).catch(() => this.clients[i].kill());
      this.clients[i] = await this.open(i);
      reloaded++;
      const r = await this.clients[i].tryWaitFor(want, { timeoutMs });
      if (!r.ok) {
        // Tell a broken local store from a server that lost something: a new client with an
        // empty store must get every document from the server alone.
        const fresh = await this.freshClient(want, timeoutMs);
        const other = await Promise.all(this.clients.map(async (c, j) => (j === i ? null : (await c.tryWaitFor(want, { timeoutMs: 5_000 })).ok)));
        return {
          ok: false,
          docs: want.length,
          restarted,
          reloaded,
          freshClient: fresh,
          problem:
            `client doc${i} still misses ${r.missingCount ?? r.missing?.length} of ${want.length} documents after a reload ` +
            `(last error: ${String(r.lastError ?? "").trim().slice(0, 300)}); the other clients have them all: ` +
            `${JSON.stringify(other.filter((x) => x !== null))}; a new client with an empty store ${fresh}`,
        };
      }
    }
    const sets = await Promise.all(this.clients.map((c) => c.ids()));
    const first = JSON.stringify([...sets[0]].sort());
    const same = sets.every((s) => JSON.stringify([...s].sort()) === first);
    return { ok: same, docs: want.length, restarted, reloaded, problem: same ? "" : "clients hold different document sets" };
  }

  // What a new client with an empty in-memory store gets of `ids` from the server: "all", or what
  // it misses and its last error, or why it could not attach.
  async freshClient(ids, timeoutMs) {
    let c;
    try {
      c = await spawnClient({ fpUrl: this.fpUrl, token: this.token, label: "fresh" });
      await c.attach({ timeoutMs: 60_000 });
      const r = await c.tryWaitFor(ids, { timeoutMs });
      if (r.ok) return "has them all";
      return `misses ${r.missingCount ?? r.missing?.length} of ${ids.length} (last error: ${String(r.lastError ?? "").trim().slice(0, 200)})`;
    } catch (e) {
      return `could not be checked: ${e.message.slice(0, 200)}`;
    } finally {
      await c?.kill();
    }
  }

  async close() {
    await Promise.all(
      this.clients.map(async (c) => {
        try {
          await c.close({ timeoutMs: 20_000 });
        } catch {
          await c.kill();
        }
      }),
    );
  }
}
