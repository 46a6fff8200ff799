// Protocol-level tests of blob storage through signed URLs (the 0.24.19 client never uploads `_files`
// attachments, so the `file` store is driven here by hand, the way the client drives `car`):
// reqPutData / reqGetData / reqDelData over PUT /fp, then PUT / GET / HEAD / DELETE on signedUrl.
// Under KILN_E2E_BLOBS=s3 the URLs point straight at s3rver (presigned SigV4): the checks of Kiln's
// own /blob path (the edge's origin and status codes, signature and method enforcement) are made
// against what the object store does instead, or skipped where s3rver does not enforce (it accepts
// any signature; signing is proven by AWS's vectors in tests/common/sigv4_test.cc).
// KILN_E2E_REPLICAS=2 runs two of every service (block-stores on one bucket behind two edges with
// KILN_E2E_BLOBS=s3 or s3-proxied) and adds a check across the edges.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import http from "node:http";
import { startKiln } from "./lib/kiln.mjs";
import { devToken } from "./lib/tokens.mjs";
import { openHttpSession, rawCid, signedUrlFor } from "./lib/protocol.mjs";
import { uniqueName } from "./lib/util.mjs";

let kiln;
let token;
let conn;
const tenant = "e2e";
const ledger = uniqueName("blobs");

before(async () => {
  kiln = await startKiln({ auth: "none", replicas: Number(process.env.KILN_E2E_REPLICAS || 1) });
  token = await devToken(tenant, ledger);
  conn = await openHttpSession(kiln.httpBase, token);
});

after(async () => {
  await kiln?.stop();
});

const sha = (b) => crypto.createHash("sha256").update(b).digest("hex");

function urlFor(type, method, key, { store = "file", expires } = {}) {
  return signedUrlFor(kiln.httpBase, type, { token, conn, tenant, ledger, method, store, key, expires });
}

// fetch, with the network-level cause (ECONNRESET, EPIPE...) in the error when there is no response.
async function fetchExplained(url, init, what) {
  try {
    return await fetch(url, init);
  } catch (e) {
    throw new Error(`${what}: ${e.message} (${e.cause?.code ?? ""} ${e.cause?.message ?? ""})`);
  }
}

async function upload(bytes, store = "file") {
  const key = rawCid(bytes);
  const { signedUrl } = await urlFor("reqPutData", "PUT", key, { store });
  const res = await fetchExplained(signedUrl, { method: "PUT", body: bytes }, `PUT of ${bytes.length} bytes`);
  await res.arrayBuffer();
  assert.ok(res.ok, `PUT ${store} blob: ${res.status}`);
  return key;
}

async function download(key, store = "file") {
  const { signedUrl } = await urlFor("reqGetData", "GET", key, { store });
  const res = await fetchExplained(signedUrl, {}, "GET");
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) };
}

async function statusOf(url, method = "GET", body) {
  const res = await fetchExplained(url, { method, body }, method);
  await res.arrayBuffer();
  return res.status;
}

test("file blob: reqPutData/reqGetData/reqDelData answers and PUT, GET, HEAD, DELETE on their URLs", async () => {
  const bytes = crypto.randomBytes(100 * 1024);
  const key = rawCid(bytes);

  const put = await urlFor("reqPutData", "PUT", key);
  // The answer echoes what the client checks (MsgIsResPutData / MsgIsTenantLedger) and points at
  // this edge, absolutely.
  assert.equal(put.res.tid, put.msg.tid);
  assert.deepEqual(put.res.conn, conn);
  assert.deepEqual(put.res.tenant, { tenant, ledger });
  assert.deepEqual(put.res.auth, put.msg.auth);
  const origin = kiln.directBlobUrls ? kiln.s3Endpoint : kiln.httpBase;
  assert.equal(new URL(put.signedUrl).origin, origin, `signedUrl ${put.signedUrl} does not point at ${origin}`);
  assert.ok((await statusOf(put.signedUrl, "PUT", bytes)) < 300);
  // The client re-uploads every local CAR when it attaches: the same bytes again must succeed.
  assert.ok((await statusOf(put.signedUrl, "PUT", bytes)) < 300, "re-uploading identical bytes must succeed");

  const get = await urlFor("reqGetData", "GET", key);
  assert.deepEqual(get.res.conn, conn);
  assert.deepEqual(get.res.tenant, { tenant, ledger });
  assert.deepEqual(get.res.auth, get.msg.auth);
  const res = await fetch(get.signedUrl);
  assert.equal(res.status, 200);
  assert.equal(sha(Buffer.from(await res.arrayBuffer())), sha(bytes));
  const head = await fetch(get.signedUrl, { method: "HEAD" });
  assert.equal(head.status, 200);
  const len = head.headers.get("content-length");
  if (len !== null) assert.equal(Number(len), bytes.length);

  const del = await urlFor("reqDelData", "DELETE", key);
  assert.deepEqual(del.res.tenant, { tenant, ledger });
  assert.ok((await statusOf(del.signedUrl, "DELETE")) < 300);
  assert.equal((await download(key)).status, 404);
  const { signedUrl: headAfter } = await urlFor("reqGetData", "GET", key);
  assert.equal(await statusOf(headAfter, "HEAD"), 404);
});

