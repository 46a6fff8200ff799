// What the rendered manifests must say beyond the API schema: hardened pods, probes on the right
// ports, volumes for RocksDB, shard lists that match the StatefulSets, autoscaling ranges,
// disruption budgets, TLS, ServiceMonitors and NetworkPolicies.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  PORTS,
  RENDERS,
  UID,
  containerPort,
  containersOf,
  describe,
  find,
  flagsOf,
  kilnContainer,
  mustFind,
  ofKind,
  portOf,
  render,
  serviceOf,
  workloads,
} from "./lib.mjs";

const KINDS = {
  blockstore: "StatefulSet",
  metadata: "StatefulSet",
  merge: "Deployment",
  edge: "Deployment",
};
const SECRET_MODE = 0o440; // readable by the fsGroup only

function matches(selector, labels) {
  return Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);
}

// Metadata on PostgreSQL (components/metadata-postgres): a stateless Deployment, no shards.
function metadataOnPostgres(objects) {
  return find(objects, "Deployment", "kiln-metadata") !== undefined;
}

// The workloads of a render by service name; fails unless there is exactly one per service.
function byService(objects) {
  const out = {};
  for (const [svc, kind] of Object.entries(KINDS)) {
    const k = svc === "metadata" && metadataOnPostgres(objects) ? "Deployment" : kind;
    out[svc] = mustFind(objects, k, `kiln-${svc}`);
  }
  assert.equal(workloads(objects).length, 4, "exactly the four Kiln workloads");
  return out;
}

