// k8s/components/control: kiln-control beside the base, rendered offline: every object validates
// against its API schema, the container runs hardened and passes only flags its binary accepts,
// the Service stays inside the cluster, the credentials come from read-only Secrets, and its shard
// lists equal the edge's.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import { BUILD_DIR, UID, describe, flagsOf, kilnContainer, modelClass, mustFind, renderCustom } from "./lib.mjs";

const objects = () => renderCustom({ resources: ["base"], components: ["components/control"] });

test("control: every object validates against its API schema", async () => {
  for (const o of objects()) {
    const Model = await modelClass(o.apiVersion, o.kind);
    assert.doesNotThrow(() => new Model(o).validate(), describe(o));
  }
});

test("control: hardened, flags its binary accepts, secrets read-only, same shards as the edge", () => {
  const os = objects();
  const d = mustFind(os, "Deployment", "kiln-control");
  const pod = d.spec.template.spec;
  assert.equal(pod.securityContext.runAsUser, UID);
  assert.equal(pod.securityContext.fsGroup, UID);
  assert.equal(pod.automountServiceAccountToken, false);
  const c = kilnContainer(d);
  assert.deepEqual(c.command, ["/usr/local/bin/kiln-control"]);
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.deepEqual(c.securityContext.capabilities.drop, ["ALL"]);
  const r = spawnSync(path.join(BUILD_DIR, "services/control/kiln-control"), [...c.args, "--version"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);

  const flags = flagsOf(c);
  const edge = flagsOf(kilnContainer(mustFind(os, "Deployment", "kiln-edge")));
  assert.equal(flags.get("metadata_target"), edge.get("metadata_target"));
  assert.equal(flags.get("blockstore_target"), edge.get("blockstore_target"));
  for (const [flag, volume] of [["admin_token_file", "kiln-admin-token"], ["issuer_key_file", "kiln-issuer-key"]]) {
    const file = flags.get(flag);
    const mount = c.volumeMounts.find((m) => file.startsWith(m.mountPath + "/"));
    assert.ok(mount, `--${flag}=${file} is not on a mounted volume`);
    assert.equal(mount.readOnly, true);
    assert.equal(pod.volumes.find((v) => v.name === mount.name).secret.secretName, volume);
  }
  const svc = mustFind(os, "Service", "kiln-control");
  assert.equal(svc.spec.type, "ClusterIP", "the control API must not leave the cluster");
  assert.equal(mustFind(os, "NetworkPolicy", "kiln-control-to-shards").spec.ingress[0].from[0].podSelector.matchLabels["app.kubernetes.io/name"], "kiln-control");
});
