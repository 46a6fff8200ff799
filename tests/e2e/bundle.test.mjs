// Moving a ledger between deployments with a bundle (issue 13): a real Fireproof client writes
// documents, a file blob goes up through a signed URL, `kiln-admin ledgers export` writes the bundle
// from one deployment and `kiln-admin ledgers import` loads it into another (its own data dirs and
// processes); a fresh client there sees the same documents and the file reads back the same. A
// bundle with one byte changed is refused by `bundle verify` and by import, naming the bad part.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startKiln } from "./lib/kiln.mjs";
import { attachedClient, closeAll } from "./lib/clients.mjs";
import { openHttpSession, rawCid, signedUrlFor } from "./lib/protocol.mjs";
import { devToken } from "./lib/tokens.mjs";
import { uniqueName } from "./lib/util.mjs";

let from;
let to;
let dir;
const clients = [];
const track = (c) => (clients.push(c), c);

before(async () => {
  [from, to] = await Promise.all([startKiln({ control: true }), startKiln({ control: true })]);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "kiln-e2e-bundle-"));
});

after(async () => {
  await closeAll(clients);
  await Promise.all([from?.stop(), to?.stop()]);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function admin(kiln, args, opts) {
  const r = kiln.admin(args, opts);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

async function blob(kiln, token, tenant, ledger, method, key, body) {
  const conn = await openHttpSession(kiln.httpBase, token);
  const type = method === "PUT" ? "reqPutData" : "reqGetData";
  const { signedUrl } = await signedUrlFor(kiln.httpBase, type, { token, conn, tenant, ledger, method, store: "file", key });
  const res = await fetch(signedUrl, { method, body });
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) };
}

test("a ledger exported from one deployment and imported into another reads the same; a changed byte is refused", async () => {
  const tenant = "e2e";
  const ledger = uniqueName("moved");
  const token = await devToken(tenant, ledger);
  const writer = track(await attachedClient({ fpUrl: from.fpUrl("ws"), token, label: "writer" }));
  const ids = Array.from({ length: 120 }, (_, i) => `doc${i}`);
  for (const id of ids) await writer.put({ _id: id, n: Number(id.slice(3)) });
  await writer.flush();
  const file = crypto.randomBytes(300_000);
  const fileKey = rawCid(file);
  assert.equal((await blob(from, token, tenant, ledger, "PUT", fileKey, file)).status, 200);

  const keyFile = path.join(dir, "bundle.key");
  fs.writeFileSync(keyFile, crypto.randomBytes(32).toString("hex") + "\n", { mode: 0o600 });
  const bundle = path.join(dir, "ledger.car");
  const exported = admin(from, ["ledgers", "export", tenant, ledger, "--out", bundle, "--key-file", keyFile]);
  assert.equal(exported.status, 0, exported.out);
  const verified = admin(from, ["bundle", "verify", bundle, "--key-file", keyFile], { connect: false });
  assert.equal(verified.status, 0, verified.out);

  // One byte changed in the middle of the bundle: both the offline check and the import refuse it
  // and say which part is wrong; nothing is imported.
  const bad = path.join(dir, "ledger-bad.car");
  const bytes = fs.readFileSync(bundle);
  bytes[Math.floor(bytes.length / 2)] ^= 0x01;
  fs.writeFileSync(bad, bytes);
  const badVerify = admin(to, ["bundle", "verify", bad, "--key-file", keyFile], { connect: false });
  assert.equal(badVerify.status, 1, badVerify.out);
  assert.match(badVerify.out, /blob|log|entr|key|root|block|CAR (header|section)/i);
  const badImport = admin(to, ["ledgers", "import", bad, "--key-file", keyFile]);
  assert.notEqual(badImport.status, 0, badImport.out);
  assert.match(badImport.out, /blob|log|entr|key|root|block|CAR (header|section)/i);

  const imported = admin(to, ["ledgers", "import", bundle, "--key-file", keyFile]);
  assert.equal(imported.status, 0, imported.out);
  const again = admin(to, ["ledgers", "import", bundle, "--key-file", keyFile]);
  assert.notEqual(again.status, 0, "a second import of the same ledger must be refused");

  const reader = track(await attachedClient({ fpUrl: to.fpUrl("ws"), token, label: "reader" }));
  const docs = await reader.waitFor(ids, { timeoutMs: 60_000 });
  assert.deepEqual(
    docs.map((d) => d.n),
    ids.map((id) => Number(id.slice(3))),
  );
  assert.equal(await reader.count(), ids.length);
  const got = await blob(to, token, tenant, ledger, "GET", fileKey);
  assert.equal(got.status, 200);
  assert.ok(got.bytes.equals(file), "the file blob reads back with the same bytes");
  // The imported ledger takes new writes like any other.
  await reader.put({ _id: "after-import" });
  await reader.flush();
});
