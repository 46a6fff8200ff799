// Issuer key sets for the edge's ES256 mode: the path where the edge publishes the keys it trusts
// (its own issuer's current and previous public keys, as a JSON Web Key Set), and a source that
// trusts an external issuer by JWKS URL (kiln-edge --token_jwks_url), e.g. Fireproof's dashboard
// or an identity provider.
//
// JwksKeySource fetches the set with the libcurl client (common/http_client.h) at start and every
// `refresh`; a failed fetch (unreachable, non-200, not a usable JWKS) keeps the last good set and
// is counted in kiln_edge_jwks_fetch_failures_total. A set older than `max_stale` (no successful
// fetch for that long) is dropped, so tokens signed by a key the issuer has since removed are not
// accepted forever while the issuer is unreachable.
//
// Threading: thread-safe. A background thread does the fetches (they block); Current() never
// blocks on the network.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/http_client.h"
#include "common/jwt.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace kiln::edge {

// Where the edge serves the public keys of the issuer it trusts.
inline constexpr absl::string_view kJwksPath = "/.well-known/jwks.json";

struct JwksSourceOptions {
  std::string url;  // http:// or https://
  absl::Duration refresh = absl::Minutes(5);
  absl::Duration max_stale = absl::Hours(1);
  TokenVerifierOptions verifier;
};

class JwksKeySource {
 public:
  // `http` and `clock` must outlive the source. Does not fetch: call Refresh and Start.
  JwksKeySource(JwksSourceOptions options, HttpClient& http, const Clock& clock,
                prometheus::Registry& registry);
  ~JwksKeySource();

  // Fetches the set once now. On success it replaces the current set. UNAVAILABLE when the URL
  // cannot be fetched or answers other than 200, INVALID_ARGUMENT when the body is not a usable
  // JWKS; the current set is kept then.
  absl::Status Refresh();

  // Refreshes every options.refresh on a background thread until destruction.
  void Start();

  // A verifier for the current set, or nullptr when there is none (never fetched, or the last
  // good set is older than max_stale).
  std::shared_ptr<const TokenVerifier> Current() const;

 private:
  void Loop();

  const JwksSourceOptions options_;
  HttpClient& http_;
  const Clock& clock_;
  prometheus::Counter* fetches_ok_;
  prometheus::Counter* fetch_failures_;
  prometheus::Gauge* last_success_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const TokenVerifier> current_ ABSL_GUARDED_BY(mu_);
  absl::Time fetched_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace kiln::edge
