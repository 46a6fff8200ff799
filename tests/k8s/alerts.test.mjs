// The PrometheusRule in k8s/components/servicemonitor: `promtool check rules` accepts its groups,
// and `promtool test rules` shows the critical alerts firing (and not firing early) on synthetic
// series. That the metric names exist is checked by tests/e2e/prometheus.test.mjs against the
// running services.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import YAML from "yaml";
import { mustFind, render, tempDir } from "./lib.mjs";

function promtool(args) {
  const r = spawnSync("promtool", args, { encoding: "utf8" });
  if (r.error) throw new Error(`promtool: ${r.error.message} (Debian package prometheus; tools/dev installs it)`);
  return r;
}

const rule = () => mustFind(render("overlays/prod"), "PrometheusRule", "kiln");

test("prod: the alert rules pass promtool check rules", () => {
  const dir = tempDir();
  const file = path.join(dir, "rules.yaml");
  writeFileSync(file, YAML.stringify({ groups: rule().spec.groups }));
  const r = promtool(["check", "rules", file]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /SUCCESS: 8 rules found/);
});

test("the critical alerts fire on synthetic series (promtool test rules)", () => {
  const dir = tempDir();
  writeFileSync(path.join(dir, "rules.yaml"), YAML.stringify({ groups: rule().spec.groups }));
  const tests = {
    rule_files: ["rules.yaml"],
    evaluation_interval: "1m",
    tests: [
      {
        interval: "1m",
        input_series: [
          { series: 'up{job="kiln-metadata",instance="kiln-metadata-1"}', values: "1 1 0 0 0 0" },
          { series: 'kiln_blockstore_integrity_failures_total{instance="kiln-blockstore-0"}', values: "0 0 0 1 1 1" },
          { series: 'kiln_metadata_rocksdb_write_stopped{instance="kiln-metadata-2"}', values: "0 1 1 1 1 1" },
        ],
        alert_rule_test: [
          { eval_time: "1m", alertname: "KilnTargetDown", exp_alerts: [] },
          {
            eval_time: "5m",
            alertname: "KilnTargetDown",
            exp_alerts: [
              {
                exp_labels: { severity: "critical", job: "kiln-metadata", instance: "kiln-metadata-1" },
                exp_annotations: {
                  summary: "kiln-metadata kiln-metadata-1 is down",
                  description:
                    "A Kiln process is not scrapeable; for a metadata or block-store shard, its ledgers are unavailable.",
                },
              },
            ],
          },
          { eval_time: "2m", alertname: "KilnBlobIntegrityFailure", exp_alerts: [] },
          {
            eval_time: "4m",
            alertname: "KilnBlobIntegrityFailure",
            exp_alerts: [
              {
                exp_labels: { severity: "critical", instance: "kiln-blockstore-0" },
                exp_annotations: {
                  summary: "Stored blobs on kiln-blockstore-0 fail their SHA-256 check",
                  description:
                    "Disk or filesystem corruption; the bad bytes are never served. Restore the shard from a checkpoint.",
                },
              },
            ],
          },
          {
            eval_time: "3m",
            alertname: "KilnRocksDbWritesStopped",
            exp_alerts: [
              {
                exp_labels: { severity: "critical", instance: "kiln-metadata-2" },
                exp_annotations: {
                  summary: "RocksDB stopped writes on kiln-metadata-2",
                  description: "Too many pending compactions or memtables; commits and puts stall. Check disk throughput.",
                },
              },
            ],
          },
        ],
      },
    ],
  };
  const file = path.join(dir, "tests.yaml");
  writeFileSync(file, YAML.stringify(tests));
  const r = promtool(["test", "rules", file]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
