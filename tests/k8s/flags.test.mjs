// Every flag the manifests pass is accepted by its binary: each container's args are given to
// $KILN_BUILD_DIR/services/<svc>/kiln-<svc> followed by --version. absl parses the whole command
// line first (an unknown flag or a value of the wrong type is an error, exit 1) and only then
// handles --version (exit 0), before any flag is used, so files named by the args need not exist.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { BUILD_DIR, RENDERS, SERVICES, containersOf, describe, render, workloads } from "./lib.mjs";

function binaryFor(container) {
  const m = /^\/usr\/local\/bin\/kiln-([a-z]+)$/.exec(container.command?.[0] ?? "");
  assert.ok(m, `${container.name}: command must be /usr/local/bin/kiln-<service>`);
  assert.ok(SERVICES.includes(m[1]), `${container.name}: unknown service ${m[1]}`);
  return path.join(BUILD_DIR, "services", m[1], `kiln-${m[1]}`);
}

// Runs the binary with the args and --version; returns { status, stderr }.
function parseFlags(binary, args) {
  assert.ok(existsSync(binary), `${binary} is missing: build it or set KILN_BUILD_DIR`);
  const r = spawnSync(binary, [...args, "--version"], { encoding: "utf8", timeout: 30_000 });
  return { status: r.status, stderr: r.stderr };
}

// An integer flag of each binary, for the bad-value check.
const INT_FLAG = {
  blockstore: "io_threads",
  metadata: "io_threads",
  merge: "max_commit_attempts",
  edge: "io_threads",
};

test("the binaries reject unknown flags and bad values before handling --version", () => {
  for (const svc of SERVICES) {
    const bin = path.join(BUILD_DIR, "services", svc, `kiln-${svc}`);
    let r = parseFlags(bin, ["--metrics_address=0.0.0.0:9100"]);
    assert.equal(r.status, 0, `${svc}: a known flag: ${r.stderr}`);
    r = parseFlags(bin, ["--metrics_address=0.0.0.0:9100", "--no_such_flag_in_kiln=1"]);
    assert.notEqual(r.status, 0, `${svc} accepted an unknown flag`);
    assert.match(r.stderr, /Unknown command line flag 'no_such_flag_in_kiln'/);
    r = parseFlags(bin, [`--${INT_FLAG[svc]}=many`]);
    assert.notEqual(r.status, 0, `${svc} accepted --${INT_FLAG[svc]}=many`);
    assert.match(
      r.stderr,
      new RegExp(`Illegal value 'many' specified for flag '${INT_FLAG[svc]}'`),
    );
  }
});

for (const dir of RENDERS) {
  test(`every container of k8s/${dir} passes only flags its binary accepts`, () => {
    let checked = 0;
    for (const w of workloads(render(dir))) {
      for (const c of containersOf(w)) {
        const r = parseFlags(binaryFor(c), c.args ?? []);
        assert.equal(r.status, 0, `${describe(w)} container ${c.name}:\n${r.stderr}`);
        assert.doesNotMatch(r.stderr, /ERROR/, `${describe(w)} container ${c.name}`);
        checked++;
      }
    }
    assert.equal(checked, SERVICES.length, "one container per service");
  });
}
