// --auth=es256: ledgers stay apart, tokens only open what their claims name, read-only tokens cannot
// write, and forged, expired or missing tokens are refused. Both through the real client and at the
// protocol level (PUT /fp).
//
// Client behaviour these tests rely on (0.24.19, read in core-gateways-cloud and core-protocols-cloud):
//   - The client takes tenant and ledger from the token's claims.selected, so a token can point the
//     client at a ledger its claims do not list (crossToken below).
//   - attach() resolves even when the server refuses the bind (the loader's first-meta wait resolves on
//     error), and hangs when the gestalt is refused; so these tests judge by data, not by attach().
//   - A refused request costs the client its 3 s timeout: an `error` reply never resolves a pending
//     request. Over WebSocket, an `error` carrying the client's own conn also reaches its bindGetMeta
//     stream and ends it for good: the client stops receiving pushes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startKiln } from "./lib/kiln.mjs";
import { attachedClient, spawnClient, closeAll } from "./lib/clients.mjs";
import { newKeyPair, mintToken, signRawToken } from "./lib/tokens.mjs";
import {
  bindGetMetaMsg,
  fpRequest,
  gestaltMsg,
  openHttpSession,
  openMsg,
  putMetaMsg,
  rawCid,
  signedUrlMsg,
} from "./lib/protocol.mjs";
import { assertNoClientErrors, uniqueName } from "./lib/util.mjs";
import { WsConn, metaCids } from "./lib/wsconn.mjs";
import { carCid, metaEntry, putMeta, uploadCar } from "./lib/entries.mjs";

let kiln;
let kp;
const clients = [];
const track = (c) => (clients.push(c), c);

const T = "t1";
const L1 = uniqueName("l1");
const L2 = uniqueName("l2");
let w1; // write token for T/L1
let w2; // write token for T/L2
let r1; // read-only token for T/L1

// How long a client that should NOT receive something is watched. Bounded; tests run such waits in
// parallel where they can.
const NEGATIVE_WAIT_MS = 6_000;

before(async () => {
  kp = await newKeyPair();
  // No clock skew allowance, so that a token that expires during a test is refused at once.
  kiln = await startKiln({ auth: "es256", tokenPublicKey: kp.strings.publicKey, edgeArgs: ["--token_clock_skew=0s"] });
  w1 = await mintToken(kp, { tenant: T, ledger: L1 });
  w2 = await mintToken(kp, { tenant: T, ledger: L2 });
  r1 = await mintToken(kp, { tenant: T, ledger: L1, right: "read" });
});

after(async () => {
  await closeAll(clients);
  await kiln?.stop();
});

function assertRefused(r, msg, what) {
  assert.ok(r.status >= 400, `${what}: expected a non-2xx status, got ${r.status} ${r.text.slice(0, 300)}`);
  assert.equal(r.body?.type, "error", `${what}: expected an error message, got ${r.text.slice(0, 300)}`);
  if (msg.tid) assert.equal(r.body.tid, msg.tid, `${what}: the error must echo the tid`);
}

function assertAnswered(r, type, msg, what) {
  assert.equal(r.status, 200, `${what}: ${r.status} ${r.text.slice(0, 300)}`);
  assert.equal(r.body?.type, type, `${what}: ${r.text.slice(0, 300)}`);
  assert.equal(r.body.tid, msg.tid, `${what}: tid not echoed`);
}

// Writes `ids` through a fresh writer holding `token`, and returns once they are acknowledged.
async function writeAndFlush(token, ids, label) {
  const w = track(await attachedClient({ fpUrl: kiln.fpUrl("ws"), token, label }));
  for (const id of ids) await w.put({ _id: id, by: label });
  await w.flush();
  await assertNoClientErrors(w);
  return w;
}

// A fresh reader with `token` sees `mustHave` and none of `mustNotHave`. Waiting for a sentinel that was
// written after the suspect writes makes the "none" deterministic: the reader starts from the server's
// heads after all of them.
async function assertLedgerHolds(token, mustHave, mustNotHave, label) {
  const r = track(await attachedClient({ fpUrl: kiln.fpUrl("ws"), token, label }));
  await r.waitFor(mustHave);
  const ids = await r.ids();
  for (const id of mustNotHave) assert.ok(!ids.includes(id), `${label} sees ${id}, which must not be there`);
  await r.close();
  return ids;
}

