// Scale-out with the real Fireproof client: two of every service (2 edges, 2 merges, 2 metadata
// shards, 2 block-store shards), wired like `tools/dev up --replicas 2` and the k8s manifests.
// Clients attached to different edges converge on several ledgers placed on different shards, and a
// live push crosses edges (it travels writer -> edge A -> merge -> metadata shard -> Watch -> edge B).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { metricSum, startKiln } from "./lib/kiln.mjs";
import { attachedClient, closeAll } from "./lib/clients.mjs";
import { devToken } from "./lib/tokens.mjs";
import { assertNoClientErrors, uniqueName } from "./lib/util.mjs";

let kiln;
const clients = [];
const track = (c) => (clients.push(c), c);

before(async () => {
  kiln = await startKiln({ auth: "none", replicas: 2 });
});

after(async () => {
  await closeAll(clients);
  await kiln?.stop();
});

// Rendezvous placement, written independently of common/shards.cc from its documented definition:
// the shard with the highest first 8 bytes (big-endian) of
// SHA-256("kiln-shard\0" + position as 4 bytes big-endian + tenant + "\0" + ledger).
function shardFor(count, tenant, ledger) {
  let best = 0;
  let bestWeight = -1n;
  for (let i = 0; i < count; i++) {
    const pos = Buffer.alloc(4);
    pos.writeUInt32BE(i);
    const h = crypto
      .createHash("sha256")
      .update(Buffer.concat([Buffer.from("kiln-shard\0"), pos, Buffer.from(tenant), Buffer.from([0]), Buffer.from(ledger)]))
      .digest();
    const w = h.readBigUInt64BE(0);
    if (w > bestWeight) {
      best = i;
      bestWeight = w;
    }
  }
  return best;
}

const instance = (name) => kiln.metrics.find((m) => m.instance === name).port;

test("clients on different edges converge on ledgers spread over both shards; pushes cross edges", async () => {
  const tenant = "e2e";
  // Three ledgers covering both shards.
  const ledgers = [];
  for (let i = 0; ledgers.length < 3 || new Set(ledgers.map((l) => shardFor(2, tenant, l))).size < 2; i++) {
    const name = uniqueName(`scale-${i}`);
    if (ledgers.length < 3) ledgers.push(name);
    else ledgers[2] = name;
  }
  const counters = async () => {
    const c = {};
    for (const shard of [0, 1]) {
      c[`metadata-${shard}`] = await metricSum(instance(`metadata-${shard}`), "kiln_metadata_commits_total", { result: "ok" });
      c[`blockstore-${shard}`] = await metricSum(instance(`blockstore-${shard}`), "grpc_server_handled_total", {
        grpc_method: "Put",
        grpc_code: "OK",
      });
    }
    return c;
  };
  const pushesBefore = await metricSum(instance("edge-1"), "kiln_edge_pushes_total");

  for (const ledger of ledgers) {
    const before = await counters();
    const token = await devToken(tenant, ledger);
    // A on edge 0, B on edge 1.
    const [a, b] = await Promise.all([
      attachedClient({ fpUrl: kiln.edges[0].fpUrl("ws"), token, label: `${ledger}-edge0` }).then(track),
      attachedClient({ fpUrl: kiln.edges[1].fpUrl("ws"), token, label: `${ledger}-edge1` }).then(track),
    ]);
    await a.put({ _id: "from-a", ledger });
    await b.waitFor(["from-a"], { where: { "from-a": { ledger } } });
    await b.put({ _id: "from-b", ledger });
    await a.waitFor(["from-b"], { where: { "from-b": { ledger } } });
    await Promise.all([a.flush(), b.flush()]);
    assert.deepEqual((await a.ids()).sort(), ["from-a", "from-b"]);
    assert.deepEqual((await b.ids()).sort(), ["from-a", "from-b"]);
    await assertNoClientErrors(a, b);
    await closeAll([a, b]);

    // The ledger's commits and blobs went to its shard on both services, and nothing to the other
    // (metadata on PostgreSQL and blobs on S3 have no shards: any replica serves any ledger).
    const after = await counters();
    const home = shardFor(2, tenant, ledger);
    const other = 1 - home;
    const sharded = [
      ...(process.env.KILN_E2E_METADATA === "postgres" ? [] : ["metadata"]),
      ...((process.env.KILN_E2E_BLOBS ?? "rocksdb") === "rocksdb" ? ["blockstore"] : []),
    ];
    for (const svc of sharded) {
      const homeDelta = after[`${svc}-${home}`] - before[`${svc}-${home}`];
      const otherDelta = after[`${svc}-${other}`] - before[`${svc}-${other}`];
      assert.ok(homeDelta >= 2, `${ledger} lives on ${svc}-${home}, which got ${homeDelta} writes`);
      assert.equal(otherDelta, 0, `${ledger} lives on ${svc}-${home}, but ${svc}-${other} got ${otherDelta} writes`);
    }
  }

  // Edge 1 pushed changes that were written through edge 0.
  assert.ok((await metricSum(instance("edge-1"), "kiln_edge_pushes_total")) > pushesBefore);
});
