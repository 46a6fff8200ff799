// The mesh under test: `tools/dev up` (which restarts a service that exits, with backoff) on a
// data directory of our choosing, and signals sent to its services by the pids it records in
// <data-dir>/<name>.pid. Ports are tools/dev's fixed loopback ports (edges 8787+i, metadata
// 7102+100i), so only one mesh can run at a time on a machine.
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { sleep, until } from "./util.mjs";

export function serviceNames(replicas) {
  const kinds = ["blockstore", "metadata", "merge", "edge"];
  if (replicas === 1) return kinds;
  return kinds.flatMap((k) => Array.from({ length: replicas }, (_, i) => `${k}-${i}`));
}

function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });
}

async function healthy(port) {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) });
    return r.status === 200;
  } catch {
    return false;
  }
}

// Meshes still running when this process exits (an error, the overall time limit) are told to
// stop: tools/dev stops its services on SIGTERM.
const running = new Set();
function stopRunning() {
  for (const dev of running) {
    try {
      process.kill(dev.pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
}
process.on("exit", stopRunning);
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.once(sig, () => {
    stopRunning();
    process.exit(sig === "SIGINT" ? 130 : 143);
  });
}

export class Mesh {
  constructor({ root, dataDir, replicas, logFile }) {
    this.root = root;
    this.dataDir = dataDir;
    this.replicas = replicas;
    this.logFile = logFile;
    this.names = serviceNames(replicas);
    this.edgePorts = Array.from({ length: replicas }, (_, i) => 8787 + i);
    this.metadataTarget = Array.from({ length: replicas }, (_, i) => `127.0.0.1:${7102 + 100 * i}`).join(",");
  }

  httpBase(i = 0) {
    return `http://127.0.0.1:${this.edgePorts[i % this.replicas]}`;
  }

  async start() {
    for (const port of [...this.edgePorts, 7101, 7102, 7103]) {
      if (await portOpen(port)) throw new Error(`port ${port} is in use: stop the Kiln (tools/dev up) running there first`);
    }
    const fd = fs.openSync(this.logFile, "a");
    this.dev = spawn(path.join(this.root, "tools/dev"), ["up", "--data-dir", this.dataDir, "--replicas", String(this.replicas)], {
      stdio: ["ignore", fd, fd],
      detached: true, // its own process group, so a last-resort kill reaches only this mesh
    });
    fs.closeSync(fd);
    running.add(this.dev);
    this.exited = new Promise((resolve) =>
      this.dev.once("exit", (code, signal) => {
        running.delete(this.dev);
        resolve({ code, signal });
      }),
    );
    await this.waitHealthy(240_000); // the first start may build
  }

  pid(name) {
    try {
      return Number(fs.readFileSync(path.join(this.dataDir, `${name}.pid`), "utf8").trim());
    } catch {
      return 0;
    }
  }

  // Sends `signal` to the service's current process; returns its pid.
  signal(name, signal) {
    const pid = this.pid(name);
    if (!pid) throw new Error(`no pid recorded for ${name}`);
    process.kill(pid, signal);
    return pid;
  }

  // Every service is running with its ready file written, and every edge answers /healthz.
  async isHealthy() {
    for (const name of this.names) {
      const pid = this.pid(name);
      if (!pid || !fs.existsSync(path.join(this.dataDir, `${name}.ready`))) return false;
      try {
        process.kill(pid, 0);
      } catch {
        return false;
      }
    }
    for (const port of this.edgePorts) if (!(await healthy(port))) return false;
    return true;
  }

  async waitHealthy(timeoutMs = 90_000) {
    const t0 = Date.now();
    await until(() => this.isHealthy(), timeoutMs, "the mesh to be healthy", async () => {
      if (this.dev.exitCode !== null) throw new Error(`tools/dev up exited (${this.dev.exitCode}); see ${this.logFile}`);
    });
    return Date.now() - t0;
  }

  // Waits until `name` runs as a process other than `oldPid` and the mesh is healthy.
  async waitRestarted(name, oldPid, timeoutMs = 90_000) {
    const t0 = Date.now();
    await until(async () => this.pid(name) && this.pid(name) !== oldPid && (await this.isHealthy()), timeoutMs, `${name} to be restarted`);
    return Date.now() - t0;
  }

  async stop() {
    if (!this.dev || this.dev.exitCode !== null) return;
    for (const name of this.names) {
      try {
        process.kill(this.pid(name), "SIGCONT");
      } catch {
        // not running
      }
    }
    this.dev.kill("SIGTERM");
    const done = await Promise.race([this.exited, sleep(60_000).then(() => null)]);
    if (done === null) {
      process.kill(-this.dev.pid, "SIGKILL");
      await this.exited;
    }
  }
}
