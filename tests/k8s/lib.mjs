// Helpers shared by the manifest tests: rendering with `kubectl kustomize`, finding objects and
// containers, parsing container args, and the kubernetes-models class for an object.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";

export const TEST_DIR = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(TEST_DIR, "../..");
export const K8S = path.join(ROOT, "k8s");
export const BUILD_DIR = process.env.KILN_BUILD_DIR
  ? path.resolve(process.env.KILN_BUILD_DIR)
  : path.join(ROOT, "build");

// What every render is checked against. The keys are the kustomizations under k8s/.
export const RENDERS = ["base", "overlays/dev", "overlays/prod", "overlays/prod-postgres"];
export const SERVICES = ["blockstore", "metadata", "merge", "edge"];

// The fixed ports of each service (README.md, "What runs where").
export const PORTS = {
  blockstore: { grpc: 7101, metrics: 9101 },
  metadata: { grpc: 7102, metrics: 9102 },
  merge: { grpc: 7103, metrics: 9103 },
  edge: { http: 8787, metrics: 9104 },
};
export const UID = 65532;

// Renders a kustomization directory (absolute, or relative to k8s/) and returns its YAML text.
export function renderText(dir) {
  const abs = path.isAbsolute(dir) ? dir : path.join(K8S, dir);
  return execFileSync("kubectl", ["kustomize", abs], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 64 << 20,
  });
}

const renderCache = new Map();
// Renders and parses a kustomization; the result is cached, so callers must not mutate it.
export function render(dir) {
  if (!renderCache.has(dir)) {
    const docs = YAML.parseAllDocuments(renderText(dir));
    for (const d of docs) {
      if (d.errors.length > 0) throw new Error(`${dir}: ${d.errors[0].message}`);
    }
    renderCache.set(
      dir,
      docs.map((d) => d.toJS()).filter((o) => o !== null),
    );
  }
  return renderCache.get(dir);
}

// Renders a throwaway kustomization with the given resources and components (paths relative
// to k8s/), e.g. base plus one component. Kustomize refuses absolute paths, so the kustomization
// is written to a temporary folder under tests/k8s/.
export function renderCustom({ resources = [], components = [] }) {
  const dir = tempDir();
  const rel = (p) => path.relative(dir, path.join(K8S, p));
  try {
    writeFileSync(
      path.join(dir, "kustomization.yaml"),
      YAML.stringify({
        apiVersion: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        resources: resources.map(rel),
        components: components.map(rel),
      }),
    );
    return YAML.parseAllDocuments(renderText(dir)).map((d) => d.toJS());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// A new empty folder under tests/k8s/ (ignored by git); the caller removes it.
export function tempDir() {
  return mkdtempSync(path.join(TEST_DIR, ".tmp-"));
}

export function ofKind(objects, kind) {
  return objects.filter((o) => o.kind === kind);
}

export function find(objects, kind, name) {
  return objects.find((o) => o.kind === kind && o.metadata.name === name);
}

export function mustFind(objects, kind, name) {
  const o = find(objects, kind, name);
  if (o === undefined) throw new Error(`no ${kind} ${name} in the render`);
  return o;
}

export function workloads(objects) {
  return objects.filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet");
}

// The Kiln service a workload runs ("kiln-metadata" -> "metadata").
export function serviceOf(workload) {
  return workload.metadata.name.replace(/^kiln-/, "");
}

export function containersOf(workload) {
  const spec = workload.spec.template.spec;
  return [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
}

// The one Kiln container of a workload.
export function kilnContainer(workload) {
  const cs = workload.spec.template.spec.containers;
  if (cs.length !== 1) throw new Error(`${workload.metadata.name}: expected one container`);
  return cs[0];
}

// Parses "--name=value" args into a Map; a flag given twice is an error (absl keeps the last one,
// which would hide a patch that appended instead of replacing).
export function flagsOf(container) {
  const flags = new Map();
  for (const arg of container.args ?? []) {
    const m = /^--([A-Za-z0-9_]+)(?:=(.*))?$/s.exec(arg);
    if (!m) throw new Error(`${container.name}: arg ${JSON.stringify(arg)} is not --flag=value`);
    if (flags.has(m[1])) throw new Error(`${container.name}: --${m[1]} given twice`);
    flags.set(m[1], m[2] ?? "");
  }
  return flags;
}

// The port number of "host:port".
export function portOf(address) {
  const m = /:(\d+)$/.exec(address);
  if (!m) throw new Error(`no port in ${address}`);
  return Number(m[1]);
}

export function containerPort(container, name) {
  const p = (container.ports ?? []).find((x) => x.name === name);
  return p?.containerPort;
}

// Where the kubernetes-models class for an apiVersion/kind lives: core and built-in groups in
// kubernetes-models, Prometheus Operator kinds in @kubernetes-models/prometheus-operator.
export function modelModule(apiVersion, kind) {
  if (apiVersion.startsWith("monitoring.coreos.com/")) {
    return `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`;
  }
  return `kubernetes-models/${apiVersion}/${kind}`;
}

export async function modelClass(apiVersion, kind) {
  const mod = await import(modelModule(apiVersion, kind));
  const cls = mod[kind];
  if (typeof cls !== "function") throw new Error(`no model class for ${apiVersion} ${kind}`);
  return cls;
}

export function describe(o) {
  return `${o.kind} ${o.metadata?.namespace ? o.metadata.namespace + "/" : ""}${o.metadata?.name}`;
}
