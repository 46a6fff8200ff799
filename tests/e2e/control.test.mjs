// The control plane end to end: kiln-control beside the mesh (as tools/dev up runs it), operated
// with kiln-admin. Tokens that `kiln-admin tokens issue` prints let the unmodified Fireproof client
// sync through an edge in ES256 mode that trusts Kiln's issuer key and nothing else; ledgers are
// listed and deleted, and a deleted ledger's bound connections get an error, not silence.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import { startKiln } from "./lib/kiln.mjs";
import { attachedClient, closeAll } from "./lib/clients.mjs";
import { bindGetMetaMsg, fpRequest, openHttpSession, openMsg, rawCid, signedUrlMsg } from "./lib/protocol.mjs";
import { assertNoClientErrors, uniqueName } from "./lib/util.mjs";
import { WsConn } from "./lib/wsconn.mjs";

let kiln;
const clients = [];
const track = (c) => (clients.push(c), c);
const T = "acme";

before(async () => {
  kiln = await startKiln({ auth: "es256", control: true, edgeArgs: ["--token_clock_skew=0s"] });
});

after(async () => {
  await closeAll(clients);
  await kiln?.stop();
});

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
function signWithIssuer(claims) {
  const key = crypto.createPrivateKey(fs.readFileSync(kiln.control.issuerKeyFile));
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const input = `${enc({ alg: "ES256" })}.${enc(claims)}`;
  const sig = crypto.sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" });
  return `${input}.${sig.toString("base64url")}`;
}

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
