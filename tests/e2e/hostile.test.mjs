// What a hostile or broken client sends, at the protocol level against a real mesh (issue 14): every
// refusal is a clear, small error, the edge's memory stays bounded, and nothing stored changes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import { metricSum, startKiln } from "./lib/kiln.mjs";
import { bindGetMetaMsg, fpRequest, newTid, openHttpSession, openMsg, signedUrlMsg } from "./lib/protocol.mjs";
import { carCid, metaEntry, putMeta, uploadCar } from "./lib/entries.mjs";
import { newKeyPair, signRawToken } from "./lib/tokens.mjs";
import { uniqueName } from "./lib/util.mjs";
import { WsConn } from "./lib/wsconn.mjs";

let kiln;
before(async () => {
  kiln = await startKiln({ auth: "none" });
});
after(async () => {
  await kiln?.stop();
});

const rssBytes = (pid) => Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))[1]) * 1024;

// One raw HTTP request; resolves with the status line's code (or "closed" when none came back).
function rawRequest(port, text) {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let reply = "";
    socket.on("data", (d) => (reply += d.toString("latin1")));
    socket.on("error", () => {});
    socket.on("close", () => resolve(/^HTTP\/1\.1 (\d+)/.exec(reply)?.[1] ?? "closed"));
    socket.write(text, () => socket.end());
  });
}

// A ledger with `n` chained entries (all naming one CAR), written in batches.
async function ledgerWithEntries(tenant, ledger, n) {
  const token = "dev";
  const conn = await openHttpSession(kiln.httpBase, token);
  const car = await uploadCar(kiln.httpBase, { token, conn, tenant, ledger }, Buffer.from(`car ${ledger}`));
  let parents = [];
  for (let i = 0; i < n; i += 50) {
    const batch = [];
    for (let k = i; k < Math.min(n, i + 50); k++) {
      const e = await metaEntry(car, parents);
      batch.push(e);
      parents = [e.cid];
    }
    await putMeta(kiln.httpBase, { token, conn, tenant, ledger }, batch);
  }
  return { token, conn, car, head: parents[0] };
}

test("oversized request headers get 431, not a silent close", async () => {
  const longLine = `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: ${"a".repeat(64 * 1024)}\r\n\r\n`;
  assert.equal(await rawRequest(kiln.edgePort, longLine), "431");
  const many = `GET /healthz HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 10_000 }, (_, i) => `X-H${i}: v\r\n`).join("")}\r\n`;
  assert.equal(await rawRequest(kiln.edgePort, many), "431");
  // The edge still serves.
  assert.equal(await rawRequest(kiln.edgePort, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), "200");
});