test("with ES256 tokens, two ledgers stay isolated", async () => {
  const inL1 = ["l1-a", "l1-b", "l1-c"];
  const inL2 = ["l2-a", "l2-b"];
  const [a1, a2] = await Promise.all([writeAndFlush(w1, inL1, "writer-l1"), writeAndFlush(w2, inL2, "writer-l2")]);
  const [ids1, ids2] = await Promise.all([
    assertLedgerHolds(w1, inL1, inL2, "reader-l1"),
    assertLedgerHolds(w2, inL2, inL1, "reader-l2"),
  ]);
  assert.deepEqual(ids1.sort(), [...inL1].sort());
  assert.deepEqual(ids2.sort(), [...inL2].sort());
  await closeAll([a1, a2]);
});

test("a dashboard-style token (empty tenants and ledgers, only selected) reads and writes its ledger only", async () => {
  // Fireproof's dashboard (ensureCloudToken) mints tokens with tenants: [], ledgers: [] and
  // selected: {tenant, ledger, appId}; signed by the trusted key, such a token grants that ledger.
  const L3 = uniqueName("l3");
  const dash = (ledger) =>
    signRawToken(kp, { tenant: T, ledger }, { tenants: [], ledgers: [], selected: { tenant: T, ledger, appId: "app" } });
  const [a, b] = await Promise.all([
    attachedClient({ fpUrl: kiln.fpUrl("ws"), token: await dash(L3), label: "dash-a" }).then(track),
    attachedClient({ fpUrl: kiln.fpUrl("ws"), token: await dash(L3), label: "dash-b" }).then(track),
  ]);
  await a.put({ _id: "dash-1", by: "a" });
  await b.waitFor(["dash-1"]);
  await assertNoClientErrors(a, b);
  // The same shape selecting L3 opens nothing else: L1's bind is refused at the protocol level.
  const conn = await openHttpSession(kiln.httpBase, await dash(L3));
  const bind = bindGetMetaMsg({ token: await dash(L3), conn, tenant: T, ledger: L1 });
  assertRefused(await fpRequest(kiln.httpBase, bind), bind, "bindGetMeta of another ledger");
  await closeAll([a, b]);
});

test("a token for one ledger can neither read nor write another (client)", async () => {
  const l2Docs = ["l2-cross-1"];
  const a2 = await writeAndFlush(w2, l2Docs, "writer-l2b");
  // Signed with the right key, lists only L1, but selects L2: the client goes to L2 with it.
  const crossToken = await signRawToken(kp, { tenant: T, ledger: L1 }, { selected: { tenant: T, ledger: L2 } });
  const x = track(await spawnClient({ fpUrl: kiln.fpUrl("ws"), token: crossToken, label: "cross" }));
  await x.tryAttach({ timeoutMs: NEGATIVE_WAIT_MS });
  await x.put({ _id: "cross-write", by: "cross" });
  await x.flush({ timeoutMs: 60_000 }).catch(() => {});
  const seen = await x.tryWaitFor(l2Docs, { timeoutMs: NEGATIVE_WAIT_MS });
  assert.equal(seen.ok, false, "a token for L1 read L2's documents");
  await a2.put({ _id: "l2-sentinel" });
  await a2.flush();
  await assertLedgerHolds(w2, [...l2Docs, "l2-sentinel"], ["cross-write"], "reader-l2b");
  await closeAll([a2, x]);
});

