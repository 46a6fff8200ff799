// s3:// block backend: each blob is one object in an S3-compatible bucket, at
// `<prefix>/<tenant>/<ledger>/<store>/<key>` (tenant and ledger with '%' and '/' escaped as %25
// and %2F so they stay one path segment; store is car, file, meta or wal). The blob's SHA-256 is
// stored with the object (x-amz-meta-kiln-sha256) and checked on every read. Objects are named by
// common/s3_blob_layout.h, which the edge shares to presign URLs straight to them.
//
// Contract as the other backends (block_backend.h): identical re-puts are idempotent, a key with
// different bytes is ALREADY_EXISTS, DATA_LOSS when bytes do not match their digest. Writes are
// one PUT (atomic in S3) or, above `multipart_threshold`, a multipart upload that becomes visible
// only when completed and is aborted on failure; an object without the kiln digest (an upload
// cut short on a store without atomic PUTs, or bytes put there by something else) is treated as
// absent, or with `serve_unverified` served unchecked (direct uploads), and may be overwritten.
// Puts of one key are serialized within this process; across processes `If-None-Match: *` makes the
// store refuse the second writer where it supports conditional writes (AWS, R2, MinIO; s3rver
// ignores it, and content-addressed keys make the race harmless there). Before writing, a HEAD
// learns what the key holds; for a blob that goes up as one PUT it is sent when the writer is
// created, overlapping the blob's arrival, and its answer is used at commit only if no put or
// delete of a key in the same write slot (one of 1024) finished since and it is less than a second
// old (so across processes the HEAD stays within a second of the PUT; otherwise the commit HEADs
// again).
//
// Large blobs stream: NewWriter sends a blob above `multipart_threshold` as a multipart upload,
// part by part as its bytes arrive, and since its digest is known only at the end, the completed
// object then gets the digest by a copy onto itself with replaced metadata (no data moves on
// stores that keep metadata apart; a server-side copy on others). Until that copy the object
// carries no digest and counts as unverified (above). NewReader reads in ranged GETs of
// `part_bytes` windows (a blob that fits one is read with one plain GET), hashing each window's
// bytes as they arrive and checking the digest as the last window arrives. A put or get therefore
// holds about one part (plus the service's batch), whatever the blob's size; Get and Put of whole
// blobs hold the blob (the service, cache(...) and mirror(...) stream; Get and Put are for callers
// that have or need the whole blob).
//
// Thread-safe; every call blocks on the network (see S3Client for retries and timeouts). The
// HEADs sent ahead of puts run on a small pool of the backend's own (8 threads).
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "common/executor.h"
#include "common/s3_client.h"
#include "services/blockstore/block_backend.h"

namespace kiln::blockstore {

struct S3BlockBackendOptions {
  S3ClientOptions client;
  // Object name prefix without slashes at either end; may be empty.
  std::string prefix;
  // Blobs larger than this go up as multipart uploads of `part_bytes` parts; reads go in windows
  // of `part_bytes`.
  uint64_t multipart_threshold = 16ull << 20;
  uint64_t part_bytes = 8ull << 20;
  // Objects without the kiln digest (uploaded straight to the store through presigned URLs) are
  // served, their digest computed from the bytes, and BatchStat reports them with an all-zero
  // sha256. When false they count as absent (an upload cut short on a store without atomic PUTs).
  bool serve_unverified = false;
  // Get (the whole-blob read) refuses (FAILED_PRECONDITION) objects larger than this instead of
  // reading them into memory: objects uploaded directly through presigned URLs have no size limit
  // of their own. Streamed reads (NewReader) have no such limit.
  uint64_t max_object_bytes = 256ull << 20;
};

class S3BlockBackend : public BlockBackend {
 public:
  explicit S3BlockBackend(S3BlockBackendOptions options);

  // All calls return UNAVAILABLE when the store cannot be reached or keeps failing,
  // PERMISSION_DENIED when it refuses the credentials, FAILED_PRECONDITION when the bucket is
  // missing, and otherwise as documented in block_backend.h.
  absl::StatusOr<PutOutcome> Put(const BlobKey& key, absl::string_view data,
                                 const Sha256Digest& digest) override;
  // Whole-blob read; FAILED_PRECONDITION for objects over `max_object_bytes`.
  absl::StatusOr<std::unique_ptr<Blob>> Get(const BlobKey& key) override;
  absl::StatusOr<std::unique_ptr<BlobWriter>> NewWriter(const BlobKey& key, uint64_t size) override;
  absl::StatusOr<std::unique_ptr<BlobReader>> NewReader(const BlobKey& key) override;
  absl::StatusOr<std::vector<std::optional<BlobInfo>>> BatchStat(
      const LedgerRef& ledger, Store store, absl::Span<const std::string> keys) override;
  absl::Status Delete(const BlobKey& key) override;
  absl::StatusOr<ListPage> List(const LedgerRef& ledger, Store store, absl::string_view start_after,
                                size_t limit) override;
  std::shared_ptr<prometheus::Collectable> StatsCollector() override;

  // The object name of `key` (for presigned URLs and tests).
  std::string ObjectName(const BlobKey& key) const;
  S3Client& client() { return client_; }

 private:
  std::string StorePrefix(const LedgerRef& ledger, Store store) const;
  struct ObjectInfo {
    BlobInfo info;
    bool verified = false;  // carries the kiln digest
  };
  // HEAD of an object: nullopt when absent.
  absl::StatusOr<std::optional<ObjectInfo>> Head(const std::string& object);
  // The blob's info as Get would serve it: nullopt when absent, or unverified and not served.
  absl::StatusOr<std::optional<BlobInfo>> Stat(const std::string& object);
  // `create_only`: send If-None-Match: * (ABORTED when the store already has the object).
  absl::Status PutSingle(const std::string& object, absl::string_view data,
                         const Sha256Digest& digest, bool create_only);
  class HeadAhead;  // s3_blob_streams.h
  // Under the key's lock: compares with a verified object already there (kAlreadyPresent or
  // ALREADY_EXISTS) or else calls `write` (create_only when nothing is there) and, when it reports
  // ABORTED (a concurrent creator), compares with what won. What is there comes from `ahead` (a
  // HEAD sent when the writer was created) when that is still valid, else from a HEAD now.
  absl::StatusOr<PutOutcome> CommitObject(const std::string& object, uint64_t size,
                                          const Sha256Digest& digest,
                                          absl::FunctionRef<absl::Status(bool create_only)> write,
                                          HeadAhead* ahead = nullptr);
  // Sends a HEAD of `object` on `lookahead_`; nullptr when that is busy.
  std::shared_ptr<HeadAhead> SendHeadAhead(const std::string& object);
  class MultipartWriter;  // s3_blob_streams.cc
  class RangeReader;      // s3_blob_streams.cc
  class SingleWriter;     // s3_blob_streams.cc
  // The object's slot in key_writes_. Its key lock is KeyLock(slot): the sizes divide, so the
  // objects counted in one slot share one lock.
  size_t WriteSlot(const std::string& object) const;
  absl::Mutex& KeyLock(size_t slot) { return key_locks_[slot % key_locks_.size()]; }

  const S3BlockBackendOptions options_;
  S3Client client_;
  std::array<absl::Mutex, 64> key_locks_;
  // Puts and deletes completed per slot (more slots than locks: a put rarely sees another
  // object's write): a HEAD sent ahead is stale once its slot's count moved.
  std::array<std::atomic<uint64_t>, 1024> key_writes_{};
  // Sends HEADs ahead of puts (SingleWriter). Last: its tasks use the members above.
  BoundedExecutor lookahead_;
};

}  // namespace kiln::blockstore
