// Sync through Kiln with the real Fireproof client, --auth=none: two clients converge over WebSocket
// and over protocol=http, a late joiner loads a 200-commit ledger, late joiners after concurrent
// writers see everything, 12 ledgers sync at once (a process per ledger, as the client needs), a
// ~600 KB document round-trips, and a ~3 MB one (a commit of several CARs) arrives with the next commit.
// Every client is its own process with its own keybag, so keys travel only through the server.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startKiln } from "./lib/kiln.mjs";
import { attachedClient, closeAll } from "./lib/clients.mjs";
import { devToken } from "./lib/tokens.mjs";
import { bindGetMetaMsg, fpRequest, gestaltMsg, openHttpSession, openMsg, signedUrlFor } from "./lib/protocol.mjs";
import { WsConn } from "./lib/wsconn.mjs";
import { assertNoClientErrors, randomText, sha256Hex, uniqueName } from "./lib/util.mjs";

let kiln;
const clients = [];
const track = (c) => (clients.push(c), c);

before(async () => {
  kiln = await startKiln({ auth: "none" });
});

after(async () => {
  await closeAll(clients);
  await kiln?.stop();
});

async function convergeBothWays(protocol, k = kiln) {
  const token = await devToken("e2e", uniqueName(`converge-${protocol}`));
  const [a, b] = await Promise.all([
    attachedClient({ fpUrl: k.fpUrl(protocol), token, label: `${protocol}-A` }).then(track),
    attachedClient({ fpUrl: k.fpUrl(protocol), token, label: `${protocol}-B` }).then(track),
  ]);
  const fromA = ["a1", "a2", "a3"];
  const fromB = ["b1", "b2", "b3"];
  // Both write at the same time: each side's heads must merge the other's.
  await Promise.all([
    (async () => {
      for (const id of fromA) await a.put({ _id: id, from: "A", n: Number(id.slice(1)) });
    })(),
    (async () => {
      for (const id of fromB) await b.put({ _id: id, from: "B", n: Number(id.slice(1)) });
    })(),
  ]);
  const [atA, atB] = await Promise.all([a.waitFor([...fromA, ...fromB]), b.waitFor([...fromA, ...fromB])]);
  for (const docs of [atA, atB]) {
    assert.deepEqual(
      docs.map((d) => [d._id, d.from, d.n]),
      [...fromA, ...fromB].map((id) => [id, id[0].toUpperCase(), Number(id.slice(1))]),
    );
  }
  // An update after the first round trip also converges (the second commit builds on merged heads).
  await a.put({ _id: "b1", from: "A", n: 100 });
  await b.waitFor(["b1"], { where: { b1: { from: "A", n: 100 } } });
  await Promise.all([a.flush(), b.flush()]);
  assert.deepEqual((await a.ids()).sort(), (await b.ids()).sort());
  await assertNoClientErrors(a, b);
  // What the server kept is enough for a client that starts from nothing.
  const c = track(await attachedClient({ fpUrl: k.fpUrl(protocol), token, label: `${protocol}-C` }));
  await c.waitFor(["b1", ...fromA, ...fromB.slice(1)], { where: { b1: { from: "A", n: 100 } } });
  assert.equal(await c.count(), fromA.length + fromB.length);
  await assertNoClientErrors(c);
  await closeAll([a, b, c]);
}

test("two clients converge both ways over WebSocket (protocol=ws)", async () => {
  await convergeBothWays("ws");
});

test("two clients converge both ways with protocol=http over HTTP polling (edge --websocket=false)", async () => {
  // The client switches to HTTP request/response (bindGetMeta polled every second through PUT /fp)
  // only when the gestalt offers "reqRes" without "stream"; kiln-edge --websocket=false does that.
  const httpKiln = await startKiln({ auth: "none", edgeArgs: ["--websocket=false"] });
  try {
    const g = await fpRequest(httpKiln.httpBase, gestaltMsg("dev-token"));
    assert.equal(g.status, 200);
    assert.deepEqual(g.body?.gestalt?.protocolCapabilities, ["reqRes"]);
    await convergeBothWays("http", httpKiln);
    // Every message went over PUT /fp: no WebSocket was ever upgraded, and the clients polled.
    const text = await (await fetch(`http://127.0.0.1:${httpKiln.edgeMetricsPort}/metrics`)).text();
    const value = (re) => Number(re.exec(text)?.[1] ?? 0);
    assert.equal(value(/^kiln_edge_http_requests_total\{[^}]*route="ws"[^}]*\} (\S+)$/m), 0, "a WebSocket was opened");
    assert.ok(value(/^kiln_edge_messages_total\{(?=[^}]*type="bindGetMeta")(?=[^}]*outcome="ok")[^}]*\} (\S+)$/m) >= 3,
      "bindGetMeta was not polled");
  } finally {
    await closeAll(clients.splice(0));
    await httpKiln.stop();
  }
});

