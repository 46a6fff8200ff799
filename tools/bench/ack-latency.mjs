// What the commit latency costs real clients writing at once (a benchmark, not a test). For each
// server in SERVERS (as tools/bench/client.mjs names them: kiln, kiln:nosync, oracle, oracle:<ms>),
// ROUNDS times, alternating: three real @fireproof/core writers put EACH documents at once and a
// real reader waits for all of them (lib/scenarios.mjs busyWritersAndReader), through a WebSocket
// proxy that times every reqPutMeta until its resPutMeta. Prints one line per run: the ack latency
// the writers saw (p50/p90 ms), the writers' CPU per commit, and whether every client converged.
//
//   KILN_BUILD_DIR=$PWD/build SERVERS="kiln kiln:nosync oracle oracle:10 oracle:25" EACH=20 ROUNDS=3 \
//     node tools/bench/ack-latency.mjs
import http from "node:http";
import { createRequire } from "node:module";
import { serverStarter } from "./servers.mjs";
import { busyWritersAndReader } from "../../tests/e2e/lib/scenarios.mjs";

const require = createRequire(new URL("../../tests/e2e/package.json", import.meta.url));
const { WebSocketServer, WebSocket } = require("ws");

const servers = (process.env.SERVERS ?? "kiln kiln:nosync oracle oracle:10 oracle:25").split(/\s+/).filter(Boolean);
const each = Number(process.env.EACH ?? 20);
const rounds = Number(process.env.ROUNDS ?? 3);

// HTTP is piped through unchanged; WebSocket frames are relayed, and each reqPutMeta's tid is timed
// until the answer with the same tid. Returns {port, latencies, stop()}.
async function startTimingProxy(upstreamPort) {
  const latencies = [];
  const server = http.createServer((req, res) => {
    const up = http.request({ host: "127.0.0.1", port: upstreamPort, method: req.method, path: req.url, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode, ur.headers);
      ur.pipe(res);
    });
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", (req, socket, head) =>
    wss.handleUpgrade(req, socket, head, (client) => {
      const upstream = new WebSocket(`ws://127.0.0.1:${upstreamPort}${req.url}`);
      const waiting = [];
      const sent = new Map(); // tid -> time the reqPutMeta went up
      upstream.on("open", () => waiting.splice(0).forEach((d) => upstream.send(d)));
      client.on("message", (d) => {
        const text = d.toString();
        const m = JSON.parse(text);
        if (m.type === "reqPutMeta") sent.set(m.tid, performance.now());
        if (upstream.readyState === WebSocket.OPEN) upstream.send(text);
        else waiting.push(text);
      });
      upstream.on("message", (d) => {
        const text = d.toString();
        const { tid, type } = JSON.parse(text);
        if (type !== "eventGetMeta" && sent.has(tid)) {
          latencies.push(performance.now() - sent.get(tid));
          sent.delete(tid);
        }
        if (client.readyState === WebSocket.OPEN) client.send(text);
      });
      client.on("close", () => upstream.close());
      upstream.on("close", () => client.close());
      client.on("error", () => upstream.terminate());
      upstream.on("error", () => client.terminate());
    }),
  );
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: server.address().port,
    latencies,
    stop: () => {
      for (const c of wss.clients) c.terminate();
      server.close();
    },
  };
}

const pct = (xs, p) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))].toFixed(0) : "-");

console.log(`# ${new Date().toISOString()} each=${each} rounds=${rounds} load ${(await import("node:os")).loadavg().map((x) => x.toFixed(1)).join(" ")}`);
for (let r = 1; r <= rounds; r++) {
  for (const name of servers) {
    const server = await serverStarter(name)();
    const upstreamPort = Number(new URL(server.fpUrl("ws").replace("fpcloud:", "http:")).port);
    const proxy = await startTimingProxy(upstreamPort);
    const viaProxy = { fpUrl: (protocol = "ws") => `fpcloud://127.0.0.1:${proxy.port}?protocol=${protocol}` };
    let outcome;
    try {
      const res = await busyWritersAndReader(viaProxy, { writers: 3, each });
      outcome = `passed writer_cpu_ms_per_commit=${(res.writerCpuSecondsPerCommit * 1000).toFixed(0)}`;
    } catch (e) {
      outcome = `FAILED: ${e.message.split("\n")[0].slice(0, 160)}`;
    }
    console.log(`round=${r} server=${name} ack_p50_ms=${pct(proxy.latencies, 0.5)} ack_p90_ms=${pct(proxy.latencies, 0.9)} ${outcome}`);
    proxy.stop();
    await server.stop().catch(() => {});
  }
}
process.exit(0);