test("car blob round-trips through signed URLs", async () => {
  const bytes = crypto.randomBytes(4096);
  const key = await upload(bytes, "car");
  const got = await download(key, "car");
  assert.equal(got.status, 200);
  assert.equal(sha(got.bytes), sha(bytes));
  // Stores are separate: the same key in "file" is not there.
  assert.equal((await download(key, "file")).status, 404);
});

test("blob PUT, GET, HEAD and DELETE keep the connection for the next request", async () => {
  // A client uploads every commit's CAR; a new TCP connection per upload costs it CPU and latency.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const request = (url, method, body) =>
    new Promise((resolve, reject) => {
      const req = http.request(url, { method, agent }, (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode, reused: req.reusedSocket, connection: res.headers.connection }));
      });
      req.on("error", reject);
      req.end(body);
    });
  try {
    const bytes = Buffer.from(`keep-alive ${uniqueName("k")}`);
    const key = rawCid(bytes);
    const urls = {
      PUT: (await urlFor("reqPutData", "PUT", key)).signedUrl,
      GET: (await urlFor("reqGetData", "GET", key)).signedUrl,
      DELETE: (await urlFor("reqDelData", "DELETE", key)).signedUrl,
    };
    const steps = [["PUT", urls.PUT, bytes], ["GET", urls.GET], ["HEAD", urls.GET], ["PUT", urls.PUT, bytes], ["DELETE", urls.DELETE]];
    const results = [];
    for (const [method, url, body] of steps) results.push({ method, ...(await request(url, method, body)) });
    for (const [i, r] of results.entries()) {
      // S3 answers a DELETE with 204 No Content; the edge's /blob path with 200.
      const expected = kiln.directBlobUrls && r.method === "DELETE" ? 204 : 200;
      assert.equal(r.status, expected, `${r.method}: ${r.status}`);
      assert.notEqual(r.connection, "close", `${r.method} closed the connection`);
      if (i > 0) assert.ok(r.reused, `${r.method} did not reuse the connection`);
    }
  } finally {
    agent.destroy();
  }
});

test("GET of a missing blob is 404", async () => {
  const key = rawCid(crypto.randomBytes(32));
  const { signedUrl } = await urlFor("reqGetData", "GET", key);
  assert.equal(await statusOf(signedUrl), 404);
  assert.equal(await statusOf(signedUrl, "HEAD"), 404);
});

test("a 64 MiB blob round-trips", async () => {
  const bytes = crypto.randomBytes(64 * 1024 * 1024);
  const key = await upload(bytes);
  const got = await download(key);
  assert.equal(got.status, 200);
  assert.equal(got.bytes.length, bytes.length);
  assert.equal(sha(got.bytes), sha(bytes));
});

// Returns a copy of `url` with the last character of its longest query value changed (the signature,
// whatever the scheme calls it).
function withSignatureFlipped(url) {
  const u = new URL(url);
  const [name, value] = [...u.searchParams.entries()].sort((a, b) => b[1].length - a[1].length)[0] ?? [];
  assert.ok(name, `signedUrl has no query to tamper with: ${url}`);
  const last = value.at(-1);
  u.searchParams.set(name, value.slice(0, -1) + (last === "0" ? "1" : "0"));
  return u.toString();
}