test("under --base_path=/kiln, clients given fpcloud://host/kiln converge over WebSocket, blobs included", async () => {
  // The client sends its gestalt to the base URL's path itself (it appends /fp only to an empty
  // path) and resolves the advertised endpoints against it; signed blob URLs carry the prefix too.
  const prefixed = await startKiln({ auth: "none", edgeArgs: ["--base_path=/kiln"] });
  try {
    const base = `${prefixed.httpBase}/kiln`;
    const g = await fpRequest(base, gestaltMsg("dev-token"));
    assert.equal(g.status, 200, g.text);
    assert.deepEqual(g.body.gestalt.wsEndpoints, ["/kiln/ws"]);
    assert.deepEqual(g.body.gestalt.httpEndpoints, ["/kiln/fp"]);
    const conn = await openHttpSession(base, "dev-token");
    const { signedUrl } = await signedUrlFor(base, "reqPutData", {
      token: "dev-token", conn, tenant: "e2e", ledger: "prefixed", method: "PUT", store: "car", key: "k1",
    });
    // With direct S3 URLs (KILN_E2E_BLOBS=s3) blob URLs point at the object store, not the edge.
    if (!prefixed.directBlobUrls) assert.ok(signedUrl.startsWith(`${base}/blob/`), signedUrl);
    await convergeBothWays("ws", { fpUrl: (protocol) => `fpcloud://127.0.0.1:${prefixed.edgePort}/kiln?protocol=${protocol}` });
    const text = await (await fetch(`http://127.0.0.1:${prefixed.edgeMetricsPort}/metrics`)).text();
    const upgrades = Number(/^kiln_edge_http_requests_total\{[^}]*route="ws"[^}]*\} (\S+)$/m.exec(text)?.[1] ?? 0);
    assert.ok(upgrades >= 3, `the clients did not use WebSocket under the prefix (${upgrades} upgrades)`);
  } finally {
    await closeAll(clients.splice(0));
    await prefixed.stop();
  }
});

test("a bind the metadata service refuses does not start a Watch retry loop", async () => {
  // A 300-byte tenant is refused by kiln-metadata with INVALID_ARGUMENT, a permanent error: the
  // edge ends that follow instead of re-opening the Watch (once thousands of times a second).
  const watches = async () => {
    let n = 0;
    for (const m of kiln.metrics.filter((x) => x.job === "kiln-metadata")) {
      const text = await (await fetch(`http://127.0.0.1:${m.port}/metrics`)).text();
      const re = /^grpc_server_started_total\{(?=[^}]*grpc_method="Watch")[^}]*\} (\S+)$/gm;
      for (const match of text.matchAll(re)) n += Number(match[1]);
    }
    return n;
  };
  const before = await watches();
  const ws = await WsConn.open(kiln.httpBase);
  try {
    ws.send(openMsg("dev-token", { reqId: "long-tenant" }));
    const { conn } = await ws.next((m) => m.type === "resOpen");
    // Positive control: a valid bind opens one Watch, and the counter sees it.
    const valid = bindGetMetaMsg({ token: "dev-token", conn, tenant: "e2e", ledger: uniqueName("watched") });
    ws.send(valid);
    assert.equal((await ws.next((m) => m.tid === valid.tid)).type, "eventGetMeta");
    for (let i = 0; (await watches()) === before; i++) {
      assert.ok(i < 100, "no Watch was counted for a valid bind");
      await new Promise((r) => setTimeout(r, 50));
    }
    const afterValid = await watches();
    const bind = bindGetMetaMsg({ token: "dev-token", conn, tenant: "t".repeat(300), ledger: "l" });
    ws.send(bind);
    const reply = await ws.next((m) => m.tid === bind.tid);
    assert.equal(reply.type, "error", JSON.stringify(reply).slice(0, 300));
    await new Promise((r) => setTimeout(r, 1500)); // a retry loop would open thousands meanwhile
    const opened = (await watches()) - afterValid;
    assert.ok(opened <= 2, `the edge opened ${opened} Watch streams for one refused bind`);
  } finally {
    ws.close();
  }
});

