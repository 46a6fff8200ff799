// The control plane end to end: kiln-control beside the mesh (as tools/dev up runs it), operated
// with kiln-admin. Tokens that `kiln-admin tokens issue` prints let the unmodified Fireproof client
// sync through an edge in ES256 mode that trusts Kiln's issuer key and nothing else; ledgers are
// listed and deleted, and a deleted ledger's bound connections get an error, not silence.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startKiln } from "./lib/kiln.mjs";
import { attachedClient, closeAll } from "./lib/clients.mjs";
import { bindGetMetaMsg, fpRequest, openHttpSession, openMsg, rawCid, signedUrlMsg } from "./lib/protocol.mjs";
import { assertNoClientErrors, uniqueName } from "./lib/util.mjs";
import { WsConn } from "./lib/wsconn.mjs";

let kiln;
const clients = [];
const track = (c) => (clients.push(c), c);
const T = "acme";

// An external issuer (an identity provider, Fireproof's dashboard) publishing its keys at a JWKS URL
// that this test controls: `external.keys` is what it serves, `external.fail` makes it answer 500.
const external = { keys: [], fail: false, server: null, url: "" };
const externalKey = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });

before(async () => {
  external.keys = [{ ...externalKey.publicKey.export({ format: "jwk" }), alg: "ES256", use: "sig", kid: "ext-1" }];
  external.server = http.createServer((req, res) => {
    if (external.fail) {
      res.writeHead(500).end("down");
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: external.keys }));
  });
  await new Promise((r) => external.server.listen(0, "127.0.0.1", r));
  external.url = `http://127.0.0.1:${external.server.address().port}/jwks.json`;
  kiln = await startKiln({
    auth: "es256",
    control: true,
    edgeArgs: ["--token_clock_skew=0s", `--token_jwks_url=${external.url}`, "--token_jwks_refresh=200ms"],
  });
});

after(async () => {
  await closeAll(clients);
  await kiln?.stop();
  external.server?.close();
});

async function edgeMetric(name) {
  const text = await (await fetch(`http://127.0.0.1:${kiln.edgeMetricsPort}/metrics`)).text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text);
  return Number(m?.[1] ?? 0);
}