for (const dir of RENDERS) {
  const objects = () => render(dir);

  test(`${dir}: every pod and container runs hardened`, () => {
    for (const w of workloads(objects())) {
      const pod = w.spec.template.spec;
      const psc = pod.securityContext ?? {};
      assert.equal(psc.runAsNonRoot, true, `${describe(w)} pod runAsNonRoot`);
      assert.equal(psc.runAsUser, UID, `${describe(w)} pod runAsUser`);
      assert.equal(psc.seccompProfile?.type, "RuntimeDefault", `${describe(w)} pod seccompProfile`);
      assert.equal(pod.automountServiceAccountToken, false, `${describe(w)} mounts an API token`);
      assert.ok(
        !pod.hostNetwork && !pod.hostPID && !pod.hostIPC,
        `${describe(w)} uses host namespaces`,
      );
      const sa = mustFind(objects(), "ServiceAccount", pod.serviceAccountName);
      assert.equal(sa.automountServiceAccountToken, false, `${describe(sa)} automounts its token`);
      if ((pod.volumes ?? []).some((v) => v.secret) || w.spec.volumeClaimTemplates) {
        assert.equal(psc.fsGroup, UID, `${describe(w)} needs fsGroup for its volumes`);
      }
      for (const c of containersOf(w)) {
        const sc = c.securityContext ?? {};
        const what = `${describe(w)} container ${c.name}`;
        assert.equal(sc.runAsNonRoot, true, `${what} runAsNonRoot`);
        assert.equal(sc.runAsUser, UID, `${what} runAsUser`);
        assert.equal(sc.readOnlyRootFilesystem, true, `${what} readOnlyRootFilesystem`);
        assert.equal(sc.allowPrivilegeEscalation, false, `${what} allowPrivilegeEscalation`);
        assert.notEqual(sc.privileged, true, `${what} privileged`);
        assert.deepEqual(sc.capabilities?.drop, ["ALL"], `${what} drops all capabilities`);
        assert.equal(sc.capabilities?.add, undefined, `${what} adds capabilities`);
        assert.equal(sc.seccompProfile?.type, "RuntimeDefault", `${what} seccompProfile`);
      }
    }
  });

  test(`${dir}: one image, one binary per service, listening on its ports`, () => {
    const images = new Set();
    for (const [svc, w] of Object.entries(byService(objects()))) {
      const c = kilnContainer(w);
      images.add(c.image);
      assert.deepEqual(c.command, [`/usr/local/bin/kiln-${svc}`]);
      const flags = flagsOf(c);
      const ports = PORTS[svc];
      for (const [name, port] of Object.entries(ports)) {
        assert.equal(flags.get(`${name}_address`), `0.0.0.0:${port}`, `${svc} --${name}_address`);
        assert.equal(containerPort(c, name), port, `${svc} container port ${name}`);
      }
    }
    assert.equal(images.size, 1, `all services use one image, got ${[...images]}`);
  });

  test(`${dir}: probes check the health service on the serving port`, () => {
    for (const [svc, w] of Object.entries(byService(objects()))) {
      const c = kilnContainer(w);
      for (const probe of ["readinessProbe", "livenessProbe"]) {
        const p = c[probe];
        assert.ok(p, `${svc} has no ${probe}`);
        if (svc === "edge") {
          assert.equal(p.httpGet?.path, "/healthz", `edge ${probe} path`);
          assert.equal(p.httpGet?.port, "http", `edge ${probe} port`);
        } else {
          // A native gRPC probe: grpc.health.v1.Health/Check on the server's port.
          assert.equal(p.grpc?.port, PORTS[svc].grpc, `${svc} ${probe} must be a gRPC probe`);
          assert.equal(p.grpc.service, undefined, `${svc} ${probe} checks the whole server`);
        }
      }
    }
  });

  test(`${dir}: metadata and block-store keep RocksDB on a volume per pod`, () => {
    // Metadata on PostgreSQL keeps nothing on the pod (checked in the prod-postgres tests).
    const stateful = metadataOnPostgres(objects()) ? ["blockstore"] : ["metadata", "blockstore"];
    for (const svc of stateful) {
      const sts = mustFind(objects(), "StatefulSet", `kiln-${svc}`);
      const c = kilnContainer(sts);
      const backend = flagsOf(c).get("backend");
      const m = /^rocksdb:\/\/(\/[^?]*)/.exec(backend ?? "");
      assert.ok(m, `${svc} --backend=${backend} is not RocksDB`);
      const mount = (c.volumeMounts ?? []).find((vm) => m[1].startsWith(vm.mountPath + "/"));
      assert.ok(mount, `${svc}: no volume mounted above ${m[1]}`);
      const claims = (sts.spec.volumeClaimTemplates ?? []).map((t) => t.metadata.name);
      assert.ok(
        claims.includes(mount.name),
        `${svc}: ${mount.mountPath} is not a volumeClaimTemplate`,
      );
      const shadow = (sts.spec.template.spec.volumes ?? []).find((v) => v.name === mount.name);
      assert.equal(
        shadow,
        undefined,
        `${svc}: pod volume ${mount.name} (emptyDir?) shadows the claim`,
      );
      const vct = sts.spec.volumeClaimTemplates.find((t) => t.metadata.name === mount.name);
      assert.deepEqual(vct.spec.accessModes, ["ReadWriteOnce"]);
      assert.ok(vct.spec.resources?.requests?.storage, `${svc}: claim without a size`);
      // Stable pod DNS names come from a headless Service named by serviceName.
      const headless = mustFind(objects(), "Service", sts.spec.serviceName);
      assert.equal(headless.spec.clusterIP, "None", `${describe(headless)} must be headless`);
      assert.ok(matches(headless.spec.selector, sts.spec.template.metadata.labels));
      assert.equal(headless.spec.publishNotReadyAddresses, true);
    }
    for (const v of workloads(objects()).flatMap((w) => w.spec.template.spec.volumes ?? [])) {
      assert.equal(v.emptyDir, undefined, `emptyDir volume ${v.name}: no state outside the claims`);
    }
  });

  test(`${dir}: edge and merge list every shard in order and balance over merge`, () => {
    const ws = byService(objects());
    const sharded = metadataOnPostgres(objects()) ? ["blockstore"] : ["metadata", "blockstore"];
    if (metadataOnPostgres(objects())) {
      // Every metadata replica serves every ledger: one target balanced over all of them.
      for (const caller of ["edge", "merge"]) {
        assert.equal(
          flagsOf(kilnContainer(ws[caller])).get("metadata_target"),
          "dns:///kiln-metadata:7102",
          `${caller} --metadata_target`,
        );
      }
      const flags = flagsOf(kilnContainer(ws.metadata));
      assert.equal(flags.get("shard_count"), undefined, "metadata on PostgreSQL is not sharded");
      assert.equal(flags.get("shard_index"), undefined, "metadata on PostgreSQL is not sharded");
      const headless = mustFind(objects(), "Service", "kiln-metadata");
      assert.equal(headless.spec.clusterIP, "None", "kiln-metadata must be headless for balancing");
      assert.equal(headless.spec.publishNotReadyAddresses, false, "only ready replicas");
    }
    for (const svc of sharded) {
      const sts = ws[svc];
      const expected = Array.from(
        { length: sts.spec.replicas ?? 1 },
        (_, i) => `${sts.metadata.name}-${i}.${sts.spec.serviceName}:${PORTS[svc].grpc}`,
      ).join(",");
      for (const caller of ["edge", "merge"]) {
        assert.equal(
          flagsOf(kilnContainer(ws[caller])).get(`${svc}_target`),
          expected,
          `${caller} --${svc}_target must name the ${sts.spec.replicas} shards in order`,
        );
      }
      // Each shard knows its position (its pod name's ordinal) and the count, and refuses other
      // shards' ledgers; a checkpoint directory on the data volume.
      const container = kilnContainer(sts);
      const flags = flagsOf(container);
      assert.equal(flags.get("shard_count"), String(sts.spec.replicas ?? 1), `${svc} --shard_count`);
      assert.equal(flags.get("shard_index"), "$(POD_NAME)", `${svc} --shard_index`);
      const podName = (container.env ?? []).find((e) => e.name === "POD_NAME");
      assert.equal(podName?.valueFrom?.fieldRef?.fieldPath, "metadata.name", `${svc} POD_NAME env`);
      assert.match(flags.get("checkpoint_dir") ?? "", /^\/data\//, `${svc} --checkpoint_dir on the volume`);
    }
    assert.equal(flagsOf(kilnContainer(ws.edge)).get("merge_target"), "dns:///kiln-merge:7103");
    const merge = mustFind(objects(), "Service", "kiln-merge");
    assert.equal(
      merge.spec.clusterIP,
      "None",
      "kiln-merge must be headless for client-side balancing",
    );
    assert.ok(merge.spec.ports.some((p) => p.port === 7103));
  });

  test(`${dir}: Services select Kiln pods and name their ports`, () => {
    const ws = workloads(objects());
    for (const s of ofKind(objects(), "Service")) {
      const targets = ws.filter((w) => matches(s.spec.selector, w.spec.template.metadata.labels));
      assert.equal(targets.length, 1, `${describe(s)} must select exactly one workload`);
      const c = kilnContainer(targets[0]);
      for (const p of s.spec.ports) {
        assert.ok(
          containerPort(c, p.targetPort),
          `${describe(s)} port ${p.name}: no such container port`,
        );
        assert.equal(containerPort(c, p.targetPort), p.port, `${describe(s)} port ${p.name}`);
      }
    }
    const edge = mustFind(objects(), "Service", "kiln-edge");
    assert.deepEqual(
      edge.spec.ports.map((p) => [p.name, p.port]),
      [["http", 8787]],
    );
    for (const svc of Object.keys(KINDS)) {
      const metrics = ofKind(objects(), "Service").filter(
        (s) =>
          s.metadata.labels["app.kubernetes.io/name"] === `kiln-${svc}` &&
          s.spec.ports.some((p) => p.name === "metrics" && p.port === PORTS[svc].metrics),
      );
      assert.equal(metrics.length, 1, `one Service exposes kiln-${svc} metrics as port "metrics"`);
    }
  });

  test(`${dir}: secrets are mounted read-only for the pod's group`, () => {
    for (const w of workloads(objects())) {
      const pod = w.spec.template.spec;
      for (const v of (pod.volumes ?? []).filter((x) => x.secret)) {
        assert.equal(v.secret.defaultMode, SECRET_MODE, `${describe(w)} volume ${v.name} mode`);
        for (const c of containersOf(w)) {
          for (const vm of (c.volumeMounts ?? []).filter((x) => x.name === v.name)) {
            assert.equal(vm.readOnly, true, `${describe(w)} mounts ${v.name} writable`);
          }
        }
      }
    }
  });

  test(`${dir}: every file named in the args comes from a mounted volume`, () => {
    for (const w of workloads(objects())) {
      const c = kilnContainer(w);
      for (const [name, value] of flagsOf(c)) {
        const file = /^@?(\/etc\/.*)$/.exec(value)?.[1];
        if (!file) continue;
        const mount = (c.volumeMounts ?? []).find((vm) => file.startsWith(vm.mountPath + "/"));
        assert.ok(mount, `${describe(w)} --${name}=${value}: nothing mounted there`);
        const vol = w.spec.template.spec.volumes.find((v) => v.name === mount.name);
        const key = file.slice(mount.mountPath.length + 1);
        if (vol.secret?.items) {
          assert.ok(
            vol.secret.items.some((i) => i.path === key),
            `${describe(w)} ${file}`,
          );
        }
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------
// prod-postgres

test("prod-postgres: metadata is a Deployment with an HPA and no volume, on PostgreSQL", () => {
  const objects = render("overlays/prod-postgres");
  assert.equal(find(objects, "StatefulSet", "kiln-metadata"), undefined, "the StatefulSet is gone");
  const md = mustFind(objects, "Deployment", "kiln-metadata");
  const pod = md.spec.template.spec;
  assert.deepEqual(
    (pod.volumes ?? []).filter((v) => !v.secret),
    [],
    "no volume but Secrets: replicas keep no state",
  );
  const flags = flagsOf(kilnContainer(md));
  const backend = flags.get("backend") ?? "";
  assert.match(backend, /^postgres:\/\/[^:@/]+@kiln-db-rw:5432\/kiln\?/, "--backend");
  assert.doesNotMatch(backend, /password|:[^/@]*@/, "no password in the URL");
  assert.equal(flags.get("backend_password_file"), "/etc/kiln/db/password");
  const db = pod.volumes.find((v) => v.name === "db");
  assert.equal(db.secret.secretName, "kiln-db-app", "CloudNativePG's application Secret");
  assert.deepEqual(db.secret.items, [{ key: "password", path: "password" }]);
  const hpa = mustFind(objects, "HorizontalPodAutoscaler", "kiln-metadata");
  assert.equal(hpa.spec.scaleTargetRef.kind, "Deployment");
  assert.equal(hpa.spec.minReplicas, 2);
  assert.equal(hpa.spec.maxReplicas, 10);
  assert.ok(
    ofKind(objects, "PodDisruptionBudget").some((p) =>
      matches(p.spec.selector.matchLabels, md.spec.template.metadata.labels),
    ),
    "a disruption budget covers the metadata replicas",
  );
  const egress = mustFind(objects, "NetworkPolicy", "kiln-metadata-postgres");
  assert.deepEqual(egress.spec.egress[0].ports, [{ protocol: "TCP", port: 5432 }]);
  // Everything else is prod's, but for the metadata target (checked above).
  const prod = render("overlays/prod");
  const sameBut = (w) => {
    const copy = structuredClone(w);
    for (const c of copy.spec.template.spec.containers) {
      c.args = (c.args ?? []).map((a) => a.replace(/^--metadata_target=.*/, "--metadata_target"));
    }
    return copy;
  };
  for (const kind of ["StatefulSet", "Deployment"]) {
    for (const w of ofKind(prod, kind).filter((x) => x.metadata.name !== "kiln-metadata")) {
      assert.deepEqual(sameBut(mustFind(objects, kind, w.metadata.name)), sameBut(w), describe(w));
    }
  }
});

// ---------------------------------------------------------------------------------------------
// dev

test("dev: one replica each, 1Gi volumes, no auth, visibly fake secrets of the right format", () => {
  const objects = render("overlays/dev");
  const ws = byService(objects);
  for (const w of Object.values(ws)) assert.equal(w.spec.replicas, 1, `${describe(w)} replicas`);
  for (const svc of ["metadata", "blockstore"]) {
    assert.equal(ws[svc].spec.volumeClaimTemplates[0].spec.resources.requests.storage, "1Gi");
  }
  assert.equal(flagsOf(kilnContainer(ws.edge)).get("auth"), "none");
  assert.equal(ofKind(objects, "HorizontalPodAutoscaler").length, 0);
  // Every Secret a pod mounts is generated here, with the hash suffix kustomize adds.
  const secrets = new Map(ofKind(objects, "Secret").map((s) => [s.metadata.name, s]));
  for (const w of Object.values(ws)) {
    for (const v of (w.spec.template.spec.volumes ?? []).filter((x) => x.secret)) {
      assert.ok(
        secrets.has(v.secret.secretName),
        `${describe(w)} mounts missing ${v.secret.secretName}`,
      );
    }
  }
  const value = (prefix, key) => {
    const s = [...secrets.values()].find((x) => x.metadata.name.startsWith(prefix));
    return Buffer.from(s.data[key].replace(/\n/g, ""), "base64").toString("utf8");
  };
  assert.match(value("kiln-kek-", "kek"), /^[0-9a-f]{64}$/, "the KEK is 32 bytes as hex");
  assert.ok(
    value("kiln-url-signing-key-", "key").length >= 32,
    "the URL signing key is >= 32 bytes",
  );
  for (const s of secrets.values()) {
    for (const k of Object.keys(s.data)) {
      assert.match(
        Buffer.from(s.data[k].replace(/\n/g, ""), "base64").toString("utf8"),
        /FAKE|^(deadbeef)+$/,
        `${describe(s)}: dev secrets must be visibly fake`,
      );
    }
  }
});

// ---------------------------------------------------------------------------------------------
// prod

const prod = () => render("overlays/prod");

test("prod: 3 metadata and 3 block-store shards", () => {
  const ws = byService(prod());
  assert.equal(ws.metadata.spec.replicas, 3);
  assert.equal(ws.blockstore.spec.replicas, 3);
  for (const caller of ["edge", "merge"]) {
    const flags = flagsOf(kilnContainer(ws[caller]));
    assert.equal(flags.get("metadata_target").split(",").length, 3);
    assert.equal(flags.get("blockstore_target").split(",").length, 3);
  }
});

test("prod: edge 3-20 and merge 2-10 under CPU HorizontalPodAutoscalers", () => {
  const objects = prod();
  const expected = { "kiln-edge": [3, 20], "kiln-merge": [2, 10] };
  const hpas = ofKind(objects, "HorizontalPodAutoscaler");
  assert.deepEqual(hpas.map((h) => h.metadata.name).sort(), Object.keys(expected));
  for (const h of hpas) {
    assert.equal(h.apiVersion, "autoscaling/v2");
    const [min, max] = expected[h.metadata.name];
    assert.equal(h.spec.minReplicas, min, `${describe(h)} minReplicas`);
    assert.equal(h.spec.maxReplicas, max, `${describe(h)} maxReplicas`);
    assert.deepEqual(h.spec.scaleTargetRef, {
      apiVersion: "apps/v1",
      kind: "Deployment",
      name: h.metadata.name,
    });
    assert.ok(h.spec.metrics.some((m) => m.type === "Resource" && m.resource.name === "cpu"));
    const target = mustFind(objects, "Deployment", h.metadata.name);
    // A replicas field would be reset by every `kubectl apply`, fighting the autoscaler.
    assert.equal(
      target.spec.replicas,
      undefined,
      `${describe(target)} must leave replicas to the HPA`,
    );
    const c = kilnContainer(target);
    assert.ok(
      c.resources?.requests?.cpu,
      `${describe(target)}: CPU utilization needs a CPU request`,
    );
  }
});

test("prod: requests, limits, disruption budgets and anti-affinity for every workload", () => {
  const objects = prod();
  for (const w of workloads(objects)) {
    for (const c of containersOf(w)) {
      for (const kind of ["requests", "limits"]) {
        for (const res of ["cpu", "memory"]) {
          assert.ok(c.resources?.[kind]?.[res], `${describe(w)} ${c.name} has no ${res} ${kind}`);
        }
      }
    }
    const pdbs = ofKind(objects, "PodDisruptionBudget").filter((p) =>
      matches(p.spec.selector.matchLabels, w.spec.template.metadata.labels),
    );
    assert.equal(pdbs.length, 1, `${describe(w)} needs one PodDisruptionBudget`);
    assert.equal(pdbs[0].spec.maxUnavailable, 1);
    const terms =
      w.spec.template.spec.affinity?.podAntiAffinity
        ?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
    assert.ok(
      terms.some(
        (t) =>
          t.podAffinityTerm.topologyKey === "kubernetes.io/hostname" &&
          matches(t.podAffinityTerm.labelSelector.matchLabels, w.spec.template.metadata.labels),
      ),
      `${describe(w)} must prefer spreading its pods over nodes`,
    );
  }
});

test("prod: volumes of a claim template keep their labels and the prod sizes", () => {
  const ws = byService(prod());
  const sizes = { metadata: "50Gi", blockstore: "200Gi" };
  for (const [svc, size] of Object.entries(sizes)) {
    const vct = ws[svc].spec.volumeClaimTemplates;
    assert.equal(vct.length, 1);
    assert.equal(vct[0].spec.resources.requests.storage, size);
    assert.equal(vct[0].metadata.labels["app.kubernetes.io/name"], `kiln-${svc}`);
  }
});

test("prod: no secret values, only references to the documented Secrets", () => {
  const objects = prod();
  assert.equal(ofKind(objects, "Secret").length, 0, "prod must not carry Secret values");
  const refs = workloads(objects).flatMap((w) =>
    (w.spec.template.spec.volumes ?? []).filter((v) => v.secret).map((v) => v.secret.secretName),
  );
  assert.deepEqual([...new Set(refs)].sort(), [
    "kiln-edge-tls",
    "kiln-kek",
    "kiln-token-public-key",
    "kiln-url-signing-key",
  ]);
  const edge = flagsOf(kilnContainer(mustFind(objects, "Deployment", "kiln-edge")));
  assert.equal(edge.get("auth"), "es256");
  assert.equal(edge.get("token_public_key"), "@/etc/kiln/token/public-key");
  assert.equal(edge.get("url_signing_key_file"), "/etc/kiln/url-signing/key");
  assert.equal(edge.get("public_url"), "https://kiln.example.com");
  const metadata = flagsOf(kilnContainer(mustFind(objects, "StatefulSet", "kiln-metadata")));
  assert.equal(metadata.get("kek_file"), "/etc/kiln/kek/kek");
  assert.equal(metadata.get("insecure_dev_kek"), undefined);
});

test("prod: the edge serves TLS from a kubernetes.io/tls Secret and probes over HTTPS", () => {
  const edge = mustFind(prod(), "Deployment", "kiln-edge");
  const c = kilnContainer(edge);
  const flags = flagsOf(c);
  assert.equal(flags.get("tls_cert"), "/etc/kiln/tls/tls.crt");
  assert.equal(flags.get("tls_key"), "/etc/kiln/tls/tls.key");
  const mount = c.volumeMounts.find((vm) => vm.mountPath === "/etc/kiln/tls");
  const vol = edge.spec.template.spec.volumes.find((v) => v.name === mount.name);
  assert.equal(vol.secret.secretName, "kiln-edge-tls");
  assert.equal(c.readinessProbe.httpGet.scheme, "HTTPS");
  assert.equal(c.livenessProbe.httpGet.scheme, "HTTPS");
});

test("prod: a ServiceMonitor scrapes the metrics port of each service", () => {
  const objects = prod();
  const sms = ofKind(objects, "ServiceMonitor");
  assert.equal(sms.length, 4);
  for (const svc of Object.keys(KINDS)) {
    const sm = mustFind(objects, "ServiceMonitor", `kiln-${svc}`);
    assert.deepEqual(
      sm.spec.endpoints.map((e) => [e.port, e.path]),
      [["metrics", "/metrics"]],
    );
    const selected = ofKind(objects, "Service").filter(
      (s) =>
        matches(sm.spec.selector.matchLabels, s.metadata.labels) &&
        s.spec.ports.some((p) => p.name === "metrics"),
    );
    assert.equal(selected.length, 1, `${describe(sm)} must select one Service with a metrics port`);
    assert.equal(selected[0].spec.ports.find((p) => p.name === "metrics").port, PORTS[svc].metrics);
  }
});

// A small NetworkPolicy evaluator for the features the manifests use (pod and namespace label
// selectors, numeric and named ports): is a TCP connection from a pod to a pod's port allowed?
function podLabels(objects, svc) {
  const w = find(objects, KINDS[svc], `kiln-${svc}`);
  return { labels: w.spec.template.metadata.labels, ns: "kiln", container: kilnContainer(w) };
}

function portMatches(rulePorts, port, container) {
  if (!rulePorts || rulePorts.length === 0) return true;
  return rulePorts.some((p) => {
    if ((p.protocol ?? "TCP") !== "TCP") return false;
    const num = typeof p.port === "string" ? containerPort(container, p.port) : p.port;
    return (
      p.port === undefined || num === port || (p.endPort && port >= p.port && port <= p.endPort)
    );
  });
}

function peerMatches(peers, other) {
  if (!peers || peers.length === 0) return true;
  return peers.some((peer) => {
    if (peer.ipBlock) return other.ip !== undefined;
    const nsOk = peer.namespaceSelector
      ? matches(peer.namespaceSelector.matchLabels, { "kubernetes.io/metadata.name": other.ns })
      : other.ns === "kiln";
    const podOk = peer.podSelector ? matches(peer.podSelector.matchLabels, other.labels) : true;
    return nsOk && podOk;
  });
}

// Direction "Ingress": policies on `to` must admit `from`; "Egress": policies on `from` must
// admit `to`. A pod no policy of that type selects is unrestricted.
function allowedOneWay(policies, direction, self, other, port, portOwner) {
  if (self.ns !== "kiln") return true;
  const mine = policies.filter(
    (p) =>
      matches(p.spec.podSelector.matchLabels, self.labels) &&
      (p.spec.policyTypes ?? ["Ingress"]).includes(direction),
  );
  if (mine.length === 0) return true;
  const key = direction === "Ingress" ? "ingress" : "egress";
  const peerKey = direction === "Ingress" ? "from" : "to";
  return mine.some((p) =>
    (p.spec[key] ?? []).some(
      (rule) =>
        peerMatches(rule[peerKey], other) && portMatches(rule.ports, port, portOwner.container),
    ),
  );
}

function allowed(policies, from, to, port) {
  return (
    allowedOneWay(policies, "Egress", from, to, port, to) &&
    allowedOneWay(policies, "Ingress", to, from, port, to)
  );
}

test("prod: NetworkPolicies allow exactly the mesh's traffic", () => {
  const objects = prod();
  const policies = ofKind(objects, "NetworkPolicy");
  const pod = (svc) => podLabels(objects, svc);
  const outsider = { labels: { app: "something-else" }, ns: "default" };
  const sameNsStranger = { labels: { app: "something-else" }, ns: "kiln" };
  const prometheus = { labels: { "app.kubernetes.io/name": "prometheus" }, ns: "monitoring" };
  const dns = { labels: { "k8s-app": "kube-dns" }, ns: "kube-system", container: { ports: [] } };

  const allow = [
    [outsider, pod("edge"), 8787],
    [pod("edge"), pod("merge"), 7103],
    [pod("edge"), pod("metadata"), 7102],
    [pod("edge"), pod("blockstore"), 7101],
    [pod("merge"), pod("metadata"), 7102],
    [pod("merge"), pod("blockstore"), 7101],
    ...Object.keys(KINDS).map((s) => [prometheus, pod(s), PORTS[s].metrics]),
    ...Object.keys(KINDS).map((s) => [pod(s), dns, 53]),
  ];
  const deny = [
    [outsider, pod("merge"), 7103],
    [outsider, pod("metadata"), 7102],
    [outsider, pod("blockstore"), 7101],
    [sameNsStranger, pod("metadata"), 7102],
    [sameNsStranger, pod("edge"), 9104],
    [pod("merge"), pod("merge"), 7103],
    [pod("metadata"), pod("blockstore"), 7101],
    [pod("blockstore"), pod("metadata"), 7102],
    [pod("merge"), pod("edge"), 8787],
    [pod("edge"), pod("metadata"), 9102],
    [outsider, pod("edge"), 9104],
    [{ ...prometheus, ns: "default" }, pod("metadata"), 9102],
    [prometheus, pod("metadata"), 7102],
  ];
  const name = (p) => p.labels["app.kubernetes.io/name"] ?? `${p.ns}/${JSON.stringify(p.labels)}`;
  for (const [from, to, port] of allow) {
    assert.ok(
      allowed(policies, from, to, port),
      `${name(from)} -> ${name(to)}:${port} must be allowed`,
    );
  }
  for (const [from, to, port] of deny) {
    assert.ok(
      !allowed(policies, from, to, port),
      `${name(from)} -> ${name(to)}:${port} must be denied`,
    );
  }
  const deflt = mustFind(objects, "NetworkPolicy", "kiln-default-deny");
  assert.deepEqual(deflt.spec.policyTypes, ["Ingress", "Egress"]);
  for (const w of workloads(objects)) {
    assert.ok(
      matches(deflt.spec.podSelector.matchLabels, w.spec.template.metadata.labels),
      describe(w),
    );
  }
});

test("prod: the namespace enforces the restricted Pod Security Standard", () => {
  const ns = mustFind(prod(), "Namespace", "kiln");
  assert.equal(ns.metadata.labels["pod-security.kubernetes.io/enforce"], "restricted");
  for (const o of prod().filter((x) => x.kind !== "Namespace")) {
    assert.equal(o.metadata.namespace, "kiln", `${describe(o)} is outside the namespace`);
  }
});