test("a tampered signed URL is refused with 403", async (t) => {
  if (kiln.directBlobUrls) {
    t.skip("URLs point at s3rver, which does not verify signatures (see tests/common/sigv4_test.cc)");
    return;
  }
  const bytes = crypto.randomBytes(1024);
  const key = await upload(bytes);
  const otherBytes = crypto.randomBytes(1024);
  const otherKey = await upload(otherBytes);
  const { signedUrl } = await urlFor("reqGetData", "GET", key);
  assert.equal(await statusOf(signedUrl), 200);

  assert.equal(await statusOf(withSignatureFlipped(signedUrl)), 403, "changed signature");
  assert.equal(await statusOf(withSignatureFlipped(signedUrl), "HEAD"), 403, "changed signature (HEAD)");

  if (signedUrl.includes(key)) {
    const res = await fetch(signedUrl.replace(key, otherKey));
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(res.status, 403, "another blob's key in a URL signed for this one");
    assert.notEqual(sha(body), sha(otherBytes));
  } else {
    t.diagnostic("signedUrl does not contain the key; path tampering not tried");
  }
  if (signedUrl.includes(`/${ledger}/`)) {
    assert.equal(await statusOf(signedUrl.replace(`/${ledger}/`, `/${ledger}x/`)), 403, "changed ledger");
  }

  // A URL only allows the method it was signed for.
  assert.equal(await statusOf(signedUrl, "PUT", Buffer.from("overwrite")), 403, "PUT with a GET URL");
  assert.equal(await statusOf(signedUrl, "DELETE"), 403, "DELETE with a GET URL");
  const { signedUrl: putUrl } = await urlFor("reqPutData", "PUT", key);
  assert.equal(await statusOf(putUrl, "DELETE"), 403, "DELETE with a PUT URL");
  assert.equal(sha((await download(key)).bytes), sha(bytes), "the blob changed");

  // A later expiry than signed.
  const u = new URL(signedUrl);
  const nowS = Math.floor(Date.now() / 1000);
  const expParam = [...u.searchParams.entries()].find(([, v]) => /^\d+$/.test(v) && Number(v) > nowS && Number(v) < nowS + 10 * 365 * 86400);
  if (expParam) {
    u.searchParams.set(expParam[0], String(Number(expParam[1]) + 3600));
    assert.equal(await statusOf(u.toString()), 403, "extended expiry");
  } else {
    t.diagnostic("no expiry parameter recognised in signedUrl; expiry tampering not tried");
  }
});

test("an expired signed URL is refused with 403", async (t) => {
  const bytes = crypto.randomBytes(1024);
  const key = await upload(bytes);
  // urlParam.expires: lifetime in seconds, as the reference backend reads it (X-Amz-Expires).
  const { signedUrl } = await urlFor("reqGetData", "GET", key, { expires: 1 });
  // Expiry is wall-clock time at the edge, which this test cannot inject: poll (bounded) until the
  // URL is refused. Nothing is asserted about how long that takes.
  const deadline = Date.now() + 15_000;
  let status;
  do {
    status = await statusOf(signedUrl);
    if (status === 403) break;
    assert.equal(status, 200, `unexpected status ${status} before expiry`);
    await new Promise((r) => setTimeout(r, 250));
  } while (Date.now() < deadline);
  if (status !== 403) {
    t.skip("the edge does not honour urlParam.expires (URL still valid after 15 s); expiry not testable here");
    return;
  }
  assert.equal(await statusOf(signedUrl, "HEAD"), 403);
  // A fresh URL for the same blob still works.
  assert.equal((await download(key)).status, 200);
});

test("with two edges, blobs put through one are served through the other", async (t) => {
  if (kiln.edges.length < 2) {
    t.skip("one edge (KILN_E2E_REPLICAS=2 runs two of every service)");
    return;
  }
  const other = kiln.edges[1].httpBase;
  const otherToken = token;
  const otherConn = await openHttpSession(other, otherToken);
  // Several blobs, so the round-robin over the block-stores sends them to both.
  for (let i = 0; i < 6; i++) {
    const bytes = crypto.randomBytes(64 * 1024 + i);
    const key = await upload(bytes);
    const { signedUrl } = await signedUrlFor(other, "reqGetData", {
      token: otherToken, conn: otherConn, tenant, ledger, method: "GET", store: "file", key,
    });
    const res = await fetchExplained(signedUrl, {}, "GET through the other edge");
    assert.equal(res.status, 200);
    assert.equal(sha(Buffer.from(await res.arrayBuffer())), sha(bytes));
  }
});