test("a token for one ledger can neither read nor write another (protocol)", async () => {
  const conn = await openHttpSession(kiln.httpBase, w1);
  // A blob in L2, written with L2's token.
  const bytes = Buffer.from(`only for ${L2}`);
  const key = rawCid(bytes);
  const put = await fpRequest(
    kiln.httpBase,
    signedUrlMsg("reqPutData", { token: w2, conn, tenant: T, ledger: L2, method: "PUT", store: "file", key }),
  );
  assert.equal(put.status, 200, put.text);
  assert.equal((await fetch(put.body.signedUrl, { method: "PUT", body: bytes })).ok, true);

  for (const [tenant, ledger] of [
    [T, L2],
    ["other-tenant", L1],
  ]) {
    const where = `${tenant}/${ledger} with a token for ${T}/${L1}`;
    const bind = bindGetMetaMsg({ token: w1, conn, tenant, ledger });
    assertRefused(await fpRequest(kiln.httpBase, bind), bind, `bindGetMeta ${where}`);
    for (const [type, method] of [
      ["reqGetData", "GET"],
      ["reqPutData", "PUT"],
      ["reqDelData", "DELETE"],
    ]) {
      for (const store of ["car", "file"]) {
        const m = signedUrlMsg(type, { token: w1, conn, tenant, ledger, method, store, key });
        assertRefused(await fpRequest(kiln.httpBase, m), m, `${type} ${store} ${where}`);
      }
    }
    const putMeta = putMetaMsg({ token: w1, conn, tenant, ledger });
    assertRefused(await fpRequest(kiln.httpBase, putMeta), putMeta, `reqPutMeta ${where}`);
  }

  // Blobs are kept per ledger: L1's URL for the same key does not reach L2's blob.
  const get1 = signedUrlMsg("reqGetData", { token: w1, conn, tenant: T, ledger: L1, method: "GET", store: "file", key });
  const r = await fpRequest(kiln.httpBase, get1);
  assertAnswered(r, "resGetData", get1, "reqGetData in the token's own ledger");
  assert.equal((await fetch(r.body.signedUrl)).status, 404);
});

test("a read-only token can read but cannot write", async () => {
  const before1 = ["l1-ro-before"];
  const a1 = await writeAndFlush(w1, before1, "writer-l1c");
  const ro = track(await attachedClient({ fpUrl: kiln.fpUrl("ws"), token: r1, label: "read-only" }));
  await ro.waitFor(before1);

  await ro.put({ _id: "ro-write", by: "read-only" });
  await ro.flush();
  const errors = await ro.errors();
  assert.ok(errors.length > 0, "the read-only client's uploads should have been refused");

  // Its subscription survives the refusals: later writes by others still arrive.
  await a1.put({ _id: "l1-ro-after" });
  await a1.flush();
  const after1 = await ro.tryWaitFor(["l1-ro-after"], { timeoutMs: 30_000 });
  assert.ok(
    after1.ok,
    "the read-only client stopped receiving pushes after its writes were refused. Over WebSocket an " +
      "`error` carrying the client's own conn ends the client's bindGetMeta stream: refuse without conn.",
  );
  assert.equal((await a1.get("ro-write")).ok, false, "the writer received the read-only client's document");
  await assertLedgerHolds(w1, [...before1, "l1-ro-after"], ["ro-write"], "reader-l1c");

  // Protocol level: reads are answered, writes refused.
  const conn = await openHttpSession(kiln.httpBase, r1);
  const bind = bindGetMetaMsg({ token: r1, conn, tenant: T, ledger: L1 });
  const rb = await fpRequest(kiln.httpBase, bind);
  assertAnswered(rb, "eventGetMeta", bind, "bindGetMeta read-only");
  assert.ok(Array.isArray(rb.body.meta?.metas) && rb.body.meta.metas.length > 0);
  assert.ok(Array.isArray(rb.body.meta?.keys));
  const key = rawCid(Buffer.from("read-only probe"));
  const get = signedUrlMsg("reqGetData", { token: r1, conn, tenant: T, ledger: L1, method: "GET", store: "car", key });
  assertAnswered(await fpRequest(kiln.httpBase, get), "resGetData", get, "reqGetData read-only");
  for (const [type, method] of [
    ["reqPutData", "PUT"],
    ["reqDelData", "DELETE"],
  ]) {
    for (const store of ["car", "file"]) {
      const m = signedUrlMsg(type, { token: r1, conn, tenant: T, ledger: L1, method, store, key });
      assertRefused(await fpRequest(kiln.httpBase, m), m, `${type} ${store} read-only`);
    }
  }
  const putMeta = putMetaMsg({ token: r1, conn, tenant: T, ledger: L1 });
  assertRefused(await fpRequest(kiln.httpBase, putMeta), putMeta, "reqPutMeta read-only");
  await closeAll([a1, ro]);
});

