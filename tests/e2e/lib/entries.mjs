// Real Fireproof meta entries made at the protocol level (protocol doc section 4): a dag-cbor clock
// event {data:{dbMeta}, parents} whose dbMeta names one CAR, with its CID and multibase data, and
// the CAR uploaded through the server's signed URL so that Kiln's merge accepts the entry.
// Uses the IPLD codecs the Fireproof client itself depends on (installed with it).
import crypto from "node:crypto";
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { fpRequest, putMetaMsg, signedUrlFor } from "./protocol.mjs";

const CAR_CODEC = 0x18;

export async function metaEntry(carCid, parents) {
  const dbMeta = new TextEncoder().encode(JSON.stringify({ cars: [{ "/": carCid }] }));
  const bytes = dagCbor.encode({ data: { dbMeta }, parents: parents.map((p) => CID.parse(p)) });
  const cid = CID.create(1, dagCbor.code, await sha256.digest(bytes));
  return { cid: cid.toString(), parents, data: "M" + Buffer.from(bytes).toString("base64") };
}

// The CID string of a CAR's bytes (codec 0x18, sha2-256).
export async function carCid(bytes) {
  return CID.create(1, CAR_CODEC, await sha256.digest(bytes)).toString();
}

// Uploads `bytes` as a CAR and returns its CID string.
export async function uploadCar(httpBase, { token, conn, tenant, ledger }, bytes) {
  const cid = await carCid(bytes);
  const { signedUrl } = await signedUrlFor(httpBase, "reqPutData", { token, conn, tenant, ledger, method: "PUT", store: "car", key: cid });
  const r = await fetch(signedUrl, { method: "PUT", body: bytes });
  if (!r.ok) throw new Error(`blob PUT ${signedUrl}: ${r.status}`);
  return cid;
}

export async function putMeta(httpBase, ctx, metas, keys = []) {
  const msg = putMetaMsg(ctx, metas, keys);
  const r = await fpRequest(httpBase, msg);
  if (r.status !== 200 || r.body?.type !== "resPutMeta") throw new Error(`reqPutMeta: ${r.status} ${r.text.slice(0, 500)}`);
  return r.body;
}

// A deterministic pseudo-random source (the seed is logged by the caller).
export function prng(seed) {
  let s = crypto.createHash("sha256").update(String(seed)).digest();
  let i = 0;
  return () => {
    if (i + 4 > s.length) {
      s = crypto.createHash("sha256").update(s).digest();
      i = 0;
    }
    const v = s.readUInt32LE(i) / 2 ** 32;
    i += 4;
    return v;
  };
}
