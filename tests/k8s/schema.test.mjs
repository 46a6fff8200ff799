// Every rendered object validates offline against the Kubernetes API schema (kubernetes-models;
// @kubernetes-models/prometheus-operator for ServiceMonitor). The JSON schemas accept unknown
// fields, as the API server's schema does, while `kubectl apply` rejects them (strict field
// validation): so every object is also type-checked with TypeScript against the same models'
// declarations, where a misspelt or misplaced field is an error.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import {
  RENDERS,
  TEST_DIR,
  describe,
  modelClass,
  modelModule,
  mustFind,
  render,
  tempDir,
} from "./lib.mjs";

// Kustomize folds long base64 Secret values over several lines; the API server's base64 decoder
// (Go's encoding/base64) skips the newlines, the schema's "byte" format does not.
function unfoldSecretData(o) {
  const copy = structuredClone(o);
  if (copy.kind === "Secret" && copy.data) {
    for (const k of Object.keys(copy.data)) copy.data[k] = copy.data[k].replace(/\n/g, "");
  }
  return copy;
}

for (const dir of RENDERS) {
  test(`every object of k8s/${dir} validates against its API schema`, async () => {
    for (const o of render(dir)) {
      const Model = await modelClass(o.apiVersion, o.kind);
      assert.doesNotThrow(() => new Model(unfoldSecretData(o)).validate(), describe(o));
    }
  });
}

test("schema validation rejects broken objects", async () => {
  const prod = render("overlays/prod");
  const StatefulSet = await modelClass("apps/v1", "StatefulSet");
  const sts = structuredClone(mustFind(prod, "StatefulSet", "kiln-metadata"));
  new StatefulSet(structuredClone(sts)).validate();
  sts.spec.template.spec.containers[0].readinessProbe.grpc.port = "grpc";
  assert.throws(() => new StatefulSet(sts).validate(), /grpc\/port must be integer/);

  const HPA = await modelClass("autoscaling/v2", "HorizontalPodAutoscaler");
  const hpa = structuredClone(mustFind(prod, "HorizontalPodAutoscaler", "kiln-edge"));
  delete hpa.spec.maxReplicas;
  assert.throws(() => new HPA(hpa).validate(), /maxReplicas/);

  const ServiceMonitor = await modelClass("monitoring.coreos.com/v1", "ServiceMonitor");
  const sm = structuredClone(mustFind(prod, "ServiceMonitor", "kiln-edge"));
  new ServiceMonitor(structuredClone(sm)).validate();
  delete sm.spec.selector;
  assert.throws(() => new ServiceMonitor(sm).validate(), /selector/);
});

// Type-checks objects with tsc; returns { status, output }.
function typeCheck(objects) {
  const imports = new Map();
  const lines = [];
  objects.forEach((o, i) => {
    const type = `T${imports.size}`;
    const key = modelModule(o.apiVersion, o.kind);
    if (!imports.has(key)) imports.set(key, { type, name: `I${o.kind}` });
    lines.push(`// ${describe(o)}`);
    lines.push(`export const o${i}: ${imports.get(key).type} = ${JSON.stringify(o, null, 2)};`);
  });
  const header = [...imports].map(
    ([mod, { type, name }]) => `import type { ${name} as ${type} } from "${mod}";`,
  );
  const dir = tempDir();
  try {
    const file = path.join(dir, "objects.ts");
    writeFileSync(file, [...header, ...lines].join("\n") + "\n");
    const tsc = path.join(TEST_DIR, "node_modules/typescript/bin/tsc");
    const r = spawnSync(
      process.execPath,
      [
        tsc,
        "--noEmit",
        "--strict",
        "--skipLibCheck",
        "--target",
        "es2022",
        "--module",
        "nodenext",
        "--moduleResolution",
        "nodenext",
        "--pretty",
        "false",
        file,
      ],
      { encoding: "utf8" },
    );
    return { status: r.status, output: r.stdout + r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("every rendered object has only known fields of the right types (TypeScript check)", () => {
  const objects = RENDERS.flatMap((dir) => render(dir));
  const { status, output } = typeCheck(objects);
  assert.equal(status, 0, output);
});

test("the TypeScript check rejects unknown fields and bad enum values", () => {
  const prod = render("overlays/prod");
  const dep = structuredClone(mustFind(prod, "Deployment", "kiln-edge"));
  const c = dep.spec.template.spec.containers[0];
  c.readinesProbe = c.readinessProbe;
  delete c.readinessProbe;
  let r = typeCheck([dep]);
  assert.notEqual(r.status, 0);
  assert.match(r.output, /'"readinesProbe"' does not exist in type 'IContainer'/);

  const sm = structuredClone(mustFind(prod, "ServiceMonitor", "kiln-edge"));
  sm.spec.endpoints[0].prot = sm.spec.endpoints[0].port;
  r = typeCheck([sm]);
  assert.notEqual(r.status, 0);
  assert.match(r.output, /'"prot"' does not exist/);

  const np = structuredClone(mustFind(prod, "NetworkPolicy", "kiln-default-deny"));
  np.spec.policyTypes = ["Ingres"];
  r = typeCheck([np]);
  assert.notEqual(r.status, 0);
  assert.match(r.output, /"Ingres"/);
});
