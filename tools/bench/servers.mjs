// The protocol servers the real-client benchmarks compare, by name: "kiln" (from $KILN_BUILD_DIR,
// durable RocksDB, --auth=none), "kiln:nosync" (its RocksDB stores without fsync), "oracle" (the
// differential oracle, tests/support/oracle.mjs) and "oracle:<ms>" (the oracle with that commit
// delay on every reqPutMeta). Returns a function that starts one.
import { startKiln } from "../../tests/e2e/lib/kiln.mjs";
import { startOracle } from "../../tests/support/oracle.mjs";

export function serverStarter(name) {
  const [kind, opt = ""] = name.split(":");
  if (kind === "kiln") return () => startKiln({ auth: "none", sync: opt !== "nosync" });
  if (kind === "oracle") return () => startOracle({ ackDelayMs: Number(opt || 0) });
  throw new Error(`unknown server ${name} (kiln, kiln:nosync, oracle, oracle:<ack delay ms>)`);
}
