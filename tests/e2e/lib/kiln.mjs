// Starts a complete Kiln (block-store, metadata, merge, edge) from $KILN_BUILD_DIR in a fresh
// temporary data directory, on ports chosen at run time (port 0 + --ready_file), and stops it.
//
//   const kiln = await startKiln({ auth: "es256", tokenPublicKey });
//   kiln.fpUrl("ws")        // fpcloud://127.0.0.1:<edge>?protocol=ws, for toCloud
//   kiln.httpBase           // http://127.0.0.1:<edge>, for protocol-level requests (PUT /fp)
//   await kiln.stopEdge();  // SIGKILL by default
//   await kiln.startEdge(); // the same port again
//   await kiln.stop();      // SIGTERM everything; throws if a service crashed or exited uncleanly
//
// Children are killed when the test process exits, whatever happens. Service logs go to
// <data dir>/logs/<service>.log; the data directory is removed by stop() unless KILN_E2E_KEEP=1 or
// something went wrong (its path is then in the error).
//
// Debugging only: KILN_E2E_EDGE_CMD replaces the edge executable by a command line (split on spaces)
// that takes the same flags, e.g. "node /tmp/mock-edge.mjs". The other services still come from
// $KILN_BUILD_DIR.
import { spawn, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000; // the services' --shutdown_grace is 10 s

const allChildren = new Set();
function killAllNow() {
  for (const c of allChildren) {
    try {
      c.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
}
process.on("exit", killAllNow);
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.once(sig, () => {
    killAllNow();
    process.exit(sig === "SIGINT" ? 130 : 143);
  });
}

function buildDir() {
  const dir = process.env.KILN_BUILD_DIR;
  if (!dir) throw new Error("KILN_BUILD_DIR is not set: point it at the CMake build directory (absolute path)");
  if (!path.isAbsolute(dir)) throw new Error(`KILN_BUILD_DIR must be absolute, got ${dir}`);
  return dir;
}

function tail(file, bytes = 6000) {
  try {
    const s = fs.readFileSync(file, "utf8");
    return s.slice(-bytes);
  } catch {
    return "(no log)";
  }
}

// One service process. `args` must include --ready_file=<readyFile>.
class Service {
  constructor(name, argv, logFile) {
    this.name = name;
    this.logFile = logFile;
    const fd = fs.openSync(logFile, "a");
    this.child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", fd, fd] });
    fs.closeSync(fd);
    allChildren.add(this.child);
    this.expectedExit = false;
    this.exit = null;
    this.exited = new Promise((resolve) => {
      this.child.on("exit", (code, signal) => {
        allChildren.delete(this.child);
        this.exit = { code, signal };
        resolve(this.exit);
      });
      // Not startable (no such file...): there will be no "exit".
      this.child.on("error", (err) => {
        this.spawnError = err;
        if (this.exit) return;
        allChildren.delete(this.child);
        this.exit = { code: null, signal: null, error: err.message };
        resolve(this.exit);
      });
    });
  }

  // Waits until readyFile holds a final `ready` line and returns its key=value pairs.
  async waitReady(readyFile) {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (this.spawnError) throw new Error(`${this.name}: cannot start ${this.child.spawnfile}: ${this.spawnError.message}`);
      if (this.exit) {
        throw new Error(
          `${this.name} exited before it was ready (${JSON.stringify(this.exit)}); log ${this.logFile}:\n${tail(this.logFile)}`,
        );
      }
      let text = "";
      try {
        text = fs.readFileSync(readyFile, "utf8");
      } catch {
        // not written yet
      }
      const lines = text.split("\n").map((l) => l.trim());
      if (lines.includes("ready")) {
        const kv = {};
        for (const l of lines) {
          const m = /^([a-z_]+)=(.*)$/.exec(l);
          if (m) kv[m[1]] = m[2];
        }
        return kv;
      }
      if (Date.now() > deadline) {
        throw new Error(`${this.name} not ready after ${READY_TIMEOUT_MS} ms; log ${this.logFile}:\n${tail(this.logFile)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(signal = "SIGTERM") {
    this.expectedExit = true;
    if (this.exit) return this.exit;
    this.child.kill(signal);
    let timer;
    const res = await Promise.race([
      this.exited,
      new Promise((resolve) => {
        timer = setTimeout(() => resolve(null), STOP_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (res === null) {
      this.child.kill("SIGKILL");
      await this.exited;
      throw new Error(`${this.name} did not stop within ${STOP_TIMEOUT_MS} ms of ${signal}; log ${this.logFile}:\n${tail(this.logFile)}`);
    }
    return res;
  }
}

// Sum of a metric's samples whose labels include every `labels` pair, from one metrics endpoint.
export async function metricSum(port, name, labels = {}) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const ls = m[2] ?? "";
    if (Object.entries(labels).every(([k, v]) => ls.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

// KILN_E2E_BLOBS=s3: the block-stores keep blobs on a fresh s3rver (the pinned test server in
// tests/support/s3rver, npm-installed by tools/dev) and the edges hand out presigned URLs straight
// to it; s3-proxied: the same with --direct_blob_urls=false (blobs through the edge's /blob path).
// With replicas, the block-stores share the bucket with no shard list and every edge and merge
// balances over all of them (an ipv4: target), as tools/dev up --replicas N --blobs s3 runs them.
// startKiln's `blobs` option overrides it for one deployment.
const BLOBS = process.env.KILN_E2E_BLOBS || "rocksdb";

function s3rverScript() {
  const dir = process.env.KILN_S3RVER_DIR || path.join(path.dirname(new URL(import.meta.url).pathname), "../../support/s3rver");
  return path.join(dir, "node_modules/s3rver/bin/s3rver.js");
}

async function startS3rver(dataDir, logDir) {
  const script = s3rverScript();
  if (!fs.existsSync(script)) throw new Error(`blobs on S3 need s3rver: run npm ci in tests/support/s3rver (${script} is missing)`);
  const logFile = path.join(logDir, "s3rver.log");
  const fd = fs.openSync(logFile, "a");
  fs.mkdirSync(path.join(dataDir, "s3"));
  const child = spawn(process.execPath, ["--openssl-legacy-provider", script, "--silent", "--address", "127.0.0.1", "--port", "0",
    "--directory", path.join(dataDir, "s3"), "--configure-bucket", "kiln"], { stdio: ["ignore", fd, fd] });
  fs.closeSync(fd);
  allChildren.add(child);
  child.on("exit", () => allChildren.delete(child));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const m = /S3rver listening on 127\.0\.0\.1:(\d+)/.exec(tail(logFile));
    if (m) return { child, port: Number(m[1]) };
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`s3rver did not start; log ${logFile}:\n${tail(logFile)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// KILN_E2E_METADATA=postgres: metadata keeps every ledger in one fresh PostgreSQL database (Debian's
// server, run as nobody when we are root since it refuses root, on a Unix socket only) served by two
// metadata replicas with no shard list; edges and merges balance over both, as with
// tools/dev up --metadata=postgres.
const METADATA = process.env.KILN_E2E_METADATA || "rocksdb";

// The newest PostgreSQL server's bin directory, or "" when none is installed.
function findPgBinDir() {
  const root = "/usr/lib/postgresql";
  const versions = fs.existsSync(root) ? fs.readdirSync(root).sort((a, b) => Number(a) - Number(b)) : [];
  const bin = versions.length ? path.join(root, versions[versions.length - 1], "bin") : "";
  return bin && fs.existsSync(path.join(bin, "postgres")) ? bin : "";
}

function pgBinDir() {
  const bin = findPgBinDir();
  if (!bin) {
    throw new Error("metadata on PostgreSQL needs the PostgreSQL server (Debian package postgresql; tools/dev installs it)");
  }
  return bin;
}

// Why a deployment with metadata on PostgreSQL or blobs on s3rver cannot start here ("" when it
// can): for tests that skip with that message where the server is genuinely absent. tools/dev
// installs both.
export function missingServers({ metadata = "rocksdb", blobs = "rocksdb" } = {}) {
  const missing = [];
  if (metadata === "postgres" && !findPgBinDir()) {
    missing.push("the PostgreSQL server (Debian package postgresql) is not installed");
  }
  if (blobs !== "rocksdb" && !fs.existsSync(s3rverScript())) {
    missing.push("s3rver is not installed (npm ci in tests/support/s3rver)");
  }
  return missing.join("; ");
}

async function startPostgres(logDir) {
  const bin = pgBinDir();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kiln-e2e-pg-"));
  const asUser = process.getuid() === 0 ? ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"] : [];
  if (asUser.length) fs.chownSync(dir, 65534, 65534);
  const data = path.join(dir, "data");
  const run = (argv) => spawnSync(argv[0], argv.slice(1), { encoding: "utf8" });
  const init = run([...asUser, path.join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "kiln", "-E", "UTF8"]);
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const logFile = path.join(logDir, "postgres.log");
  const fd = fs.openSync(logFile, "a");
  const argv = [...asUser, path.join(bin, "postgres"), "-D", data, "-k", dir, "-c", "listen_addresses=", "-c", "fsync=on"];
  const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", fd, fd] });
  fs.closeSync(fd);
  allChildren.add(child);
  child.on("exit", () => allChildren.delete(child));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const r = run([path.join(bin, "createdb"), "-h", dir, "-U", "kiln", "kiln"]);
    if (r.status === 0) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`PostgreSQL did not start; log ${logFile}:\n${tail(logFile)}\n${r.stderr}`);
    await new Promise((res) => setTimeout(res, 100));
  }
  return {
    url: `postgres://kiln@/kiln?host=${dir}`,
    // Runs one SQL statement with psql on the kiln database; its unaligned output, trimmed.
    query(sql) {
      const r = run([path.join(bin, "psql"), "-h", dir, "-U", "kiln", "-d", "kiln", "-v", "ON_ERROR_STOP=1", "-tAc", sql]);
      if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
      return r.stdout.trim();
    },
    // Fast shutdown, then the cluster's directory goes.
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((res) => child.once("exit", res));
        child.kill("SIGINT");
        await Promise.race([exited, new Promise((res) => setTimeout(res, STOP_TIMEOUT_MS))]);
      }
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    },
  };
}

// Options:
//   auth            "none" (default) or "es256"
//   tokenPublicKey  for es256: the public key string (kp.strings.publicKey)
//   edgeArgs        extra flags for kiln-edge
//   replicas        how many of each service (default 1): metadata and block-store shards, merge
//                   and edge replicas, wired as tools/dev up --replicas and the k8s manifests do
//   control         also start kiln-control with an admin token and an issuer key (as tools/dev up
//                   does); with auth "es256" and no tokenPublicKey the edges trust that issuer key.
//                   kiln.admin(args) then runs kiln-admin against it.
//   blobs           "rocksdb", "s3" or "s3-proxied" (default: KILN_E2E_BLOBS, see above)
//   metadata        "rocksdb" or "postgres" (default: KILN_E2E_METADATA, see above)
//   sync            false starts the RocksDB stores with ?sync=false (no fsync per write; for
//                   benchmarks that measure what the fsync costs, never for tests of durability)
export async function startKiln({
  auth = "none",
  tokenPublicKey,
  edgeArgs = [],
  replicas = 1,
  control = false,
  blobs = BLOBS,
  metadata = METADATA,
  sync = true,
} = {}) {
  const bin = buildDir();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "kiln-e2e-"));
  const logDir = path.join(dataDir, "logs");
  fs.mkdirSync(logDir);
  const services = [];
  let failed = false;
  let readySeq = 0;

  const start = async (name, argv) => {
    const readyFile = path.join(dataDir, `${name}.ready.${++readySeq}`);
    const svc = new Service(name, [...argv, `--ready_file=${readyFile}`], path.join(logDir, `${name}.log`));
    services.push(svc);
    const ports = await svc.waitReady(readyFile);
    return { svc, ports };
  };

  const kekFile = path.join(dataDir, "kek");
  fs.writeFileSync(kekFile, crypto.randomBytes(32).toString("hex") + "\n", { mode: 0o600 });
  const signingKeyFile = path.join(dataDir, "url-signing-key");
  fs.writeFileSync(signingKeyFile, crypto.randomBytes(32).toString("hex") + "\n", { mode: 0o600 });

  // The control plane's credential and issuer key, made as tools/dev up makes them.
  const adminTokenFile = path.join(dataDir, "admin-token");
  const issuerKeyFile = path.join(dataDir, "issuer-key.pem");
  const issuerPubFile = path.join(dataDir, "issuer-key.pub.pem");
  if (control) {
    fs.writeFileSync(adminTokenFile, crypto.randomBytes(32).toString("hex") + "\n", { mode: 0o600 });
    const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    fs.writeFileSync(issuerKeyFile, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    fs.writeFileSync(issuerPubFile, publicKey.export({ type: "spki", format: "pem" }));
    if (auth === "es256" && !tokenPublicKey) tokenPublicKey = `@${issuerPubFile}`;
  }
  let controlTarget = "";
  let controlPeers = []; // kiln-control's --metadata_target and --blockstore_target
  let extraControls = 0;

  const common = ["--grpc_address=127.0.0.1:0", "--metrics_address=127.0.0.1:0"];
  // edges[i]: { svc, argv, port, metricsPort }
  const edges = [];
  // Every service's metrics endpoint, for scraping: { job, instance, port }.
  const metrics = [];
  const shards = { metadata: [], blockstore: [] };
  const suffix = (i) => (replicas > 1 ? `-${i}` : "");

  const startEdge = async (i, port) => {
    const e = edges[i];
    const r = await start(`edge${suffix(i)}`, [...e.argv, `--http_address=127.0.0.1:${port}`]);
    e.svc = r.svc;
    e.port = Number(r.ports.http_port);
    e.metricsPort = Number(r.ports.metrics_port);
    if (!e.port) throw new Error(`edge ready file has no http_port: ${JSON.stringify(r.ports)}`);
    const m = metrics.find((x) => x.instance === `edge${suffix(i)}`);
    if (m) m.port = e.metricsPort;
    else metrics.push({ job: "kiln-edge", instance: `edge${suffix(i)}`, port: e.metricsPort });
  };

  let s3rver = null;
  let s3Url = "";
  let postgres = null;
  try {
    if (metadata === "postgres") postgres = await startPostgres(logDir);
    if (blobs !== "rocksdb") {
      s3rver = await startS3rver(dataDir, logDir);
      process.env.AWS_ACCESS_KEY_ID = "S3RVER";
      process.env.AWS_SECRET_ACCESS_KEY = "S3RVER";
      s3Url = `s3://kiln/blobs?endpoint=http://127.0.0.1:${s3rver.port}&path_style=true&unverified_objects=serve`;
    }
    for (let i = 0; i < replicas; i++) {
      const bs = await start(`blockstore${suffix(i)}`, [
        path.join(bin, "services/blockstore/kiln-blockstore"),
        ...(s3Url
          ? [`--backend=${s3Url}`]
          : [
              `--backend=rocksdb://${path.join(dataDir, `blockstore${suffix(i)}`)}${sync ? "" : "?sync=false"}`,
              `--shard_index=${i}`,
              `--shard_count=${replicas > 1 ? replicas : 0}`,
            ]),
        ...common,
      ]);
      shards.blockstore.push(`127.0.0.1:${bs.ports.grpc_port}`);
      metrics.push({ job: "kiln-blockstore", instance: `blockstore${suffix(i)}`, port: Number(bs.ports.metrics_port) });
      if (postgres) continue; // the metadata replicas are started below
      const md = await start(`metadata${suffix(i)}`, [
        path.join(bin, "services/metadata/kiln-metadata"),
        `--backend=rocksdb://${path.join(dataDir, `metadata${suffix(i)}`)}${sync ? "" : "?sync=false"}`,
        `--kek_file=${kekFile}`,
        `--shard_index=${i}`,
        `--shard_count=${replicas > 1 ? replicas : 0}`,
        ...common,
      ]);
      shards.metadata.push(`127.0.0.1:${md.ports.grpc_port}`);
      metrics.push({ job: "kiln-metadata", instance: `metadata${suffix(i)}`, port: Number(md.ports.metrics_port) });
    }
    // On PostgreSQL: two metadata replicas (more with more replicas) on the one database, no shards.
    for (let i = 0; postgres && i < Math.max(2, replicas); i++) {
      const md = await start(`metadata-${i}`, [
        path.join(bin, "services/metadata/kiln-metadata"),
        `--backend=${postgres.url}`,
        `--kek_file=${kekFile}`,
        ...common,
      ]);
      shards.metadata.push(`127.0.0.1:${md.ports.grpc_port}`);
      metrics.push({ job: "kiln-metadata", instance: `metadata-${i}`, port: Number(md.ports.metrics_port) });
    }
    const blockstoreTarget =
      s3Url && replicas > 1 ? `ipv4:${shards.blockstore.join(",")}` : shards.blockstore.join(",");
    const metadataTarget = postgres ? `ipv4:${shards.metadata.join(",")}` : shards.metadata.join(",");
    const merges = [];
    for (let i = 0; i < replicas; i++) {
      const mg = await start(`merge${suffix(i)}`, [
        path.join(bin, "services/merge/kiln-merge"),
        `--blockstore_target=${blockstoreTarget}`,
        `--metadata_target=${metadataTarget}`,
        ...common,
      ]);
      merges.push(`127.0.0.1:${mg.ports.grpc_port}`);
      metrics.push({ job: "kiln-merge", instance: `merge${suffix(i)}`, port: Number(mg.ports.metrics_port) });
    }
    const edgeCmd = process.env.KILN_E2E_EDGE_CMD
      ? process.env.KILN_E2E_EDGE_CMD.split(/\s+/).filter(Boolean)
      : [path.join(bin, "services/edge/kiln-edge")];
    const authArgs = auth === "es256" ? ["--auth=es256", `--token_public_key=${tokenPublicKey}`] : ["--auth=none"];
    if (auth === "es256" && !tokenPublicKey) throw new Error("auth es256 needs tokenPublicKey");
    for (let i = 0; i < replicas; i++) {
      edges.push({
        argv: [
          ...edgeCmd,
          "--metrics_address=127.0.0.1:0",
          `--blockstore_target=${blockstoreTarget}`,
          `--metadata_target=${metadataTarget}`,
          // Every edge balances over every merge replica, as with the headless Service in k8s.
          replicas > 1 ? `--merge_target=ipv4:${merges.join(",")}` : `--merge_target=${merges[0]}`,
          `--url_signing_key_file=${signingKeyFile}`,
          ...authArgs,
          ...(s3Url ? [`--s3_blob_url=${s3Url}`] : []),
          ...(blobs === "s3-proxied" ? ["--direct_blob_urls=false"] : []),
          ...edgeArgs,
        ],
      });
      await startEdge(i, 0);
    }
    controlPeers = [`--metadata_target=${metadataTarget}`, `--blockstore_target=${s3Url ? shards.blockstore[0] : blockstoreTarget}`];
    if (control) {
      const c = await start("control", [
        path.join(bin, "services/control/kiln-control"),
        ...controlPeers,
        `--admin_token_file=${adminTokenFile}`,
        `--issuer_key_file=${issuerKeyFile}`,
        `--audit_log=${path.join(dataDir, "audit.jsonl")}`,
        ...common,
      ]);
      controlTarget = `127.0.0.1:${c.ports.grpc_port}`;
      metrics.push({ job: "kiln-control", instance: "control", port: Number(c.ports.metrics_port) });
    }
  } catch (e) {
    failed = true;
    await Promise.allSettled(services.map((s) => s.stop("SIGKILL")));
    s3rver?.child.kill("SIGKILL");
    await postgres?.stop();
    e.message += `\n(data dir kept: ${dataDir})`;
    throw e;
  }

  // A service that died on its own is a failure of the test that was running.
  const crashed = () =>
    services.filter((s) => s.exit && !s.expectedExit).map((s) => `${s.name} exited unexpectedly (${JSON.stringify(s.exit)}); log ${s.logFile}:\n${tail(s.logFile)}`);

  const edgeView = (i) => ({
    get port() {
      return edges[i].port;
    },
    get httpBase() {
      return `http://127.0.0.1:${edges[i].port}`;
    },
    fpUrl(protocol = "ws") {
      return `fpcloud://127.0.0.1:${edges[i].port}?protocol=${protocol}`;
    },
  });

  const kiln = {
    dataDir,
    replicas,
    // Where blobs live (KILN_E2E_BLOBS: rocksdb, s3 or s3-proxied); with direct URLs, clients are
    // handed presigned URLs to s3Endpoint instead of the edge's /blob path.
    blobs,
    directBlobUrls: blobs === "s3",
    // s3rver's endpoint (bucket "kiln", objects under "blobs/"), or null.
    s3Endpoint: s3rver ? `http://127.0.0.1:${s3rver.port}` : null,
    // With metadata on PostgreSQL: {url, query(sql)} (psql on the kiln database), else null.
    postgres: postgres ? { url: postgres.url, query: (sql) => postgres.query(sql) } : null,
    // Per-edge views ({port, httpBase, fpUrl(protocol)}); the getters below are edge 0's.
    edges: edges.map((_, i) => edgeView(i)),
    // Every service's metrics endpoint: [{job, instance, port}].
    metrics,
    // The shard lists given to edge and merge (gRPC targets in shard order).
    shards,
    get edgePort() {
      return edges[0].port;
    },
    get edgeMetricsPort() {
      return edges[0].metricsPort;
    },
    // The process id of edge 0 (to read its memory use).
    get edgePid() {
      return edges[0].svc.child.pid;
    },
    get httpBase() {
      return `http://127.0.0.1:${edges[0].port}`;
    },
    fpUrl(protocol = "ws") {
      return `fpcloud://127.0.0.1:${edges[0].port}?protocol=${protocol}`;
    },
    // Stops edge `i` (default 0); SIGKILL by default (a crash), the port stays reserved for startEdge.
    async stopEdge({ signal = "SIGKILL", edge = 0 } = {}) {
      await edges[edge].svc.stop(signal);
    },
    // Starts edge `i` (default 0) again on the port it had.
    async startEdge({ edge = 0 } = {}) {
      const e = edges[edge];
      if (e.svc && !e.svc.exit) throw new Error("edge is still running");
      await startEdge(edge, e.port);
    },
    // kiln-control's address and admin token file (with control: true).
    control: { get target() { return controlTarget; }, adminTokenFile, issuerKeyFile, issuerPubFile },
    // Starts one more kiln-control on this mesh with `args` (its credential and TLS flags; no
    // issuer key, audit log in memory) and returns its gRPC target. stop() stops it.
    async startControl(args) {
      const c = await start(`control-${++extraControls}`, [path.join(bin, "services/control/kiln-control"), ...controlPeers, ...args, ...common]);
      return `127.0.0.1:${c.ports.grpc_port}`;
    },
    // Runs kiln-admin with `args` against this deployment's kiln-control; {status, stdout, stderr}.
    admin(args, { connect = true } = {}) {
      const argv = [...args, ...(connect ? [`--target=${controlTarget}`, `--admin_token_file=${adminTokenFile}`] : [])];
      const r = spawnSync(path.join(bin, "services/admin/kiln-admin"), argv, { encoding: "utf8", timeout: 60_000 });
      return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
    },
    // Throws if a service died unexpectedly so far.
    assertHealthy() {
      const c = crashed();
      if (c.length) throw new Error(c.join("\n"));
    },
    // SIGTERM every service, edge first; throws if one crashed earlier, did not exit with code 0, or
    // did not stop in time.
    async stop() {
      const problems = crashed();
      for (const s of [...services].reverse()) {
        if (s.exit) continue;
        try {
          const res = await s.stop("SIGTERM");
          if (res.code !== 0) {
            problems.push(`${s.name} exited with ${JSON.stringify(res)} after SIGTERM; log ${s.logFile}:\n${tail(s.logFile)}`);
          }
        } catch (e) {
          problems.push(e.message);
        }
      }
      s3rver?.child.kill("SIGKILL");
      await postgres?.stop();
      if (problems.length || failed || process.env.KILN_E2E_KEEP === "1") {
        if (problems.length) throw new Error(`${problems.join("\n")}\n(data dir kept: ${dataDir})`);
        return;
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return kiln;
}
