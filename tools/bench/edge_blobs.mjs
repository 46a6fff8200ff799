// Edge cost of blob bytes: starts Kiln through tests/e2e/lib/kiln.mjs (KILN_E2E_BLOBS picks s3 with
// direct URLs, s3-proxied, or rocksdb), asks the edge for signed URLs the way the Fireproof client
// does, PUTs and GETs BLOBS blobs of SIZE bytes through them, and prints the edge's CPU seconds and
// kiln_edge_blob_bytes_total per MiB moved. Run by tools/bench/edge_blobs.sh.
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import { startKiln } from "../../tests/e2e/lib/kiln.mjs";
import { openHttpSession, rawCid, signedUrlFor } from "../../tests/e2e/lib/protocol.mjs";

const SIZE = Number(process.env.SIZE ?? 16 << 20);
const BLOBS = Number(process.env.BLOBS ?? 8);
const mode = process.env.KILN_E2E_BLOBS ?? "rocksdb";

function edgePid(port) {
  const out = execFileSync("ss", ["-ltnpH", `sport = :${port}`], { encoding: "utf8" });
  const m = /pid=(\d+)/.exec(out);
  if (!m) throw new Error(`no process listens on ${port}`);
  return Number(m[1]);
}
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, CLK_TCK 100
}
async function blobBytes(port) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(/^kiln_edge_blob_bytes_total(?:\{[^}]*\})? (\S+)$/gm)) sum += Number(m[1]);
  return sum;
}

const kiln = await startKiln({ auth: "none" });
try {
  const conn = await openHttpSession(kiln.httpBase, "dev-token");
  const url = async (type, method, key) =>
    (await signedUrlFor(kiln.httpBase, type, { token: "dev-token", conn, tenant: "bench", ledger: "blobs", method, store: "file", key })).signedUrl;
  const pid = edgePid(kiln.edgePort);
  const blobs = Array.from({ length: BLOBS }, () => crypto.randomBytes(SIZE));
  const cpu0 = cpuSeconds(pid);
  const bytes0 = await blobBytes(kiln.edgeMetricsPort);
  const t0 = Date.now();
  for (const b of blobs) {
    const key = rawCid(b);
    const put = await fetch(await url("reqPutData", "PUT", key), { method: "PUT", body: b });
    if (!put.ok) throw new Error(`PUT ${put.status}`);
    const get = await fetch(await url("reqGetData", "GET", key));
    const got = Buffer.from(await get.arrayBuffer());
    if (!get.ok || !got.equals(b)) throw new Error(`GET ${get.status}, ${got.length} bytes`);
  }
  const secs = (Date.now() - t0) / 1000;
  const mib = (2 * BLOBS * SIZE) / (1 << 20);
  const cpu = cpuSeconds(pid) - cpu0;
  const through = (await blobBytes(kiln.edgeMetricsPort)) - bytes0;
  const origin = new URL(await url("reqGetData", "GET", rawCid(blobs[0]))).origin;
  console.log(
    `mode=${mode} moved_MiB=${mib} secs=${secs.toFixed(2)} MiB_per_sec=${(mib / secs).toFixed(1)} ` +
      `edge_cpu_ms_per_MiB=${((1000 * cpu) / mib).toFixed(3)} edge_blob_bytes=${through} url_origin=${origin === kiln.httpBase ? "edge" : "store"}`,
  );
} finally {
  await kiln.stop();
}
