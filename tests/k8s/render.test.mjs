// Every kustomization under k8s/ renders with `kubectl kustomize`, and so does base with each
// component alone (a component must not depend on another one or on an overlay).
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { K8S, RENDERS, SERVICES, render, renderCustom } from "./lib.mjs";

for (const dir of [...RENDERS, ...SERVICES.map((s) => `base/${s}`)]) {
  test(`k8s/${dir} renders`, () => {
    const objects = render(dir);
    assert.ok(objects.length > 0, `k8s/${dir} rendered nothing`);
    for (const o of objects) {
      assert.ok(o.apiVersion && o.kind && o.metadata?.name, `incomplete object in k8s/${dir}`);
    }
  });
}

test("the renders list every overlay under k8s/overlays", () => {
  const overlays = readdirSync(path.join(K8S, "overlays")).map((d) => `overlays/${d}`);
  for (const o of overlays) assert.ok(RENDERS.includes(o), `${o} is not tested: add it to RENDERS`);
});

for (const component of readdirSync(path.join(K8S, "components"))) {
  test(`base + components/${component} renders`, () => {
    const objects = renderCustom({
      resources: ["base"],
      components: [`components/${component}`],
    });
    assert.ok(objects.length >= render("base").length, "the component dropped objects");
  });
}
