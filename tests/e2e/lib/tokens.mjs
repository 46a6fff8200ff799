// ES256 session tokens as Fireproof mints them (protocol doc section 5).
//
// QUIRK (see common/jwt.h): SessionTokenService.tokenFor writes `exp` as Date.now() + validFor, in
// MILLISECONDS. Kiln reads such values as milliseconds, so the default validFor (3600) would expire
// 3.6 s after minting; every token here asks for one hour in milliseconds.
import { sts } from "@fireproof/core-runtime";
import { webcrypto } from "node:crypto";

const ONE_HOUR_MS = 3600 * 1000;

// {alg, material:{publicKey, privateKey}, strings:{publicKey, privateKey}}; strings.publicKey is what
// kiln-edge takes as --token_public_key.
export function newKeyPair() {
  return sts.SessionTokenService.generateKeyPair("ES256");
}

function claimsFor({ userId = "e2e-user", tenant, ledger, right = "write", tenants, ledgers }) {
  return {
    userId,
    email: `${userId}@example.com`,
    created: new Date(),
    tenants: tenants ?? [{ id: tenant, role: "admin" }],
    ledgers: ledgers ?? [{ id: ledger, role: "admin", right }],
  };
}

// A token from the real Fireproof runtime. `right` is "write" or "read"; `tenants`/`ledgers` override
// the single tenant/ledger (the first entry of each becomes claims.selected, which the client uses).
export async function mintToken(keyPair, opts) {
  const svc = await sts.SessionTokenService.create({ token: keyPair.strings.privateKey });
  return svc.tokenFor({ ...claimsFor(opts), validFor: ONE_HOUR_MS });
}

// A token signed here with WebCrypto, for claims tokenFor cannot produce (an `exp` in the past).
// `payload` fields override the defaults (times in SECONDS unless you pass them otherwise).
export async function signRawToken(keyPair, opts, payload = {}) {
  const c = claimsFor(opts);
  const now = Math.floor(Date.now() / 1000);
  const body = {
    ...c,
    selected: { tenant: c.tenants[0].id, ledger: c.ledgers[0].id },
    iss: "fireproof",
    aud: "fireproof",
    iat: now,
    exp: now + 3600,
    ...payload,
  };
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const signingInput = `${enc({ alg: "ES256" })}.${enc(body)}`;
  const sig = await webcrypto.subtle.sign(
    { name: "ECDSA", hash: "SHA-256" },
    keyPair.material.privateKey,
    new TextEncoder().encode(signingInput),
  );
  // WebCrypto ECDSA signatures are r||s (IEEE P1363), which is the JOSE form.
  return `${signingInput}.${Buffer.from(sig).toString("base64url")}`;
}

// For --auth=none servers: a well-formed token whose claims select (tenant, ledger), so tests can keep
// their ledgers apart (the client takes tenant/ledger from claims.selected before anything else).
let devKeyPair;
export async function devToken(tenant, ledger) {
  devKeyPair ??= await newKeyPair();
  return mintToken(devKeyPair, { tenant, ledger });
}
