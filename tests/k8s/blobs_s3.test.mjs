// k8s/components/blobs-s3: the block-store as a stateless Deployment on an S3 bucket, under an
// HPA, with credentials from a Secret and the bucket URL (endpoint included) in a ConfigMap; edge
// and merge reach it through one Service and the edge presigns URLs straight to the bucket.
// Rendered offline with the base, validated against the API schemas, and every container's flags
// parsed by its binary.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import {
  BUILD_DIR,
  containersOf,
  describe,
  find,
  flagsOf,
  kilnContainer,
  modelClass,
  mustFind,
  renderCustom,
  workloads,
} from "./lib.mjs";

const objects = () => renderCustom({ resources: ["base"], components: ["components/blobs-s3"] });

const envFrom = (container, name) => (container.env ?? []).find((e) => e.name === name)?.valueFrom;

test("blobs-s3: kiln-blockstore is a Deployment with no volume under an HPA", () => {
  const os = objects();
  assert.equal(find(os, "StatefulSet", "kiln-blockstore"), undefined, "the RocksDB StatefulSet is gone");
  const d = mustFind(os, "Deployment", "kiln-blockstore");
  assert.equal(d.spec.template.spec.volumes, undefined, "no volumes");
  const c = kilnContainer(d);
  assert.equal(c.volumeMounts, undefined, "no volume mounts");
  const flags = flagsOf(c);
  assert.equal(flags.get("backend"), "$(KILN_S3_URL)");
  assert.equal(flags.get("shard_count"), undefined, "no shards: every replica serves every ledger");
  const hpa = mustFind(os, "HorizontalPodAutoscaler", "kiln-blockstore");
  assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: "apps/v1", kind: "Deployment", name: "kiln-blockstore" });
  assert.ok(hpa.spec.minReplicas >= 2, "at least two replicas, so one can die");
});

test("blobs-s3: credentials come from a Secret and the endpoint from a ConfigMap", () => {
  const os = objects();
  const cm = mustFind(os, "ConfigMap", "kiln-blobs-s3");
  assert.match(cm.data["backend-url"], /^s3:\/\/[^/?]+[^?]*\?(.*&)?endpoint=https?:\/\//);
  assert.equal(find(os, "Secret", "kiln-s3-credentials"), undefined, "the Secret is created by the operator");
  for (const name of ["kiln-blockstore", "kiln-edge"]) {
    const c = kilnContainer(mustFind(os, "Deployment", name));
    assert.deepEqual(envFrom(c, "KILN_S3_URL"), { configMapKeyRef: { name: "kiln-blobs-s3", key: "backend-url" } }, name);
    for (const key of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]) {
      assert.deepEqual(envFrom(c, key), { secretKeyRef: { name: "kiln-s3-credentials", key } }, `${name} ${key}`);
    }
  }
});

test("blobs-s3: edge and merge use one balanced Service; the edge presigns direct URLs", () => {
  const os = objects();
  const svc = mustFind(os, "Service", "kiln-blockstore");
  assert.notEqual(svc.spec.clusterIP, "None", "a virtual IP over the replicas, not per-pod names");
  for (const name of ["kiln-edge", "kiln-merge"]) {
    assert.equal(flagsOf(kilnContainer(mustFind(os, "Deployment", name))).get("blockstore_target"), "kiln-blockstore:7101");
  }
  assert.equal(flagsOf(kilnContainer(mustFind(os, "Deployment", "kiln-edge"))).get("s3_blob_url"), "$(KILN_S3_URL)");
});

test("blobs-s3: every object validates against its API schema", async () => {
  for (const o of objects()) {
    const Model = await modelClass(o.apiVersion, o.kind);
    assert.doesNotThrow(() => new Model(o).validate(), describe(o));
  }
});

test("blobs-s3: every container passes only flags its binary accepts", () => {
  for (const w of workloads(objects())) {
    for (const c of containersOf(w)) {
      const bin = path.join(BUILD_DIR, "services", c.command[0].replace(/^.*kiln-/, ""), c.command[0].replace(/^.*\//, ""));
      const r = spawnSync(bin, [...(c.args ?? []), "--version"], { encoding: "utf8", timeout: 30_000 });
      assert.equal(r.status, 0, `${describe(w)} container ${c.name}:\n${r.stderr}`);
    }
  }
});
