// A backend service using Kiln over gRPC (docs/backend-services.md): it issues a session token for
// a Fireproof app, lists a tenant's ledgers, and follows one ledger's changes with the metadata
// Watch stream, printing each new head set. One line per fact on stdout:
//   token <jwt>
//   ledger <id> version <n>
//   head <version> <cid>[,<cid>...]
//
//   KILN_CONTROL=127.0.0.1:7105 KILN_ADMIN_TOKEN_FILE=.kiln-data/admin-token \
//   KILN_METADATA=127.0.0.1:7102 node follow.mjs --tenant acme --ledger notes [--events N]
//
// KILN_METADATA is the metadata shard list in shard order, as given to the edges; the ledger's
// shard is picked by Kiln's rendezvous hashing (docs/architecture.md, "Sharding"). The control
// API needs the admin token; metadata is an internal service (reach it inside the cluster).
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PROTOS = process.env.KILN_PROTOS ?? path.resolve(HERE, "../../../protos");

const { values: args } = parseArgs({
  options: {
    tenant: { type: "string" },
    ledger: { type: "string" },
    events: { type: "string", default: "0" }, // stop after this many changes; 0: run until killed
  },
});
if (!args.tenant || !args.ledger) {
  console.error("usage: node follow.mjs --tenant T --ledger L [--events N]");
  process.exit(2);
}
for (const v of ["KILN_CONTROL", "KILN_ADMIN_TOKEN_FILE", "KILN_METADATA"]) {
  if (!process.env[v]) {
    console.error(`set ${v} (see the top of this file)`);
    process.exit(2);
  }
}

function load(file) {
  const def = protoLoader.loadSync(file, { includeDirs: [PROTOS], keepCase: true, longs: String, defaults: true });
  return grpc.loadPackageDefinition(def);
}
const control = load("kiln/control/v1/control.proto").kiln.control.v1;
const metadata = load("kiln/metadata/v1/metadata.proto").kiln.metadata.v1;

// The admin credential on every control call.
const adminToken = fs.readFileSync(process.env.KILN_ADMIN_TOKEN_FILE, "utf8").trim();
const creds = () => {
  const md = new grpc.Metadata();
  md.set("authorization", `Bearer ${adminToken}`);
  md.set("x-kiln-actor", "backend-service-example");
  return md;
};
const call = (client, method, request) =>
  new Promise((resolve, reject) =>
    client[method](request, creds(), { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(err) : resolve(res))),
  );

// Kiln's shard of (tenant, ledger) among `count` shards (common/shards.h): the highest score,
// the first 8 bytes of SHA-256("kiln-shard\0" || index as 4 bytes big-endian || tenant || "\0" || ledger).
function shardFor(count, tenant, ledger) {
  let best = 0;
  let bestScore = -1n;
  for (let i = 0; i < count; i++) {
    const index = Buffer.alloc(4);
    index.writeUInt32BE(i);
    const h = crypto.createHash("sha256");
    h.update(Buffer.from("kiln-shard\0"));
    h.update(index);
    h.update(Buffer.from(`${tenant}\0${ledger}`));
    const score = h.digest().readBigUInt64BE(0);
    if (score > bestScore) [best, bestScore] = [i, score];
  }
  return best;
}

const ctl = new control.ControlService(process.env.KILN_CONTROL, grpc.credentials.createInsecure());

// 1. A token for a Fireproof app (new SimpleTokenStrategy(token)).
const issued = await call(ctl, "IssueToken", {
  user_id: "backend-example",
  tenants: [args.tenant],
  ledgers: [{ ledger: args.ledger, right: "write" }],
  valid_seconds: 3600,
});
console.log(`token ${issued.token}`);

// 2. The tenant's ledgers, every page.
let page_token = "";
do {
  const page = await call(ctl, "ListLedgers", { tenant: args.tenant, page_size: 100, page_token });
  for (const l of page.ledgers) console.log(`ledger ${l.ledger} version ${l.version}`);
  page_token = page.next_page_token;
} while (page_token);
ctl.close();

// 3. Follow the ledger on its metadata shard: a snapshot first, then every commit in order.
// A stream that ends (a restart, a cut-off) is resumed after the last version seen.
const shards = process.env.KILN_METADATA.replace(/^(dns|ipv4|ipv6):(\/\/\/)?/, "").split(",");
const target = process.env.KILN_METADATA.match(/^(dns|ipv4|ipv6):/)
  ? process.env.KILN_METADATA // one service whose replicas all serve every ledger
  : shards[shardFor(shards.length, args.tenant, args.ledger)];
const md = new metadata.MetadataService(target, grpc.credentials.createInsecure());
const wanted = Number(args.events);
let seen = 0;
let after = "0";
function follow() {
  const stream = md.Watch({ tenant: args.tenant, ledger: args.ledger, after_version: after });
  stream.on("data", (event) => {
    after = event.version;
    if (event.snapshot) {
      console.log(`following at version ${event.version}`); // print changes from here on
      return;
    }
    console.log(`head ${event.version} ${event.heads.join(",")}`);
    if (wanted > 0 && ++seen >= wanted) {
      stream.cancel();
      md.close();
      process.exit(0);
    }
  });
  stream.on("error", (err) => {
    if (err.code === grpc.status.CANCELLED) return;
    if (err.code === grpc.status.NOT_FOUND) {
      console.error(`the ledger was deleted: ${err.details}`);
      process.exit(1);
    }
    console.error(`watch ended (${err.details}); resuming after version ${after}`);
    setTimeout(follow, 1000);
  });
}
follow();