// Waits (bounded) until the edge has fetched the external key set `n` more times with `result`.
async function fetchesAfter(name, before, n = 2) {
  for (let i = 0; (await edgeMetric(name)) < before + n; i++) {
    assert.ok(i < 400, `${name} did not reach ${before + n}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// kiln-admin's stdout; fails the test on a non-zero exit.
function admin(args) {
  const r = kiln.admin(args);
  assert.equal(r.status, 0, `kiln-admin ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

function issue(ledger, right, valid = "1h") {
  const out = admin(["tokens", "issue", "--tenant", T, "--ledger", ledger, "--right", right, "--valid", valid]);
  assert.match(out, /^[\w-]+\.[\w-]+\.[\w-]+\n$/, "tokens issue must print the token alone");
  return out.trim();
}

// A token signed with Kiln's issuer key by hand, for claims kiln-admin refuses to mint (expired).
function signWithIssuer(claims, key = crypto.createPrivateKey(fs.readFileSync(kiln.control.issuerKeyFile)), header = { alg: "ES256" }) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const input = `${enc(header)}.${enc(claims)}`;
  const sig = crypto.sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" });
  return `${input}.${sig.toString("base64url")}`;
}

function claimsFor(ledger, { expSeconds = 3600 } = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    userId: "ext-user", email: "ext@example.com", created: new Date().toISOString(),
    tenants: [{ id: T, role: "member" }], ledgers: [{ id: ledger, role: "member", right: "write" }],
    selected: { tenant: T, ledger }, iat: now, exp: now + expSeconds,
  };
}

test("the edge publishes Kiln's issuer key at /.well-known/jwks.json", async () => {
  const served = await (await fetch(`${kiln.httpBase}/.well-known/jwks.json`)).json();
  const fromAdmin = JSON.parse(admin(["keys", "show"]));
  assert.equal(served.keys.length, 1);
  assert.equal(served.keys[0].kid, fromAdmin.keys[0].kid);
  assert.equal(served.keys[0].x, fromAdmin.keys[0].x);
  assert.equal(served.keys[0].kty, "EC");
  assert.equal(served.keys[0].d, undefined);
  assert.match(admin(["keys", "show", "--pem"]), /^-----BEGIN PUBLIC KEY-----/);
});

test("a token from an external issuer's JWKS is accepted, and refused once its key leaves the set", async () => {
  const L = uniqueName("ext");
  const token = signWithIssuer(claimsFor(L), externalKey.privateKey, { alg: "ES256", kid: "ext-1" });
  const writer = track(await attachedClient({ fpUrl: kiln.fpUrl("ws"), token, label: "external" }));
  await writer.put({ _id: "ext-doc" });
  await writer.flush();
  await assertNoClientErrors(writer);

  const conn = await openHttpSession(kiln.httpBase, issue(L, "read"));
  const probe = () => signedUrlMsg("reqGetData", { token, conn, tenant: T, ledger: L, method: "GET", store: "car", key: rawCid(Buffer.from("p")) });
  assert.equal((await fpRequest(kiln.httpBase, probe())).body?.type, "resGetData");

  // The issuer is down: fetches fail, are counted, and the last good set is kept.
  const failures = await edgeMetric("kiln_edge_jwks_fetch_failures_total");
  external.fail = true;
  await fetchesAfter("kiln_edge_jwks_fetch_failures_total", failures);
  assert.equal((await fpRequest(kiln.httpBase, probe())).body?.type, "resGetData", "the last good key set was dropped");

  // The issuer rotates the key out: after the next fetch its tokens are refused.
  external.fail = false;
  external.keys = [{ ...crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey.export({ format: "jwk" }), kid: "ext-2" }];
  const ok = await edgeMetric("kiln_edge_jwks_fetches_total");
  await fetchesAfter("kiln_edge_jwks_fetches_total", ok);
  const refused = await fpRequest(kiln.httpBase, probe());
  assert.equal(refused.body?.type, "error");
});

test("a token from kiln-admin lets the real client sync; a read-only one reads and cannot write", async () => {
  const L = uniqueName("notes");
  const writer = track(await attachedClient({ fpUrl: kiln.fpUrl("ws"), token: issue(L, "write"), label: "writer" }));
  await writer.put({ _id: "w1", text: "hello" });
  await writer.flush();
  await assertNoClientErrors(writer);

  const reader = track(await attachedClient({ fpUrl: kiln.fpUrl("ws"), token: issue(L, "read"), label: "reader" }));
  const [doc] = await reader.waitFor(["w1"]);
  assert.equal(doc.text, "hello");
  await reader.put({ _id: "from-reader" });
  await reader.flush();
  assert.ok((await reader.errors()).length > 0, "the read-only client's upload should have been refused");
  // A fresh writer sees the writer's document and never the reader's.
  const check = track(await attachedClient({ fpUrl: kiln.fpUrl("ws"), token: issue(L, "write"), label: "check" }));
  await check.waitFor(["w1"]);
  assert.equal((await check.get("from-reader")).ok, false, "a read-only token's write reached the server");

  // The ledger is listed, with its commits.
  const listed = JSON.parse(admin(["ledgers", "list", T, "--json"]));
  const mine = listed.ledgers.find((l) => l.ledger === L);
  assert.ok(mine, `ledgers list ${T} does not show ${L}: ${JSON.stringify(listed)}`);
  assert.ok(Number(mine.version) >= 1);
  assert.ok(admin(["tenants", "list"]).split("\n").includes(T));
});

test("an expired token and a token from another key are refused", async () => {
  const L = uniqueName("expired");
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    userId: "u", email: "u@example.com", created: new Date().toISOString(),
    tenants: [{ id: T, role: "member" }], ledgers: [{ id: L, role: "member", right: "write" }],
    selected: { tenant: T, ledger: L }, iat: now - 7200, exp: now - 3600,
  };
  const valid = issue(L, "write");
  const conn = await openHttpSession(kiln.httpBase, valid);
  const key = rawCid(Buffer.from("probe"));
  const ok = signedUrlMsg("reqGetData", { token: valid, conn, tenant: T, ledger: L, method: "GET", store: "car", key });
  assert.equal((await fpRequest(kiln.httpBase, ok)).body?.type, "resGetData");
  const expired = signedUrlMsg("reqGetData", { token: signWithIssuer(claims), conn, tenant: T, ledger: L, method: "GET", store: "car", key });
  const r = await fpRequest(kiln.httpBase, expired);
  assert.equal(r.body?.type, "error");
  assert.match(r.body.message, /expired/);
  // A key Kiln does not hold: same claims, valid times, refused.
  const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const input = `${enc({ alg: "ES256" })}.${enc({ ...claims, iat: now, exp: now + 3600 })}`;
  const forged = `${input}.${crypto.sign("sha256", Buffer.from(input), { key: privateKey, dsaEncoding: "ieee-p1363" }).toString("base64url")}`;
  const f = signedUrlMsg("reqGetData", { token: forged, conn, tenant: T, ledger: L, method: "GET", store: "car", key });
  assert.equal((await fpRequest(kiln.httpBase, f)).body?.type, "error");
});

