// Fakes of the merge service's peers (peers.h) for unit tests of the Committer: a block-store
// holding a set of CAR keys and a one-ledger metadata with a real compare-and-set, both able to
// fail on demand. Calls are answered at once, or held until Release() when `hold` is set (so a
// test can queue puts behind a batch in flight). Not thread-safe: tests drive them from one
// thread.
#pragma once

#include <deque>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "services/merge/peers.h"

namespace kiln::merge::testing {

// Answers calls at once, or keeps them for Release() while `hold` is set.
class HeldCalls {
 public:
  bool hold = false;
  // Answers every held call, including those the answers make, until none is left.
  void Release() {
    while (!held_.empty()) {
      auto call = std::move(held_.front());
      held_.pop_front();
      call();
    }
  }
  size_t held() const { return held_.size(); }

 protected:
  void Answer(absl::AnyInvocable<void()> call) {
    if (hold) {
      held_.push_back(std::move(call));
    } else {
      call();
    }
  }

 private:
  std::deque<absl::AnyInvocable<void()>> held_;
};

class FakeBlockStore : public BlockStoreClient, public HeldCalls {
 public:
  std::set<std::string> cars;
  absl::Status fail = absl::OkStatus();
  int calls = 0;

  void HasCars(const LedgerRef&, std::vector<std::string> keys,
               Callback<std::vector<bool>> done) override {
    ++calls;
    Answer([this, keys = std::move(keys), done = std::move(done)]() mutable {
      if (!fail.ok()) return done(fail);
      std::vector<bool> found;
      for (const auto& k : keys) found.push_back(cars.count(k) > 0);
      done(found);
    });
  }
};

// One ledger's version, heads and accepted entries. Commit applies only at the expected version
// (ABORTED otherwise), like metadata; `abort_commits` more commits fail with ABORTED as if
// another writer had won each time.
class FakeMetadata : public MetadataClient, public HeldCalls {
 public:
  uint64_t version = 0;
  std::vector<std::string> heads;
  std::set<std::string> accepted;
  int abort_commits = 0;
  absl::Status fail_reads = absl::OkStatus();
  int reads = 0;
  int commits = 0;

  void GetLedger(metadata::v1::GetLedgerRequest request,
                 Callback<metadata::v1::GetLedgerResponse> done) override {
    ++reads;
    Answer([this, request = std::move(request), done = std::move(done)]() mutable {
      if (!fail_reads.ok()) return done(fail_reads);
      metadata::v1::GetLedgerResponse response;
      response.mutable_state()->set_version(version);
      for (const auto& h : heads) response.mutable_state()->add_heads(h);
      for (const auto& cid : request.probe_cids()) {
        auto* probe = response.add_probes();
        probe->set_cid(cid);
        probe->set_accepted(accepted.count(cid) > 0);
      }
      done(response);
    });
  }

  void Commit(metadata::v1::CommitRequest request,
              Callback<metadata::v1::CommitResponse> done) override {
    ++commits;
    Answer([this, request = std::move(request), done = std::move(done)]() mutable {
      if (abort_commits > 0) {
        --abort_commits;
        ++version;  // another writer's commit
        return done(absl::AbortedError("version moved"));
      }
      if (request.expected_version() != version) return done(absl::AbortedError("stale"));
      metadata::v1::CommitResponse response;
      response.set_version(++version);
      heads.assign(request.heads().begin(), request.heads().end());
      for (const auto& e : request.entries()) {
        accepted.insert(e.cid());
        response.mutable_record()->add_entry_cids(e.cid());
      }
      done(response);
    });
  }
};

}  // namespace kiln::merge::testing
