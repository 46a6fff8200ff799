// The concurrent-writers join race (docs/protocol-rules.md, rule 2.1), provoked many times: each
// trial is a new ledger where three real clients put PER documents each at once, starting at
// random times within STAGGER ms, then a fresh client attaches and must see every document within
// 10 s. Prints per server how many trials lost documents. A benchmark, not a test: the race
// cannot be forced, so only the rate over many trials says anything. Run by tools/bench/client.sh
// with RACE_TRIALS set.
import { startKiln } from "../../tests/e2e/lib/kiln.mjs";
import { startOracle } from "../../tests/support/oracle.mjs";
import { attachedClient, closeAll } from "../../tests/e2e/lib/clients.mjs";
import { devToken } from "../../tests/e2e/lib/tokens.mjs";
import { uniqueName } from "../../tests/e2e/lib/util.mjs";

const env = (name, dflt) => Number(process.env[name] ?? dflt);
const trials = env("RACE_TRIALS", 45);
const per = env("PER", 8);
const parallel = env("PARALLEL", 3);
const stagger = env("STAGGER", 300);
const servers = (process.env.SERVERS ?? "kiln oracle").split(/\s+/).filter(Boolean);
const start = { kiln: () => startKiln({ auth: "none" }), oracle: () => startOracle() };

// Returns "lost", "error" or "ok".
async function trial(server, t) {
  const token = await devToken("bench", uniqueName(`race-${t}`));
  const writers = await Promise.all(
    ["W1", "W2", "W3"].map((label) => attachedClient({ fpUrl: server.fpUrl("ws"), token, label })),
  );
  const all = [];
  try {
    await Promise.all(
      writers.map(async (w) => {
        await new Promise((r) => setTimeout(r, Math.random() * stagger));
        for (let i = 0; i < per; i++) {
          all.push(`${w.label}-${i}`);
          await w.put({ _id: `${w.label}-${i}` });
        }
      }),
    );
    await Promise.all(writers.map((w) => w.waitFor(all, { timeoutMs: 60_000 })));
    await Promise.all(writers.map((w) => w.flush()));
    const late = await attachedClient({ fpUrl: server.fpUrl("ws"), token, label: `late-${t}` });
    writers.push(late);
    const r = await late.tryWaitFor(all, { timeoutMs: 10_000 });
    if (!r.ok) console.log(`  trial ${t}: the joiner is missing ${JSON.stringify(r.missing)}`);
    return r.ok ? "ok" : "lost";
  } catch (e) {
    console.log(`  trial ${t}: ${e.message.split("\n")[0].slice(0, 200)}`);
    return "error";
  } finally {
    await closeAll(writers);
  }
}

for (const name of servers) {
  const server = await start[name]();
  const counts = { ok: 0, lost: 0, error: 0 };
  try {
    for (let t = 0; t < trials; t += parallel) {
      const n = Math.min(parallel, trials - t);
      const results = await Promise.all(Array.from({ length: n }, (_, j) => trial(server, t + j)));
      for (const r of results) counts[r]++;
    }
  } finally {
    await server.stop();
  }
  console.log(
    `server=${name} scenario=join_race trials=${trials} per_writer=${per} parallel=${parallel} ` +
      `stagger_ms=${stagger} lost=${counts.lost} errors=${counts.error}`,
  );
}
