import { startKiln } from "./lib/kiln.mjs";
import { attachedClient, closeAll } from "./lib/clients.mjs";
const kiln = await startKiln();
console.log("edge", kiln.edgePort, kiln.dataDir);
const a = await attachedClient({ fpUrl: kiln.fpUrl("ws"), token: "dev", label: "A" });
console.log("attached");
console.log(await a.request({ op: "put", doc: { _id: "x", v: 1 } }, 10000).catch(e => e.message));
console.log(await a.request({ op: "count" }, 10000).catch(e => e.message));
await closeAll([a]); await kiln.stop();
