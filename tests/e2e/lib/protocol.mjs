// Protocol-level access to the edge over HTTP (`PUT /fp`, one JSON message each way), with messages
// shaped exactly like the 0.24.19 client's (protocol doc section 2; core-gateways-cloud gateway.js
// buildReqSignedUrl, core-types-protocols-cloud msg-types.js).
import crypto from "node:crypto";

export const FP_MSG_VERSION = "FP-MSG-1.0";
export const GATEWAY_VERSION = "v0.1-fp-cloud";

export function newTid() {
  return crypto.randomBytes(12).toString("base64url");
}

export function authOf(token) {
  return { type: "fp-cloud-jwk", params: { jwk: token } };
}

// Sends one message to PUT <httpBase>/fp. Returns {status, body (parsed JSON or null), text}.
export async function fpRequest(httpBase, msg, { timeoutMs = 15_000 } = {}) {
  const res = await fetch(`${httpBase}/fp`, {
    method: "PUT",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: typeof msg === "string" ? msg : JSON.stringify(msg),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body, text };
}

export function gestaltMsg(token) {
  return {
    tid: newTid(),
    type: "reqGestalt",
    version: FP_MSG_VERSION,
    auth: authOf(token),
    gestalt: {
      storeTypes: ["meta", "file", "car", "wal"],
      id: "FP-Universal-Client",
      protocolCapabilities: ["reqRes", "stream"],
      httpEndpoints: ["/fp"],
      wsEndpoints: ["/ws"],
      encodings: ["JSON"],
      auth: [],
      requiresAuth: false,
      data: { inband: true, outband: true },
      meta: { inband: true, outband: true },
      wal: { inband: true, outband: true },
      reqTypes: [],
      resTypes: [],
      eventTypes: [],
    },
  };
}

export function openMsg(token, conn = { reqId: newTid() }) {
  return { tid: newTid(), type: "reqOpen", version: FP_MSG_VERSION, auth: authOf(token), conn };
}

// reqPutData / reqGetData / reqDelData (and bindGetMeta with store "meta").
export function signedUrlMsg(type, { token, conn, tenant, ledger, method, store, key, expires, name = "toCloud" }) {
  const urlParam = { key, store, tenant, ledger, name };
  if (expires !== undefined) urlParam.expires = expires;
  return {
    tid: newTid(),
    auth: authOf(token),
    type,
    conn,
    tenant: { tenant, ledger },
    methodParam: { method, store },
    urlParam,
    version: GATEWAY_VERSION,
  };
}

export function bindGetMetaMsg(opts) {
  return signedUrlMsg("bindGetMeta", { ...opts, method: "GET", store: "meta", key: "main" });
}

// reqPutMeta of `metas` (meta entries) and `keys` to the ledger's meta store.
export function putMetaMsg({ token, conn, tenant, ledger }, metas = [], keys = []) {
  return {
    tid: newTid(),
    type: "reqPutMeta",
    version: FP_MSG_VERSION,
    auth: authOf(token),
    conn,
    tenant: { tenant, ledger },
    methodParam: { method: "PUT", store: "meta" },
    urlParam: { key: "main", store: "meta", tenant, ledger, name: "toCloud" },
    meta: { metas, keys },
  };
}

// Gestalt + open over HTTP, like the client in HTTP mode. Returns the conn to put in later messages.
export async function openHttpSession(httpBase, token) {
  const g = await fpRequest(httpBase, gestaltMsg(token));
  if (g.status !== 200 || g.body?.type !== "resGestalt") {
    throw new Error(`reqGestalt failed: ${g.status} ${g.text.slice(0, 500)}`);
  }
  const o = await fpRequest(httpBase, openMsg(token));
  if (o.status !== 200 || o.body?.type !== "resOpen" || !o.body.conn?.resId) {
    throw new Error(`reqOpen failed: ${o.status} ${o.text.slice(0, 500)}`);
  }
  return o.body.conn;
}

// Asks for a signed URL; throws unless the answer is the expected response type.
export async function signedUrlFor(httpBase, type, opts) {
  const msg = signedUrlMsg(type, opts);
  const r = await fpRequest(httpBase, msg);
  const want = type.replace(/^req/, "res");
  if (r.status !== 200 || r.body?.type !== want || typeof r.body.signedUrl !== "string") {
    throw new Error(`${type} failed: ${r.status} ${r.text.slice(0, 500)}`);
  }
  return { msg, res: r.body, signedUrl: r.body.signedUrl };
}

// A CIDv1 string (raw codec, sha2-256) of `bytes`, in base32 lower case: the shape of a real key.
export function rawCid(bytes) {
  const digest = crypto.createHash("sha256").update(bytes).digest();
  const cid = Buffer.concat([Buffer.from([0x01, 0x55, 0x12, 0x20]), digest]);
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  let bits = 0;
  let value = 0;
  let out = "b";
  for (const byte of cid) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}
