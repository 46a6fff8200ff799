// Small helpers shared by the test files.
import crypto from "node:crypto";
import assert from "node:assert/strict";

// A unique, readable id for ledgers and documents, so tests sharing a server never see each other.
export function uniqueName(prefix) {
  return `${prefix}-${crypto.randomBytes(4).toString("hex")}`;
}

export function sha256Hex(s) {
  return crypto.createHash("sha256").update(s).digest("hex");
}

// Pseudo-random printable text of `bytes` characters from a logged seed (reproducible).
export function randomText(bytes, seed = crypto.randomBytes(8).toString("hex")) {
  const parts = [];
  let block = Buffer.from(seed);
  let len = 0;
  while (len < bytes) {
    block = crypto.createHash("sha512").update(block).digest();
    const s = block.toString("base64url");
    parts.push(s);
    len += s.length;
  }
  return parts.join("").slice(0, bytes);
}

// Fails if the client recorded upload errors (unhandled rejections) so far.
export async function assertNoClientErrors(...clients) {
  for (const c of clients) {
    const errors = await c.errors();
    assert.deepEqual(errors, [], `client ${c.label} recorded errors: ${JSON.stringify(errors)}`);
  }
}