test("tenant and ledger ids outside the grammar are refused on every message type, naming the field", async () => {
  const token = "dev";
  const conn = await openHttpSession(kiln.httpBase, token);
  const bad = [
    { tenant: "t".repeat(1024 * 1024), ledger: "l", field: "tenant.tenant is 1048576 bytes" },
    { tenant: "t", ledger: "../../car/x", field: "tenant.ledger has a character" },
    { tenant: "..", ledger: "l", field: "tenant.tenant must not be" },
    { tenant: ".", ledger: "l", field: "tenant.tenant must not be" },
    { tenant: "t\r\nX-Injected: 1", ledger: "l", field: "tenant.tenant has a character" },
    { tenant: "t\u0000", ledger: "l", field: "tenant.tenant has a character" },
  ];
  for (const type of ["reqPutData", "reqGetData", "reqDelData", "bindGetMeta", "reqGetMeta", "reqPutMeta", "reqPutWAL"]) {
    for (const b of bad) {
      const msg = signedUrlMsg(type, { token, conn, tenant: b.tenant, ledger: b.ledger, method: "PUT", store: type.includes("WAL") ? "wal" : "car", key: "k" });
      if (type === "reqPutMeta") msg.meta = { metas: [], keys: [] };
      const r = await fpRequest(kiln.httpBase, msg);
      assert.equal(r.body?.type, "error", `${type} with tenant ${JSON.stringify(b.tenant.slice(0, 20))}: ${r.text.slice(0, 200)}`);
      assert.match(r.body.message, new RegExp(b.field.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")), type);
      assert.ok(r.text.length < 2048, `${type}: a ${r.text.length}-byte error reply echoes the request`);
      assert.ok(!r.text.includes("X-Injected"), `${type}: the reply repeats the bad id`);
    }
  }
});

test("error replies echo neither the token nor the body", async () => {
  const junk = "j".repeat(3 * 1024 * 1024);
  const msg = signedUrlMsg("reqPutData", { token: junk, conn: { reqId: "r", resId: "s" }, tenant: "t", ledger: "l", method: "PUT", store: "car", key: "k" });
  msg.pad = "p".repeat(100_000);
  const r = await fpRequest(kiln.httpBase, msg);
  assert.equal(r.body?.type, "error");
  assert.match(r.body.message, /auth\.params\.jwk: is 3145728 bytes/);
  assert.ok(r.text.length < 1024, `a ${r.text.length}-byte error reply`);
  assert.deepEqual(Object.keys(r.body.src).sort(), ["tid", "type"]);
});

test("pushes carry only protocol fields: a 1 MB field in a bind does not come back", async () => {
  const tenant = "hostile";
  const ledger = uniqueName("pad");
  const { token, conn, car, head } = await ledgerWithEntries(tenant, ledger, 3);
  const ws = await WsConn.open(kiln.httpBase);
  try {
    ws.send(openMsg(token, { reqId: "padded" }));
    const opened = await ws.next((m) => m.type === "resOpen");
    const bind = bindGetMetaMsg({ token, conn: opened.conn, tenant, ledger });
    bind.pad = "x".repeat(1024 * 1024);
    ws.send(bind);
    await ws.next((m) => m.type === "eventGetMeta");
    const e = await metaEntry(car, [head]);
    await putMeta(kiln.httpBase, { token, conn, tenant, ledger }, [e]);
    const push = await ws.next((m) => m.type === "eventGetMeta" && m.meta.metas.some((x) => x.cid === e.cid));
    const size = JSON.stringify(push).length;
    assert.ok(size < 4096, `a ${size}-byte push`);
    assert.equal(push.pad, undefined);
    const first = ws.received.find((m) => m.type === "eventGetMeta");
    assert.equal(first.pad, undefined, "the bind reply echoes the pad");
  } finally {
    ws.close();
  }
});

test("a client that binds and stops reading is cut off by bytes queued; the edge's memory stays bounded", async () => {
  const tenant = "hostile";
  const ledger = uniqueName("slow");
  const { token } = await ledgerWithEntries(tenant, ledger, 300);
  const cutBefore = await metricSum(kiln.edgeMetricsPort, "kiln_edge_slow_client_disconnects_total");
  const rssBefore = rssBytes(kiln.edgePid);
  const ws = await WsConn.open(kiln.httpBase);
  ws.socket._socket.pause(); // reads nothing from now on; the edge's writes back up
  ws.send(openMsg(token, { reqId: "slow" }));
  // Each bind is answered with ~200 entries (~70 KB): 600 of them would queue ~40 MB for this
  // client, below the message-count limit (1,024) but far above the per-connection byte limit
  // (8 MiB) plus what the kernel's socket buffers absorb.
  const closed = new Promise((resolve) => ws.socket.once("close", resolve));
  for (let i = 0; i < 600 && ws.socket.readyState === 1; i++) {
    ws.send(bindGetMetaMsg({ token, conn: { reqId: "slow", resId: "x" }, tenant, ledger }));
    if (i % 16 === 15) await new Promise((r) => setTimeout(r, 20)); // stay under 64 in flight
  }
  let cut = cutBefore;
  for (let tries = 0; tries < 300 && cut === cutBefore; tries++) {
    await new Promise((r) => setTimeout(r, 100));
    cut = await metricSum(kiln.edgeMetricsPort, "kiln_edge_slow_client_disconnects_total");
  }
  const binds = await metricSum(kiln.edgeMetricsPort, "kiln_edge_messages_total", { type: "bindGetMeta" });
  assert.equal(cut, cutBefore + 1, `the slow client was not cut off (${binds} binds handled)`);
  ws.socket._socket.resume();
  await closed;
  const grown = rssBytes(kiln.edgePid) - rssBefore;
  assert.ok(grown < 64 * 1024 * 1024, `edge RSS grew by ${(grown / 1048576).toFixed(0)} MiB`);
  // The edge still serves the ledger, whole.
  const r = await fpRequest(kiln.httpBase, bindGetMetaMsg({ token, conn: { reqId: "a", resId: "b" }, tenant, ledger }));
  assert.equal(r.body?.type, "eventGetMeta");
  assert.ok(r.body.meta.metas.length >= 200);
});

test("with tokens: only the right \"write\" writes, and a token without exp is refused", async () => {
  const kp = await newKeyPair();
  const es = await startKiln({ auth: "es256", tokenPublicKey: kp.strings.publicKey });
  try {
    const tenant = "t-rights";
    const ledger = "l-rights";
    const put = async (token) =>
      fpRequest(es.httpBase, signedUrlMsg("reqPutData", { token, conn: { reqId: "r", resId: "s" }, tenant, ledger, method: "PUT", store: "car", key: await carCid(Buffer.from("x")) }));
    const get = async (token) =>
      fpRequest(es.httpBase, signedUrlMsg("reqGetData", { token, conn: { reqId: "r", resId: "s" }, tenant, ledger, method: "GET", store: "car", key: "k" }));
    for (const [right, writes] of [["write", true], ["read", false], ["READ", false], ["", false], ["readonly", false], ["WRITE", false], ["admin", false]]) {
      const token = await signRawToken(kp, { tenant, ledger, right });
      const w = await put(token);
      assert.equal(w.body?.type === "resPutData", writes, `right ${JSON.stringify(right)}: ${w.text.slice(0, 200)}`);
      if (!writes) assert.match(w.body.message, /only read access/);
      assert.equal((await get(token)).body?.type, "resGetData", `right ${JSON.stringify(right)} reads`);
    }
    const noExp = await signRawToken(kp, { tenant, ledger }, { exp: undefined });
    const r = await get(noExp);
    assert.equal(r.body?.type, "error");
    assert.match(r.body.message, /no "exp"/);
  } finally {
    await es.stop();
  }
});

test("after all of it, the edge answers a normal client", async () => {
  const token = "dev";
  const conn = await openHttpSession(kiln.httpBase, token);
  const r = await fpRequest(kiln.httpBase, { ...bindGetMetaMsg({ token, conn, tenant: "hostile", ledger: uniqueName("after") }), tid: newTid() });
  assert.equal(r.body?.type, "eventGetMeta");
  kiln.assertHealthy();
});