test("a client that joins after 200 documents were written sees all of them", async () => {
  const ledger = uniqueName("late-joiner");
  const token = await devToken("e2e", ledger);
  const writer = track(await attachedClient({ fpUrl: kiln.fpUrl("ws"), token, label: "writer" }));
  const ids = [];
  // One commit per document: past the client's compaction threshold (about 100 CARs), so the
  // ledger's heads include a compacted CAR and the late joiner must load through it. A lone writer
  // never learns its own entries (pushes skip the writer), so each of its entries has no parents and
  // the ledger ends with one head per commit (about 200 here). The client is sensitive to the order
  // it gets them in: served in acceptance order (oldest or newest first) it loads them; served
  // sorted by CID it fails for good with "missing block" (seen against a mock).
  for (let i = 0; i < 200; i++) {
    const id = `doc-${String(i).padStart(3, "0")}`;
    ids.push(id);
    await writer.put({ _id: id, i });
  }
  await writer.flush();
  await assertNoClientErrors(writer);

  const late = track(await attachedClient({ fpUrl: kiln.fpUrl("ws"), token, label: "late" }));
  const seen = await late.tryWaitFor(ids, { timeoutMs: 90_000 });
  assert.ok(seen.ok, `the late joiner is missing ${seen.missingCount} of 200 documents (last error: ${seen.lastError})`);
  const docs = seen.docs;
  assert.deepEqual(
    docs.map((d) => d.i),
    ids.map((_, i) => i),
  );
  assert.equal(await late.count(), 200);
  await assertNoClientErrors(late);
  await closeAll([writer, late]);
});

// Each writer's meta entry lists as parents every head it has *received*, even those whose CARs it
// has not merged yet, so one writer's commit can name another writer's latest entry as a parent
// without containing its documents. A server that drops every entry named as a parent then serves
// heads that miss the other writer's last documents, and a client starting from those heads never
// sees them (seen against a mock with that rule). The race cannot be forced from outside; three
// writers commit streams of documents at the same time for several rounds, each round checked by a
// fresh client, so such a server fails this test in most runs. A correct server always passes.
test("a client joining after concurrent writers sees every document", async () => {
  const token = await devToken("e2e", uniqueName("concurrent"));
  const writers = await Promise.all(
    ["W1", "W2", "W3"].map((label) => attachedClient({ fpUrl: kiln.fpUrl("ws"), token, label }).then(track)),
  );
  const all = [];
  for (let round = 0; round < 2; round++) {
    await Promise.all(
      writers.map(async (w) => {
        for (let i = 0; i < 5; i++) {
          const id = `${w.label}-${round}-${i}`;
          all.push(id);
          await w.put({ _id: id, writer: w.label, round, i });
        }
      }),
    );
    await Promise.all(writers.map((w) => w.waitFor(all)));
    await Promise.all(writers.map((w) => w.flush()));
    await assertNoClientErrors(...writers);

    const late = track(await attachedClient({ fpUrl: kiln.fpUrl("ws"), token, label: `late-${round}` }));
    const r = await late.tryWaitFor(all, { timeoutMs: 20_000 });
    assert.ok(r.ok, `round ${round}: a fresh client is missing ${JSON.stringify(r.missing)} of ${all.length} documents`);
    assert.equal(await late.count(), all.length);
    await late.close();
  }
  await closeAll(writers);
});