test("ledgers delete removes the ledger, tells its bound connections, and is idempotent and audited", async () => {
  const L = uniqueName("doomed");
  const token = issue(L, "write");
  const writer = track(await attachedClient({ fpUrl: kiln.fpUrl("ws"), token, label: "doomed-writer" }));
  await writer.put({ _id: "d1" });
  await writer.flush();

  const ws = await WsConn.open(kiln.httpBase);
  try {
    ws.send(openMsg(token, { reqId: "doomed-reader" }));
    const { conn } = await ws.next((m) => m.type === "resOpen");
    const bind = bindGetMetaMsg({ token, conn, tenant: T, ledger: L });
    ws.send(bind);
    await ws.next((m) => m.type === "eventGetMeta" && m.tid === bind.tid);

    const out = admin(["ledgers", "delete", T, L]);
    assert.match(out, new RegExp(`^deleted ${T}/${L} \\(version \\d+, \\d+ blobs\\)`));
    const error = await ws.next((m) => m.type === "error");
    assert.match(error.message, /was deleted/);
    assert.equal(error.tid, bind.tid);
    assert.deepEqual(error.conn, conn, "the error must carry the connection's conn to end its bind");
  } finally {
    ws.close();
  }
  const get = kiln.admin(["ledgers", "get", T, L]);
  assert.equal(get.status, 1);
  assert.match(get.stderr, /NOT_FOUND/);
  assert.match(admin(["ledgers", "delete", T, L]), /did not exist; nothing deleted/);
  const audit = JSON.parse(admin(["audit", "list", "--json"])).events.filter((e) => e.ledger === L);
  assert.deepEqual(audit.map((e) => [e.action, e.outcome]), [
    ["token.issue", "ok"],
    ["ledger.delete", "ok"],
    ["ledger.delete", "ok"],
  ]);
  assert.match(audit[1].actor, /kiln-admin/);
});

test("kiln-admin refuses without the admin credential and explains each command", () => {
  const wrong = `${kiln.dataDir}/wrong-token`;
  fs.writeFileSync(wrong, "0123456789abcdef0123456789abcdef\n");
  const r = kiln.admin(["ledgers", "list", T, `--target=${kiln.control.target}`, `--admin_token_file=${wrong}`], { connect: false });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /UNAUTHENTICATED/);
  const none = kiln.admin(["ledgers", "list", T], { connect: false });
  assert.equal(none.status, 2);
  assert.match(none.stderr, /--target|--data-dir/);
  for (const cmd of [["tenants", "list"], ["ledgers", "list"], ["ledgers", "get"], ["ledgers", "create"], ["ledgers", "delete"],
    ["tokens", "issue"], ["keys", "show"], ["audit", "list"], ["checkpoint"]]) {
    const h = kiln.admin([...cmd, "--help"], { connect: false });
    assert.equal(h.status, 0, `${cmd.join(" ")} --help: ${h.stderr}`);
    assert.match(h.stdout, new RegExp(`^usage: kiln-admin ${cmd.join(" ")}`));
  }
  assert.equal(kiln.admin(["tokens", "issue", "--tenant", T, "--ledger", "x", "--right", "admin"]).status, 2);
  assert.equal(kiln.admin(["ledgers", "frobnicate"]).status, 2);
});

test("kiln-control with mutual TLS serves kiln-admin with a client certificate from its CA and refuses others", async () => {
  // A CA, server and client certificates, and another CA with its own client, made now.
  const pki = fs.mkdtempSync(path.join(os.tmpdir(), "kiln-e2e-pki-"));
  try {
    const script = fileURLToPath(new URL("../support/make_test_pki.sh", import.meta.url));
    const made = spawnSync(script, [pki], { encoding: "utf8" });
    assert.equal(made.status, 0, made.stderr);
    const f = (name) => path.join(pki, name);
    const target = await kiln.startControl([
      `--tls_cert_file=${f("server.pem")}`,
      `--tls_key_file=${f("server.key")}`,
      `--tls_client_ca_file=${f("ca.pem")}`,
    ]);
    const list = (...args) => kiln.admin(["tenants", "list", "--target", target, ...args], { connect: false });
    const served = list("--tls-ca-file", f("ca.pem"), "--tls-cert-file", f("client.pem"), "--tls-key-file", f("client.key"));
    assert.equal(served.status, 0, served.stderr);
    // No client certificate (the admin token does not help), one from another CA, or no TLS at
    // all: the handshake refuses them and kiln-admin says so.
    const token = ["--admin_token_file", kiln.control.adminTokenFile];
    for (const refused of [
      list("--tls-ca-file", f("ca.pem"), ...token),
      list("--tls-ca-file", f("ca.pem"), "--tls-cert-file", f("other-client.pem"), "--tls-key-file", f("other-client.key")),
      list(...token),
    ]) {
      assert.equal(refused.status, 1, refused.stderr);
      assert.match(refused.stderr, /UNAVAILABLE/);
    }
    // A key that is not the certificate's is a usage error naming the problem.
    const mismatched = list("--tls-ca-file", f("ca.pem"), "--tls-cert-file", f("client.pem"), "--tls-key-file", f("other-client.key"));
    assert.equal(mismatched.status, 2);
    assert.match(mismatched.stderr, /private key does not belong to its certificate/);
  } finally {
    fs.rmSync(pki, { recursive: true, force: true });
  }
});