test("forged, expired and missing tokens are refused (protocol)", async () => {
  const other = await newKeyPair();
  const now = Math.floor(Date.now() / 1000);
  const claims = { tenant: T, ledger: L1 };
  const good = w1;
  const [h, p, s] = good.split(".");
  const payload = JSON.parse(Buffer.from(p, "base64url").toString());
  const bad = {
    "signed by another key": await mintToken(other, claims),
    "expired (exp in seconds)": await signRawToken(kp, claims, { iat: now - 7200, exp: now - 3600 }),
    "expired (exp in milliseconds, as tokenFor writes it)": await signRawToken(kp, claims, {
      iat: now - 7200,
      exp: (now - 3600) * 1000,
    }),
    "not valid yet": await signRawToken(kp, claims, { nbf: now + 3600 }),
    "payload changed after signing": `${h}.${Buffer.from(
      JSON.stringify({ ...payload, ledgers: [...payload.ledgers, { id: L2, role: "admin", right: "write" }] }),
    ).toString("base64url")}.${s}`,
    'alg "none"': `${Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url")}.${p}.`,
    "not a JWT": "dev-token-not-a-jwt",
    empty: "",
  };
  const conn = await openHttpSession(kiln.httpBase, good);

  // Positive control: the good token gets answers to the same messages.
  const g0 = gestaltMsg(good);
  assertAnswered(await fpRequest(kiln.httpBase, g0), "resGestalt", g0, "reqGestalt with a good token");
  const o0 = openMsg(good);
  assertAnswered(await fpRequest(kiln.httpBase, o0), "resOpen", o0, "reqOpen with a good token");
  const b0 = bindGetMetaMsg({ token: good, conn, tenant: T, ledger: L1 });
  assertAnswered(await fpRequest(kiln.httpBase, b0), "eventGetMeta", b0, "bindGetMeta with a good token");

  for (const [what, token] of Object.entries(bad)) {
    for (const msg of [gestaltMsg(token), openMsg(token), bindGetMetaMsg({ token, conn, tenant: T, ledger: L1 })]) {
      assertRefused(await fpRequest(kiln.httpBase, msg), msg, `${msg.type}, token ${what}`);
    }
  }
  // No auth at all.
  for (const msg of [gestaltMsg(good), openMsg(good), bindGetMetaMsg({ token: good, conn, tenant: T, ledger: L1 })]) {
    delete msg.auth;
    assertRefused(await fpRequest(kiln.httpBase, msg), msg, `${msg.type} without auth`);
  }
});

test("forged, expired and missing tokens are refused (client)", async () => {
  const other = await newKeyPair();
  const now = Math.floor(Date.now() / 1000);
  const claims = { tenant: T, ledger: L1 };
  const a1 = await writeAndFlush(w1, ["l1-bad-token-probe"], "writer-l1d");
  const badClients = await Promise.all(
    [
      ["forged", await mintToken(other, claims)],
      ["expired", await signRawToken(kp, claims, { iat: now - 7200, exp: now - 3600 })],
    ].map(([label, token]) => spawnClient({ fpUrl: kiln.fpUrl("ws"), token, label }).then(track)),
  );
  await Promise.all(
    badClients.map(async (c) => {
      await c.tryAttach({ timeoutMs: NEGATIVE_WAIT_MS });
      await c.put({ _id: `${c.label}-write`, by: c.label });
      await c.flush({ timeoutMs: 60_000 }).catch(() => {});
      const seen = await c.tryWaitFor(["l1-bad-token-probe"], { timeoutMs: NEGATIVE_WAIT_MS });
      assert.equal(seen.ok, false, `client with a ${c.label} token read the ledger`);
    }),
  );

  // An empty token never leaves the client: it refuses it itself.
  const empty = track(await spawnClient({ fpUrl: kiln.fpUrl("ws"), token: "", label: "empty" }));
  await empty.tryAttach({ timeoutMs: NEGATIVE_WAIT_MS });
  await empty.put({ _id: "empty-write" });
  await empty.flush({ timeoutMs: 60_000 }).catch(() => {});
  const errors = await empty.errors();
  assert.ok(
    errors.some((e) => e.message.includes("authJWK is required")),
    `expected "authJWK is required" from the client, got ${JSON.stringify(errors).slice(0, 500)}`,
  );

  await a1.put({ _id: "l1-bad-token-sentinel" });
  await a1.flush();
  await assertLedgerHolds(
    w1,
    ["l1-bad-token-probe", "l1-bad-token-sentinel"],
    ["forged-write", "expired-write", "empty-write"],
    "reader-l1d",
  );
  await closeAll([a1, empty, ...badClients]);
});

