#include "services/edge/jwks.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/unlabelled_metrics.h"
#include "glog/logging.h"

namespace kiln::edge {

JwksKeySource::JwksKeySource(JwksSourceOptions options, HttpClient& http, const Clock& clock,
                             prometheus::Registry& registry)
    : options_(std::move(options)), http_(http), clock_(clock) {
  auto& fetches =
      prometheus::BuildCounter()
          .Name("kiln_edge_jwks_fetches_total")
          .Help("Fetches of the external issuer's key set (--token_jwks_url) by result.")
          .Register(registry);
  fetches_ok_ = &fetches.Add({{"result", "ok"}});
  fetch_failures_ =
      &UnlabelledCounter(registry, "kiln_edge_jwks_fetch_failures_total",
                         "Failed fetches of the external key set; the last good set is kept.");
  last_success_ = &UnlabelledGauge(registry, "kiln_edge_jwks_last_success_seconds",
                                   "Unix time of the last successful key set fetch.");
}

JwksKeySource::~JwksKeySource() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::Status JwksKeySource::Refresh() {
  HttpRequest request;
  request.method = "GET";
  request.url = options_.url;
  request.headers.emplace_back("accept", "application/json");
  request.max_response_bytes = kMaxJwksSize;
  absl::StatusOr<HttpResponse> response = http_.Send(request);
  absl::Status status;
  if (!response.ok()) {
    status = absl::UnavailableError(
        absl::StrCat("cannot fetch the key set: ", response.status().message()));
  } else if (response->status != 200) {
    status =
        absl::UnavailableError(absl::StrCat("the key set URL answered HTTP ", response->status));
  } else {
    absl::StatusOr<TokenVerifier> verifier =
        TokenVerifier::CreateFromJwks(response->body, options_.verifier);
    if (verifier.ok()) {
      absl::Time now = clock_.Now();
      {
        absl::MutexLock lock(&mu_);
        current_ = std::make_shared<const TokenVerifier>(*std::move(verifier));
        fetched_at_ = now;
      }
      fetches_ok_->Increment();
      last_success_->Set(absl::ToDoubleSeconds(now - absl::UnixEpoch()));
      return absl::OkStatus();
    }
    status = verifier.status();
  }
  fetch_failures_->Increment();
  LOG(WARNING) << "token key set refresh failed (keeping the last good set): " << status.message();
  return status;
}

void JwksKeySource::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void JwksKeySource::Loop() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
      if (mu_.AwaitWithTimeout(absl::Condition(&stop), options_.refresh)) return;
    }
    (void)Refresh();
  }
}

std::shared_ptr<const TokenVerifier> JwksKeySource::Current() const {
  absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  if (current_ == nullptr || now - fetched_at_ > options_.max_stale) return nullptr;
  return current_;
}

}  // namespace kiln::edge
