// Fuzz target: the edge's protocol message handling, from the bytes of a `PUT /fp` body or a
// WebSocket text frame to the serialized reply. The parsing is not a separate function in
// services/edge: http_server.cc parses the body with boost::json::parse and hands the object to
// Dispatcher::Handle (services/edge/dispatcher.h), which reads every field. This target does the
// same two steps (the narrowest entry point that exists) with a fake EdgeBackend that answers at
// once, then serializes the reply as the server does.
//
// Each input is handled three times: over HTTP and over a WebSocket session with development auth,
// and over HTTP with ES256 auth (the Fireproof runtime key, at its tokens' issue time, so seeds
// carrying real tokens pass the access checks). A bindGetMeta over WebSocket is left out: it opens
// a metadata Watch stream, which needs a live peer. The input is the message text itself, so the
// corpus files are readable JSON messages.
// Properties: no crash; every reply is a JSON object with a string "type"; "error" replies carry
// HTTP status 500 (400 for text that is not a JSON object).
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "common/jwt.h"
#include "common/meta_event.h"
#include "glog/logging.h"
#include "grpcpp/create_channel.h"
#include "prometheus/registry.h"
#include "services/edge/auth.h"
#include "services/edge/dispatcher.h"
#include "tests/edge/fake_ledger_watcher.h"
#include "tests/fuzz/fireproof_runtime_key.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/support/fake_clock.h"

namespace kiln::fuzz {
namespace {

using edge::Reply;

// Answers at once: puts succeed unless the tenant starts with "fail" (then UNAVAILABLE, the
// not-ready path); reads return one head entry and one key.
class FakeBackend : public edge::EdgeBackend {
 public:
  FakeBackend() {
    const Cid car = CidForSha256(kCodecFireproofCar, "car");
    const EncodedMetaEntry entry = EncodeMetaEntry({car}, {});
    auto* state = ledger_.mutable_state();
    state->set_version(3);
    auto* head = state->add_head_entries();
    head->set_cid(entry.cid);
    head->set_data(entry.data);
    state->add_keys("z3WRJ5dPTqoVSGBYLnnjkS6v");
  }
  void PutMeta(merge::v1::PutMetaRequest request,
               Callback<merge::v1::PutMetaResponse> done) override {
    if (request.tenant().rfind("fail", 0) == 0) {
      return done(absl::UnavailableError("merge is restarting"));
    }
    done(merge::v1::PutMetaResponse());
  }
  void GetLedger(metadata::v1::GetLedgerRequest request,
                 Callback<metadata::v1::GetLedgerResponse> done) override {
    if (request.tenant().rfind("fail", 0) == 0) {
      return done(absl::NotFoundError("no such ledger"));
    }
    done(ledger_);
  }

 private:
  metadata::v1::GetLedgerResponse ledger_;
};

// A WebSocket connection that keeps only the size of what it is sent.
class FakeSession : public edge::ClientSession {
 public:
  void Push(std::string json, std::chrono::steady_clock::time_point) override {
    pushed_bytes_ += json.size();
  }

 private:
  size_t pushed_bytes_ = 0;
};

struct Mesh {
  Mesh()
      : es256_auth(edge::NewEs256Auth(*TokenVerifier::Create(kRuntimePublicKey), clock)),
        // Followers are used only by WebSocket binds, which this target skips.
        followers(watcher, clock, registry),
        open(edge::DispatcherOptions{}, *no_auth, signer, backend, followers, clock, registry),
        es256(edge::DispatcherOptions{}, *es256_auth, signer, backend, followers, clock, registry) {
  }

  FakeClock clock{absl::FromUnixSeconds(kRuntimeTokensIssued)};
  prometheus::Registry registry;
  FakeBackend backend;
  std::unique_ptr<edge::Authenticator> no_auth = edge::NewNoAuth();
  std::unique_ptr<edge::Authenticator> es256_auth;
  edge::UrlSigner signer{std::string(32, 's'), "http://127.0.0.1:8787"};
  edge::testing::FakeLedgerWatcher watcher;
  edge::LedgerFollowers followers;
  edge::Dispatcher open;
  edge::Dispatcher es256;
};

Mesh& GetMesh() {
  static Mesh* mesh = new Mesh();
  return *mesh;
}

void CheckReply(const Reply& reply) {
  const boost::json::value* type = reply.body.if_contains("type");
  FUZZ_CHECK(type != nullptr && type->is_string());
  if (type->get_string() == "error")
    FUZZ_CHECK(reply.http_status == 500 || reply.http_status == 400);
  // What the server writes to the socket.
  FUZZ_CHECK(!boost::json::serialize(reply.body).empty());
}

// One message through `dispatcher`, as http_server.cc handles a body or frame.
void HandleText(edge::Dispatcher& dispatcher, absl::string_view text,
                const std::shared_ptr<edge::ClientSession>& session) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(boost::json::string_view(text.data(), text.size()), ec);
  if (ec || !v.is_object()) {
    Reply r = dispatcher.BadJson(ec ? ec.message() : "not a JSON object");
    FUZZ_CHECK(r.http_status == 400);
    CheckReply(r);
    return;
  }
  if (session != nullptr) {
    const boost::json::value* type = v.get_object().if_contains("type");
    if (type != nullptr && type->is_string() && type->get_string() == "bindGetMeta") return;
  }
  std::optional<Reply> reply;
  dispatcher.Handle(std::move(v.get_object()), session, [&](Reply r) { reply = std::move(r); });
  FUZZ_CHECK(reply.has_value());  // the fake backend answers synchronously
  CheckReply(*reply);
}

}  // namespace
}  // namespace kiln::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  FLAGS_minloglevel = google::GLOG_FATAL;  // refusals are logged; the fuzzer makes millions
  kiln::fuzz::GetMesh();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kiln::fuzz::Mesh& mesh = kiln::fuzz::GetMesh();
  const absl::string_view text = kiln::fuzz::AsText(data, size);
  kiln::fuzz::HandleText(mesh.open, text, nullptr);
  kiln::fuzz::HandleText(mesh.open, text, std::make_shared<kiln::fuzz::FakeSession>());
  kiln::fuzz::HandleText(mesh.es256, text, nullptr);
  return 0;
}
