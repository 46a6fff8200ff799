// Observability against the multi-replica topology: a real Prometheus (Debian's `prometheus`)
// scrapes every service of a 2-replica Kiln; every target is up, a counter moves after a sync, and
// `promtool check metrics` has nothing to say about any service's exposition.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startKiln } from "./lib/kiln.mjs";
import { attachedClient, closeAll } from "./lib/clients.mjs";
import { devToken } from "./lib/tokens.mjs";
import { uniqueName } from "./lib/util.mjs";

let kiln;
let prom;
let promPort;
let promLog = "";
const clients = [];

// A free loopback port (Prometheus cannot listen on port 0 and report it).
async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Every metric name some service's /metrics exposes.
async function exportedMetricNames() {
  const exported = new Set();
  for (const m of kiln.metrics) {
    const text = await (await fetch(`http://127.0.0.1:${m.port}/metrics`)).text();
    for (const line of text.split("\n")) {
      const name = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line)?.[1];
      if (name) exported.add(name);
    }
  }
  return exported;
}

async function query(expr) {
  const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = await res.json();
  assert.equal(body.status, "success", JSON.stringify(body));
  return body.data.result;
}

async function eventually(what, fn, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`${what}: ${last?.message}\nprometheus log:\n${promLog.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

before(async () => {
  for (const bin of ["prometheus", "promtool"]) {
    assert.equal(spawnSync("sh", ["-c", `command -v ${bin}`]).status, 0, `${bin} is not installed (Debian package prometheus; tools/dev installs it)`);
  }
  kiln = await startKiln({ auth: "none", replicas: 2 });
  const jobs = new Map();
  for (const m of kiln.metrics) {
    if (!jobs.has(m.job)) jobs.set(m.job, []);
    jobs.get(m.job).push(m);
  }
  const config = [
    "global:",
    "  scrape_interval: 1s",
    "  scrape_timeout: 1s",
    "scrape_configs:",
    ...[...jobs].flatMap(([job, ms]) => [
      `  - job_name: ${job}`,
      "    static_configs:",
      ...ms.flatMap((m) => [`      - targets: ["127.0.0.1:${m.port}"]`, `        labels: { replica: "${m.instance}" }`]),
    ]),
  ].join("\n");
  const configFile = path.join(kiln.dataDir, "prometheus.yml");
  fs.writeFileSync(configFile, config + "\n");
  const check = spawnSync("promtool", ["check", "config", configFile], { encoding: "utf8" });
  assert.equal(check.status, 0, check.stdout + check.stderr);
  promPort = await freePort();
  prom = spawn(
    "prometheus",
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(kiln.dataDir, "prometheus")}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      "--log.level=warn",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  prom.stdout.on("data", (d) => (promLog += d));
  prom.stderr.on("data", (d) => (promLog += d));
  process.on("exit", () => prom?.kill("SIGKILL"));
});

after(async () => {
  await closeAll(clients);
  if (prom && prom.exitCode === null) {
    const exited = new Promise((r) => prom.once("exit", r));
    prom.kill("SIGTERM");
    await exited;
  }
  await kiln?.stop();
});

test("promtool check metrics accepts every service's exposition", async () => {
  for (const m of kiln.metrics) {
    const text = await (await fetch(`http://127.0.0.1:${m.port}/metrics`)).text();
    assert.match(text, /# TYPE /, `${m.instance} exposes no metrics`);
    const r = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    assert.equal(r.status, 0, `${m.instance}: promtool check metrics:\n${r.stdout}${r.stderr}`);
    assert.equal((r.stdout + r.stderr).trim(), "", `${m.instance}: promtool complains:\n${r.stdout}${r.stderr}`);
  }
});

