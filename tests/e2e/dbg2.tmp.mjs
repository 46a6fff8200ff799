import { fireproof } from "@fireproof/core";
const db = fireproof("x", { storeUrls: { base: "memory://q" } });
if (process.argv[2]) db.subscribe(() => console.log("changed"), true);
const t = setTimeout(() => { console.log("put hung"); process.exit(1); }, 5000);
console.log(await db.put({ _id: "a", v: 1 }));
clearTimeout(t);
await db.close();
