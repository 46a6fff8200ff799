// Refuses CAR uploads that cannot be a CAR: the plaintext a Fireproof client uploads when it has
// no bytes for a CAR it names.
//
// Why: CAR keys are CIDs of the plaintext, so the store cannot check an encrypted upload against
// its key, and the first upload of a key is kept (a later different ciphertext of the same content
// is refused with ALREADY_EXISTS). A 0.24.19 client that restarts on its persisted store re-uploads
// every CAR its CAR log names (core-blockstore loader.js `ensureAttachedStore`). A CAR it could not
// fetch earlier (for example while the edge was stalled) is cached as "stale" with *empty* bytes,
// and the client uploads the encryption of those empty bytes under the real CAR's key. Kept first,
// that empty CAR hides the real one for good, and every new reader fails with
// `Missing linked block` (docs/protocol-rules.md, rule 5).
//
// A CAR (v1) is at least 18 bytes: a varint and the header {roots: [], version: 1}. An upload to
// the car store is refused when it is empty, or when it is a Fireproof encrypted block envelope
// (DAG-CBOR map {iv, data, keyId}, all bytes, `data` the AES-GCM ciphertext with its 16-byte tag)
// whose plaintext is shorter than that. Anything else is stored as given: Kiln does not decrypt.
//
// Threading: a pure function, safe from any thread.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace kiln::blockstore {

// Blobs larger than this are never an envelope of a too-short plaintext (an envelope around 33
// plaintext bytes with a 64-byte key id is about 140 bytes), so only smaller ones are decoded.
inline constexpr uint64_t kCarEnvelopeProbeBytes = 512;

// `head` holds the first bytes of the upload (all of them when total_size <=
// kCarEnvelopeProbeBytes). Returns OK, or INVALID_ARGUMENT saying why the upload cannot be a CAR.
absl::Status CheckCarUpload(absl::string_view head, uint64_t total_size);

}  // namespace kiln::blockstore
