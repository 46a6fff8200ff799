// The s3:// backend's streaming writer and reader (see s3_backend.h for the scheme). Internal to
// the block-store. Each object is used by one thread at a time; calls block on the network.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/blockstore/s3_backend.h"

namespace kiln::blockstore {

// A multipart upload fed part by part. Parts are `part_bytes` long except the last; nothing is
// sent before the first full part (or the end of a smaller blob). Without a successful Commit the
// destructor aborts the upload, so nothing becomes visible.
class S3BlockBackend::MultipartWriter : public BlobWriter {
 public:
  MultipartWriter(S3BlockBackend& backend, std::string object, uint64_t size);
  ~MultipartWriter() override;

  size_t preferred_write_bytes() const override;
  absl::Status Write(std::string data) override { return Append(data); }
  // Uploads what `data` completes; UNAVAILABLE/INTERNAL/PERMISSION_DENIED as S3 requests fail.
  absl::Status Append(absl::string_view data);
  // Completes the upload under the key's lock (comparing with an object already there), then
  // gives the object its digest. Returns as BlockBackend::Put.
  absl::StatusOr<PutOutcome> Commit(const Sha256Digest& digest) override;

 private:
  absl::Status UploadPart(absl::string_view part);
  // Completes the upload (If-None-Match when `create_only`) and sets the digest.
  absl::Status Complete(bool create_only, const Sha256Digest& digest);

  S3BlockBackend& backend_;
  const std::string object_;
  const uint64_t size_;
  uint64_t appended_ = 0;
  std::string part_;       // bytes of the next part not yet uploaded
  std::string upload_id_;  // empty until the upload is started
  std::string parts_xml_;  // <Part> elements of the uploaded parts
  int parts_ = 0;
  bool completed_ = false;
};

// A HEAD sent ahead of a put when its writer is created, so that it overlaps the blob's arrival
// (S3BlockBackend::SendHeadAhead). The lookahead task fills it in, the committing thread takes it;
// thread-safe.
class S3BlockBackend::HeadAhead {
 public:
  // An answer older than this is not used: another process may have written the key since (on a
  // store that ignores If-None-Match only the HEAD keeps a key's first blob), so the HEAD does not
  // move much further from the PUT than before.
  static constexpr absl::Duration kMaxAge = absl::Seconds(1);

  // On the lookahead thread, before the HEAD goes out, with the key's write-slot count now; false
  // when the writer gave up on it (nothing is to be sent).
  bool Start(uint64_t writes);
  void Finish(absl::StatusOr<std::optional<ObjectInfo>> result);
  // At commit, under the key's lock, with its write-slot count now: the answer when it is still
  // valid (no put or delete in that slot finished since the HEAD was sent, not older than kMaxAge,
  // not a failure), else nullopt and the caller sends a HEAD itself. Waits for a HEAD in flight;
  // one still queued is not sent.
  std::optional<absl::StatusOr<std::optional<ObjectInfo>>> Take(uint64_t writes);
  // The writer is going away: a queued HEAD is not sent.
  void Cancel();

 private:
  enum class State { kQueued, kRunning, kDone, kCancelled };
  absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kQueued;
  uint64_t writes_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time sent_ ABSL_GUARDED_BY(mu_);
  absl::StatusOr<std::optional<ObjectInfo>> result_ ABSL_GUARDED_BY(mu_);
};

// A blob up to `multipart_threshold`, gathered for one PUT (which needs its digest up front). The
// HEAD its commit needs is sent when the writer is created (HeadAhead), so it overlaps the blob's
// arrival instead of following it.
class S3BlockBackend::SingleWriter : public BlobWriter {
 public:
  SingleWriter(S3BlockBackend& backend, std::string object, uint64_t size);
  ~SingleWriter() override;

  size_t preferred_write_bytes() const override { return static_cast<size_t>(size_); }
  absl::Status Write(std::string data) override;
  // Returns as BlockBackend::Put.
  absl::StatusOr<PutOutcome> Commit(const Sha256Digest& digest) override;

 private:
  S3BlockBackend& backend_;
  const std::string object_;
  const uint64_t size_;
  std::string data_;
  std::shared_ptr<HeadAhead> ahead_;  // null when the lookahead executor was busy
};

// Ranged GETs of `part_bytes` windows, all conditional on the first answer's ETag (a replaced
// object fails the read with UNAVAILABLE rather than mixing two objects' bytes).
class S3BlockBackend::RangeReader : public BlobReader {
 public:
  // NOT_FOUND when missing (or unverified and not served), DATA_LOSS for a malformed digest or a
  // one-window blob that does not match it, UNAVAILABLE when the store fails.
  static absl::StatusOr<std::unique_ptr<BlobReader>> Open(S3BlockBackend& backend,
                                                          std::string object);

  absl::StatusOr<absl::string_view> Read() override;

 private:
  RangeReader(S3BlockBackend& backend, std::string object)
      : backend_(backend), object_(std::move(object)) {}
  // Fetches [offset, offset + window) into `window_`, hashing it into `hasher` as it arrives.
  absl::Status Fetch(uint64_t offset, Sha256Hasher* hasher);
  // Reads the remaining windows once to learn an unverified object's digest.
  absl::Status ComputeDigest();

  S3BlockBackend& backend_;
  const std::string object_;
  std::string etag_;
  std::string window_;
  uint64_t next_ = 0;          // offset of the first byte not yet returned
  bool first_pending_ = true;  // window_ holds the first window, not yet returned
  Sha256Hasher hasher_;
};

}  // namespace kiln::blockstore