test("a bound connection whose token expires gets no pushes until it presents a valid token, then catches up", async () => {
  // The client refreshes its token two minutes before `exp` and sends the new one with every later
  // request, but its bind stays as first sent; so the edge judges a connection by the newest token
  // it presented.
  const L = uniqueName("expiring");
  const now = Math.floor(Date.now() / 1000);
  const shortLived = await signRawToken(kp, { tenant: T, ledger: L }, { iat: now, exp: now + 3 });
  const writerToken = await mintToken(kp, { tenant: T, ledger: L });
  const writer = { token: writerToken, conn: await openHttpSession(kiln.httpBase, writerToken), tenant: T, ledger: L };
  const put = async (name, parents) => {
    const bytes = Buffer.from(`car ${L} ${name}`);
    await uploadCar(kiln.httpBase, writer, bytes);
    const e = await metaEntry(await carCid(bytes), parents);
    await putMeta(kiln.httpBase, writer, [e]);
    return e.cid;
  };
  const withheld = async () => {
    const text = await (await fetch(`http://127.0.0.1:${kiln.edgeMetricsPort}/metrics`)).text();
    return Number(/^kiln_edge_pushes_withheld_total (\S+)$/m.exec(text)?.[1] ?? 0);
  };

  const ws = await WsConn.open(kiln.httpBase);
  try {
    ws.send(openMsg(shortLived, { reqId: "expiring-reader" }));
    const opened = await ws.next((m) => m.type === "resOpen");
    const conn = opened.conn;
    const bind = bindGetMetaMsg({ token: shortLived, conn, tenant: T, ledger: L });
    ws.send(bind);
    await ws.next((m) => m.type === "eventGetMeta" && m.tid === bind.tid);

    const a = await put("a", []);
    assert.deepEqual(metaCids(await ws.next((m) => m.type === "eventGetMeta" && metaCids(m).includes(a))), [a]);

    // Past its exp (the edge counts whole seconds), pushes stop.
    await new Promise((r) => setTimeout(r, Math.max(0, (now + 4) * 1000 - Date.now())));
    const before = await withheld();
    const b = await put("b", [a]);
    for (let i = 0; (await withheld()) === before; i++) {
      assert.ok(i < 100, "the push of b was neither sent nor withheld");
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(!ws.received.some((m) => metaCids(m).includes(b)), "an expired connection got a push");

    // A request with an expired token is refused and renews nothing.
    const stale = signedUrlMsg("reqGetData", { token: shortLived, conn, tenant: T, ledger: L, method: "GET", store: "car", key: rawCid(Buffer.from("x")) });
    ws.send(stale);
    assert.equal((await ws.next((m) => m.tid === stale.tid)).type, "error");

    // Any request with a valid token renews it: the connection is served the ledger afresh (b
    // included), and later changes are pushed again.
    const fresh = await mintToken(kp, { tenant: T, ledger: L });
    const renewing = signedUrlMsg("reqGetData", { token: fresh, conn, tenant: T, ledger: L, method: "GET", store: "car", key: rawCid(Buffer.from("x")) });
    const caughtUp = ws.next((m) => m.type === "eventGetMeta" && metaCids(m).includes(b));
    ws.send(renewing);
    assert.equal((await ws.next((m) => m.tid === renewing.tid)).type, "resGetData");
    const served = await caughtUp;
    assert.equal(served.tid, bind.tid, "the catch-up is not shaped like the connection's bind");
    const c = await put("c", [b]);
    assert.deepEqual(metaCids(await ws.next((m) => m.type === "eventGetMeta" && metaCids(m).includes(c))), [c]);
  } finally {
    ws.close();
  }
});
