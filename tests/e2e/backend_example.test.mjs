// tools/examples/backend-service (docs/backend-services.md) against a two-shard mesh with the
// control plane: it issues a token, lists the tenant's ledgers, and prints each new head set of a
// ledger it follows over metadata Watch while a real Fireproof client writes with that token.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { startKiln } from "./lib/kiln.mjs";
import { attachedClient, closeAll } from "./lib/clients.mjs";
import { uniqueName } from "./lib/util.mjs";

const EXAMPLE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../tools/examples/backend-service");
let kiln;
const clients = [];

before(async () => {
  assert.ok(
    fs.existsSync(path.join(EXAMPLE, "node_modules")),
    `run npm ci in ${EXAMPLE} (tools/dev test does)`,
  );
  kiln = await startKiln({ auth: "es256", control: true, replicas: 2 });
});

after(async () => {
  await closeAll(clients);
  await kiln?.stop();
});

test("the backend example issues a token, lists ledgers and prints each new head while a client writes", async () => {
  const T = "acme";
  const L = uniqueName("followed");
  const created = kiln.admin(["ledgers", "create", T, L]);
  assert.equal(created.status, 0, created.stderr);
  const example = spawn(process.execPath, [path.join(EXAMPLE, "follow.mjs"), "--tenant", T, "--ledger", L, "--events", "3"], {
    env: {
      ...process.env,
      KILN_CONTROL: kiln.control.target,
      KILN_ADMIN_TOKEN_FILE: kiln.control.adminTokenFile,
      KILN_METADATA: kiln.shards.metadata.join(","),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  example.stderr.on("data", (d) => (stderr += d));
  const lines = [];
  const waiters = [];
  readline.createInterface({ input: example.stdout }).on("line", (line) => {
    lines.push(line);
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise((resolve) => example.on("exit", (code) => resolve(code)));
  const waitLine = async (re) => {
    for (let i = 0; i < 600; i++) {
      const found = lines.find((l) => re.test(l));
      if (found) return found;
      await Promise.race([new Promise((r) => waiters.push(r)), new Promise((r) => setTimeout(r, 100))]);
    }
    throw new Error(`the example printed no line like ${re}; stdout:\n${lines.join("\n")}\nstderr:\n${stderr}`);
  };
  try {
    const token = (await waitLine(/^token /)).slice("token ".length);
    await waitLine(new RegExp(`^ledger ${L} version 0$`));
    await waitLine(/^following at version 0$/);
    const writer = await attachedClient({ fpUrl: kiln.fpUrl("ws"), token, label: "writer" });
    clients.push(writer);
    for (const id of ["a", "b", "c"]) {
      await writer.put({ _id: id });
      await writer.flush();
    }
    assert.equal(await exited, 0, `the example failed: ${stderr}`);
    const heads = lines.filter((l) => l.startsWith("head "));
    assert.equal(heads.length, 3, lines.join("\n"));
    const versions = heads.map((l) => Number(l.split(" ")[1]));
    assert.deepEqual(versions, [...versions].sort((a, b) => a - b), "versions in order");
    for (const l of heads) assert.match(l, /^head \d+ [a-z0-9]{20,}/);
  } finally {
    example.kill("SIGKILL");
  }
});