// The 0.24.19 client syncs one ledger per server per process: its cloud gateways are process-wide
// and bind the first ledger's meta stream for every database on the same connection (core-gateways-
// cloud gateway.js, CurrentMeta; docs/protocol-rules.md, "Many ledgers"). So each ledger here has its
// own writer and reader processes, all attached at once.
test("12 ledgers at once: each reader ends with exactly its own ledger's documents", async () => {
  const ledgers = 12;
  const each = 20;
  const tokens = await Promise.all(Array.from({ length: ledgers }, (_, i) => devToken("e2e", uniqueName(`many-${i}`))));
  const attach = (label, i) => attachedClient({ fpUrl: kiln.fpUrl("ws"), token: tokens[i], label: `${label}-${i}` }).then(track);
  const readers = await Promise.all(tokens.map((_, i) => attach("reader", i)));
  const writers = await Promise.all(tokens.map((_, i) => attach("writer", i)));
  const idsOf = (i) => Array.from({ length: each }, (_, k) => `L${i}-d${k}`);
  await Promise.all(
    writers.map(async (w, i) => {
      for (const id of idsOf(i)) await w.put({ _id: id, ledger: i });
      await w.flush();
    }),
  );
  await Promise.all(
    readers.map(async (r, i) => {
      await r.waitFor(idsOf(i), { timeoutMs: 120_000 });
      assert.deepEqual((await r.ids()).sort(), idsOf(i).sort(), `reader ${i} holds documents of other ledgers`);
    }),
  );
  await assertNoClientErrors(...readers, ...writers);
  await closeAll([...readers, ...writers]);
});

test("a document of about 600 KB round-trips", async (t) => {
  const ledger = uniqueName("big-doc");
  const token = await devToken("e2e", ledger);
  const seed = uniqueName("seed");
  t.diagnostic(`payload seed ${seed}`);
  const payload = randomText(600 * 1024, seed);
  const a = track(await attachedClient({ fpUrl: kiln.fpUrl("ws"), token, label: "big-A" }));
  const b = track(await attachedClient({ fpUrl: kiln.fpUrl("ws"), token, label: "big-B" }));
  await a.put({ _id: "big", payload, sha: sha256Hex(payload) });
  await a.flush();
  await assertNoClientErrors(a);

  // B was attached before: it gets the document through a push.
  const [atB] = await b.waitFor(["big"], { timeoutMs: 90_000 });
  assert.equal(atB.payload.length, payload.length);
  assert.equal(sha256Hex(atB.payload), sha256Hex(payload));

  // C joins afterwards: it loads the CAR from scratch.
  const c = track(await attachedClient({ fpUrl: kiln.fpUrl("ws"), token, label: "big-C" }));
  const [atC] = await c.waitFor(["big"], { timeoutMs: 90_000 });
  assert.equal(sha256Hex(atC.payload), sha256Hex(payload));
  await assertNoClientErrors(b, c);
  await closeAll([a, b, c]);
});

// The client splits a commit's blocks into CARs at its 1,000,000-byte threshold, a block larger than
// that (this document is one block) in a CAR of its own (core-blockstore commitor.js,
// prepareCarFiles; the pinned 0.24.19 client), and names them all in the entry, but a reader loads
// only an entry's first CAR and the CARs its header's CAR log names (loader.js,
// mergeDbMetaIntoClock): the rest of a large commit arrives with the writer's next entry, whose
// header lists it. Same on the oracle (docs/protocol-rules.md, "Documents over about 1 MB"). Kiln
// must accept and serve the multi-CAR entry and a 3 MB CAR.
test("a document of about 3 MB (a commit of several CARs) reaches a live reader and a joiner once its writer commits again", async (t) => {
  const token = await devToken("e2e", uniqueName("bigger-doc"));
  const seed = uniqueName("seed");
  t.diagnostic(`payload seed ${seed}`);
  const payload = randomText(3 * 1024 * 1024, seed);
  const a = track(await attachedClient({ fpUrl: kiln.fpUrl("ws"), token, label: "bigger-A" }));
  const b = track(await attachedClient({ fpUrl: kiln.fpUrl("ws"), token, label: "bigger-B" }));
  await a.put({ _id: "bigger", payload });
  await a.put({ _id: "after", n: 1 });
  await a.flush();
  await assertNoClientErrors(a);
  const c = track(await attachedClient({ fpUrl: kiln.fpUrl("ws"), token, label: "bigger-C" }));
  for (const reader of [b, c]) {
    const [doc] = await reader.waitFor(["bigger", "after"], { timeoutMs: 90_000 });
    assert.equal(sha256Hex(doc.payload), sha256Hex(payload), `${reader.label} read other bytes`);
  }
  await assertNoClientErrors(b, c);
  await closeAll([a, b, c]);
});
