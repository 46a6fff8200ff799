// The expected-state checker: after a round, compares what the mesh holds with what it
// acknowledged.
//   - entries: every acknowledged entry is in its ledger's log exactly once, no entry is in the log
//     twice, the log's hash chain verifies (kiln-chaos-check reads it with ReadLog), and the head
//     set is exactly the accepted entries that no accepted entry names as a parent (no duplicate,
//     lost or extra head), both in GetLedger and in the newest log record;
//   - blobs: every acknowledged blob reads back through a fresh signed URL with its bytes' hash.
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import { signedUrlFor, openHttpSession } from "../../tests/e2e/lib/protocol.mjs";

function runCheck(bin, metadataTarget, ledgers) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [`--metadata_target=${metadataTarget}`], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      const rows = out.split("\n").filter(Boolean).map((l) => JSON.parse(l));
      if (code !== 0 && rows.length === 0) reject(new Error(`kiln-chaos-check exited ${code}: ${err.slice(-500)}`));
      else resolve(rows);
    });
    child.stdin.end(ledgers.map((l) => `${l.tenant}\t${l.ledger}\n`).join(""));
  });
}

const sorted = (a) => [...a].sort();
const sameList = (a, b) => JSON.stringify(sorted(a)) === JSON.stringify(sorted(b));

// Checks the entries of every ledger in `states` (LedgerState) and, for `extraLedgers` ({tenant,
// ledger}: ledgers written by real clients, whose entries are not recorded), the log and the
// uniqueness of entries and heads. Returns {ok, problems[], acked, recovered, logEntries}.
export async function checkEntries({ checkBin, metadataTarget, states, extraLedgers = [] }) {
  const rows = await runCheck(checkBin, metadataTarget, [...states, ...extraLedgers]);
  const problems = [];
  let acked = 0;
  let recovered = 0;
  let logEntries = 0;
  for (const row of rows) {
    const where = `${row.tenant}/${row.ledger}`;
    if (row.error) {
      problems.push(`${where}: ${row.error}`);
      continue;
    }
    if (row.chain !== "ok") problems.push(`${where}: log does not verify: ${row.chain}`);
    const count = new Map();
    for (const cid of row.entries) count.set(cid, (count.get(cid) ?? 0) + 1);
    logEntries += count.size;
    for (const [cid, n] of count) if (n > 1) problems.push(`${where}: entry ${cid} is in the log ${n} times`);
    if (new Set(row.heads).size !== row.heads.length) problems.push(`${where}: duplicate heads ${row.heads}`);
    if (!sameList(row.heads, row.last_record_heads)) problems.push(`${where}: GetLedger heads differ from the last log record's`);
    const state = states.find((s) => s.tenant === row.tenant && s.ledger === row.ledger);
    if (!state) continue;
    const parents = new Set();
    for (const [cid, e] of state.entries) {
      if (e.acked) {
        acked++;
        if (count.has(cid)) recovered++;
        else problems.push(`${where}: acknowledged entry ${cid} is missing`);
      }
      if (count.has(cid)) for (const p of e.parents) parents.add(p);
    }
    for (const cid of count.keys()) {
      if (!state.entries.has(cid)) problems.push(`${where}: the log holds ${cid}, which was never sent`);
    }
    const expectedHeads = [...count.keys()].filter((cid) => !parents.has(cid));
    if (!sameList(row.heads, expectedHeads)) {
      problems.push(`${where}: heads ${JSON.stringify(sorted(row.heads))} but the accepted entries give ${JSON.stringify(sorted(expectedHeads))}`);
    }
  }
  return { ok: problems.length === 0, problems, acked, recovered, logEntries };
}

// Reads every acknowledged blob back through the edge. Returns {ok, problems[], acked, recovered}.
export async function checkBlobs({ httpBase, token, states }) {
  const problems = [];
  let acked = 0;
  let recovered = 0;
  const conn = await openHttpSession(httpBase, token);
  for (const state of states) {
    for (const [key, blob] of state.ackedBlobs()) {
      acked++;
      try {
        const { signedUrl } = await signedUrlFor(httpBase, "reqGetData", {
          token, conn, tenant: state.tenant, ledger: state.ledger, method: "GET", store: "car", key,
        });
        const r = await fetch(signedUrl, { signal: AbortSignal.timeout(15_000) });
        const bytes = Buffer.from(await r.arrayBuffer());
        const sha = crypto.createHash("sha256").update(bytes).digest("hex");
        if (r.status === 200 && sha === blob.sha256) recovered++;
        else problems.push(`${state.tenant}/${state.ledger}: blob ${key}: HTTP ${r.status}, ${bytes.length} bytes${r.status === 200 ? ", wrong hash" : ""}`);
      } catch (e) {
        problems.push(`${state.tenant}/${state.ledger}: blob ${key}: ${e.message}`);
      }
    }
  }
  return { ok: problems.length === 0, problems, acked, recovered };
}