test("Prometheus scrapes all 8 targets and sees counters move after a sync", async () => {
  assert.equal(kiln.metrics.length, 8);
  await eventually("every target up", async () => {
    const up = await query("up");
    assert.equal(up.length, 8, JSON.stringify(up.map((r) => r.metric)));
    for (const r of up) assert.equal(r.value[1], "1", `${r.metric.job} ${r.metric.instance} is down`);
  });
  const total = async (expr) => {
    const r = await query(expr);
    return r.length ? Number(r[0].value[1]) : 0;
  };
  const before = {
    puts: await total('sum(kiln_edge_messages_total{type="reqPutMeta",outcome="ok"})'),
    commits: await total('sum(kiln_metadata_commits_total{result="ok"})'),
  };
  const token = await devToken("e2e", uniqueName("prometheus"));
  const a = await attachedClient({ fpUrl: kiln.edges[0].fpUrl("ws"), token, label: "prom-A" });
  clients.push(a);
  const b = await attachedClient({ fpUrl: kiln.edges[1].fpUrl("ws"), token, label: "prom-B" });
  clients.push(b);
  await a.put({ _id: "scraped", v: 1 });
  await b.waitFor(["scraped"]);
  await eventually("counters moved", async () => {
    assert.ok((await total('sum(kiln_edge_messages_total{type="reqPutMeta",outcome="ok"})')) > before.puts, "edge puts did not move");
    assert.ok((await total('sum(kiln_metadata_commits_total{result="ok"})')) > before.commits, "metadata commits did not move");
    assert.ok((await total('sum(grpc_server_handled_total{job="kiln-merge",grpc_method="PutMeta",grpc_code="OK"})')) > 0, "merge PutMeta did not move");
  });
});

// The Grafana dashboard (k8s/dashboards/kiln-overview.json): every panel query is valid PromQL that
// this Prometheus evaluates, and every metric it names is exported by some service.
test("every Grafana dashboard query evaluates and names only exported metrics", async () => {
  const file = path.join(path.dirname(fileURLToPath(import.meta.url)), "../../k8s/dashboards/kiln-overview.json");
  const dashboard = JSON.parse(fs.readFileSync(file, "utf8"));
  const exprs = [];
  const walk = (panels) => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) if (t.expr) exprs.push({ panel: p.title, expr: t.expr });
      walk(p.panels);
    }
  };
  walk(dashboard.panels);
  assert.ok(exprs.length >= 20, `only ${exprs.length} queries in the dashboard`);
  const exported = await exportedMetricNames();
  const promqlWords = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "or", "and", "unless", "bool", "offset"]);
  for (const { panel, expr } of exprs) {
    const concrete = expr.replace(/\$__rate_interval|\$\{__rate_interval\}/g, "1m").replace(/\$\{?\w+\}?/g, ".*");
    const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(concrete)}`);
    const body = await res.json();
    assert.equal(body.status, "success", `panel "${panel}": ${concrete}: ${body.error}`);
    // Metric names: identifiers followed by { or a selector boundary, outside label matchers.
    const withoutLabels = concrete.replace(/\{[^}]*\}/g, "{}").replace(/"[^"]*"/g, '""');
    for (const [, name] of withoutLabels.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?=\{|\[|\)|$|\s|,)/g)) {
      if (!/^(kiln_|grpc_server_)/.test(name) || promqlWords.has(name) || notApplicable(name)) continue;
      assert.ok(exported.has(name), `panel "${panel}" uses ${name}, which no service exports`);
    }
  }
});

// With metadata on PostgreSQL (KILN_E2E_METADATA=postgres) nothing exports metadata's RocksDB
// metrics, and with blobs on S3 (KILN_E2E_BLOBS=s3, s3-proxied) nothing exports the block-store's:
// the panels and alerts about them stay empty there, by design.
function notApplicable(name) {
  return (
    (process.env.KILN_E2E_METADATA === "postgres" && name.startsWith("kiln_metadata_rocksdb_")) ||
    ((process.env.KILN_E2E_BLOBS ?? "rocksdb") !== "rocksdb" && name.startsWith("kiln_blockstore_rocksdb_"))
  );
}

// The alert rules (k8s/components/servicemonitor/prometheusrules.yaml) name only exported metrics.
test("every metric the alert rules use is exported by some service", async () => {
  const file = path.join(path.dirname(fileURLToPath(import.meta.url)), "../../k8s/components/servicemonitor/prometheusrules.yaml");
  const rules = fs.readFileSync(file, "utf8");
  const exported = await exportedMetricNames();
  const used = new Set([...rules.matchAll(/\b(kiln_[a-z0-9_]+|grpc_server_[a-z0-9_]+)\b/g)].map((m) => m[1]));
  assert.ok(used.size >= 8, [...used].join(" "));
  for (const name of used) {
    if (notApplicable(name)) continue;
    assert.ok(exported.has(name), `the alert rules use ${name}, which no service exports`);
  }
});
