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
import { spawn } from "node:child_process";
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

// Options:
//   auth            "none" (default) or "es256"
//   tokenPublicKey  for es256: the public key string (kp.strings.publicKey)
//   edgeArgs        extra flags for kiln-edge
export async function startKiln({ auth = "none", tokenPublicKey, edgeArgs = [] } = {}) {
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

  const common = ["--grpc_address=127.0.0.1:0", "--metrics_address=127.0.0.1:0"];
  let edge;
  let edgePort;
  let edgeMetricsPort;
  let edgeArgv;

  const startEdgeOn = async (port) => {
    const r = await start("edge", [...edgeArgv, `--http_address=127.0.0.1:${port}`]);
    edge = r.svc;
    edgePort = Number(r.ports.http_port);
    edgeMetricsPort = Number(r.ports.metrics_port);
    if (!edgePort) throw new Error(`edge ready file has no http_port: ${JSON.stringify(r.ports)}`);
  };

  try {
    const bs = await start("blockstore", [
      path.join(bin, "services/blockstore/kiln-blockstore"),
      `--backend=rocksdb://${path.join(dataDir, "blockstore")}`,
      ...common,
    ]);
    const md = await start("metadata", [
      path.join(bin, "services/metadata/kiln-metadata"),
      `--backend=rocksdb://${path.join(dataDir, "metadata")}`,
      `--kek_file=${kekFile}`,
      ...common,
    ]);
    const blockstoreTarget = `127.0.0.1:${bs.ports.grpc_port}`;
    const metadataTarget = `127.0.0.1:${md.ports.grpc_port}`;
    const mg = await start("merge", [
      path.join(bin, "services/merge/kiln-merge"),
      `--blockstore_target=${blockstoreTarget}`,
      `--metadata_target=${metadataTarget}`,
      ...common,
    ]);
    const edgeCmd = process.env.KILN_E2E_EDGE_CMD
      ? process.env.KILN_E2E_EDGE_CMD.split(/\s+/).filter(Boolean)
      : [path.join(bin, "services/edge/kiln-edge")];
    const authArgs = auth === "es256" ? ["--auth=es256", `--token_public_key=${tokenPublicKey}`] : ["--auth=none"];
    if (auth === "es256" && !tokenPublicKey) throw new Error("auth es256 needs tokenPublicKey");
    edgeArgv = [
      ...edgeCmd,
      "--metrics_address=127.0.0.1:0",
      `--blockstore_target=${blockstoreTarget}`,
      `--metadata_target=${metadataTarget}`,
      `--merge_target=127.0.0.1:${mg.ports.grpc_port}`,
      `--url_signing_key_file=${signingKeyFile}`,
      ...authArgs,
      ...edgeArgs,
    ];
    await startEdgeOn(0);
  } catch (e) {
    failed = true;
    await Promise.allSettled(services.map((s) => s.stop("SIGKILL")));
    e.message += `\n(data dir kept: ${dataDir})`;
    throw e;
  }

  // A service that died on its own is a failure of the test that was running.
  const crashed = () =>
    services.filter((s) => s.exit && !s.expectedExit).map((s) => `${s.name} exited unexpectedly (${JSON.stringify(s.exit)}); log ${s.logFile}:\n${tail(s.logFile)}`);

  const kiln = {
    dataDir,
    get edgePort() {
      return edgePort;
    },
    get edgeMetricsPort() {
      return edgeMetricsPort;
    },
    get httpBase() {
      return `http://127.0.0.1:${edgePort}`;
    },
    fpUrl(protocol = "ws") {
      return `fpcloud://127.0.0.1:${edgePort}?protocol=${protocol}`;
    },
    // Stops the edge; SIGKILL by default (a crash), the port stays reserved for startEdge.
    async stopEdge({ signal = "SIGKILL" } = {}) {
      await edge.stop(signal);
    },
    // Starts the edge again on the port it had.
    async startEdge() {
      if (edge && !edge.exit) throw new Error("edge is still running");
      await startEdgeOn(edgePort);
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
      if (problems.length || failed || process.env.KILN_E2E_KEEP === "1") {
        if (problems.length) throw new Error(`${problems.join("\n")}\n(data dir kept: ${dataDir})`);
        return;
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return kiln;
}
