// The protocol dispatcher with a fake backend: message shapes, errors and access checks.
#include "services/edge/dispatcher.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "tests/edge/fake_ledger_watcher.h"
#include "tests/support/fake_clock.h"

namespace kiln::edge {
namespace {

using ::testing::HasSubstr;

class FakeBackend : public EdgeBackend {
 public:
  void PutMeta(merge::v1::PutMetaRequest request,
               Callback<merge::v1::PutMetaResponse> done) override {
    last_put = request;
    if (!put_result.ok()) return done(put_result);
    done(merge::v1::PutMetaResponse());
  }
  void GetLedger(metadata::v1::GetLedgerRequest request,
                 Callback<metadata::v1::GetLedgerResponse> done) override {
    last_get = request;
    done(ledger);
  }
  std::optional<merge::v1::PutMetaRequest> last_put;
  std::optional<metadata::v1::GetLedgerRequest> last_get;
  absl::Status put_result;
  metadata::v1::GetLedgerResponse ledger;
};

class DispatcherTest : public ::testing::Test {
 protected:
  Reply Send(const std::string& json, std::shared_ptr<ClientSession> session = nullptr) {
    std::optional<Reply> reply;
    dispatcher_.Handle(boost::json::parse(json).as_object(), session,
                       [&](Reply r) { reply = std::move(r); });
    EXPECT_TRUE(reply.has_value()) << "no synchronous reply with the fake backend";
    return reply.value_or(Reply{});
  }

  static std::string Msg(const std::string& type, const std::string& extra = "",
                         const std::string& token = "dev") {
    return "{\"tid\":\"tid-1\",\"type\":\"" + type +
           "\",\"version\":\"FP-MSG-1.0\",\"auth\":{\"type\":\"fp-cloud-jwk\",\"params\":{"
           "\"jwk\":\"" +
           token + "\"}}" + extra + "}";
  }

  // The gestalt a dispatcher built with `options` answers reqGestalt with.
  boost::json::object GestaltWith(const DispatcherOptions& options) {
    Dispatcher d(options, *auth_, signer_, backend_, followers_, clock_, registry_);
    std::optional<Reply> r;
    d.Handle(boost::json::parse(Msg("reqGestalt")).as_object(), nullptr,
             [&](Reply reply) { r = std::move(reply); });
    EXPECT_TRUE(r.has_value());
    return r.has_value() ? r->body["gestalt"].as_object() : boost::json::object{};
  }

  static constexpr char kLedger[] = ",\"tenant\":{\"tenant\":\"t1\",\"ledger\":\"l1\"}";

  FakeClock clock_;
  prometheus::Registry registry_;
  FakeBackend backend_;
  std::unique_ptr<Authenticator> auth_ = NewNoAuth();
  UrlSigner signer_{std::string(32, 's'), "http://127.0.0.1:8787"};
  // Followers are only used for WebSocket binds; no metadata is behind this watcher.
  testing::FakeLedgerWatcher watcher_;
  LedgerFollowers followers_{watcher_, clock_, registry_};
  Dispatcher dispatcher_{DispatcherOptions{}, *auth_, signer_,  backend_,
                         followers_,          clock_, registry_};
};

TEST_F(DispatcherTest, GestaltAdvertisesStreamAndEndpointsAndEchoesTid) {
  Reply r = Send(Msg("reqGestalt"));
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(r.body["type"], "resGestalt");
  EXPECT_EQ(r.body["tid"], "tid-1");
  auto& g = r.body["gestalt"].as_object();
  EXPECT_EQ(boost::json::serialize(g["protocolCapabilities"]), "[\"reqRes\",\"stream\"]");
  EXPECT_EQ(boost::json::serialize(g["wsEndpoints"]), "[\"/ws\"]");
  EXPECT_EQ(boost::json::serialize(g["httpEndpoints"]), "[\"/fp\"]");
}

TEST_F(DispatcherTest, WithoutStreamTheGestaltOffersRequestResponseOnly) {
  DispatcherOptions options;
  options.offer_stream = false;
  boost::json::object g = GestaltWith(options);
  EXPECT_EQ(boost::json::serialize(g["protocolCapabilities"]), "[\"reqRes\"]");
  EXPECT_EQ(boost::json::serialize(g["wsEndpoints"]), "[]");
  EXPECT_EQ(boost::json::serialize(g["httpEndpoints"]), "[\"/fp\"]");
}

TEST_F(DispatcherTest, UnderABasePathTheGestaltAdvertisesEndpointsBelowIt) {
  DispatcherOptions options;
  options.base_path = "/kiln";
  boost::json::object g = GestaltWith(options);
  EXPECT_EQ(boost::json::serialize(g["wsEndpoints"]), "[\"/kiln/ws\"]");
  EXPECT_EQ(boost::json::serialize(g["httpEndpoints"]), "[\"/kiln/fp\"]");
}

TEST_F(DispatcherTest, OpenKeepsAClientSuppliedResIdAndMakesOneOtherwise) {
  Reply kept = Send(Msg("reqOpen", ",\"conn\":{\"reqId\":\"r1\",\"resId\":\"mine\"}"));
  EXPECT_EQ(kept.body["type"], "resOpen");
  EXPECT_EQ(kept.body["conn"].as_object()["resId"], "mine");
  Reply fresh = Send(Msg("reqOpen", ",\"conn\":{\"reqId\":\"r1\"}"));
  EXPECT_EQ(fresh.body["conn"].as_object()["reqId"], "r1");
  EXPECT_FALSE(fresh.body["conn"].as_object()["resId"].as_string().empty());
}

TEST_F(DispatcherTest, UnknownTypeIsAnErrorReplyWithHttp500) {
  Reply r = Send(Msg("reqNonsense"));
  EXPECT_EQ(r.http_status, 500);
  EXPECT_EQ(r.body["type"], "error");
  EXPECT_EQ(r.body["tid"], "tid-1");
  EXPECT_EQ(r.body["message"], "unexpected message");
  EXPECT_EQ(r.body["src"].as_object()["type"], "reqNonsense");
}

TEST_F(DispatcherTest, MissingTokenIsRefused) {
  Reply r = Send(Msg("reqGestalt", "", ""));
  EXPECT_EQ(r.body["type"], "error");
  EXPECT_THAT(std::string(r.body["message"].as_string()), HasSubstr("token is required"));
}

TEST_F(DispatcherTest, MissingTenantOrLedgerIsAnError) {
  Reply r = Send(Msg("reqPutData", ",\"urlParam\":{\"key\":\"k\"}"));
  EXPECT_EQ(r.body["type"], "error");
  EXPECT_THAT(std::string(r.body["message"].as_string()), HasSubstr("tenant"));
}

TEST_F(DispatcherTest, BindOfAnEmptyLedgerRepliesAtOnceWithEmptyArrays) {
  Reply r = Send(Msg("bindGetMeta", std::string(kLedger) + ",\"urlParam\":{\"key\":\"main\"}"));
  EXPECT_EQ(r.body["type"], "eventGetMeta");
  EXPECT_EQ(boost::json::serialize(r.body["meta"]), "{\"metas\":[],\"keys\":[]}");
  ASSERT_TRUE(backend_.last_get.has_value());
  EXPECT_TRUE(backend_.last_get->include_entries());
}

TEST_F(DispatcherTest, BindReturnsHeadEntriesAndKeys) {
  auto* state = backend_.ledger.mutable_state();
  auto* e = state->add_head_entries();
  e->set_cid("bafyhead");
  e->add_parents("bafyparent");
  e->set_data("Mdata");
  state->add_keys("zKey");
  Reply r = Send(Msg("bindGetMeta", kLedger));
  EXPECT_EQ(boost::json::serialize(r.body["meta"]),
            "{\"metas\":[{\"cid\":\"bafyhead\",\"parents\":[\"bafyparent\"],\"data\":\"Mdata\"}],"
            "\"keys\":[\"zKey\"]}");
}

TEST_F(DispatcherTest, APolledBindAsksOnlyForWhatFollowedTheConnectionsLastPoll) {
  // HTTP polling (no session): the first poll is answered in full; later polls of the same conn
  // ask metadata only for what followed the version they were last answered at; every 30 s the
  // answer is full again, so a lost reply delays entries but never loses them.
  const std::string poll =
      Msg("bindGetMeta", std::string(kLedger) + ",\"conn\":{\"reqId\":\"q\",\"resId\":\"r\"}");
  backend_.ledger.mutable_state()->set_version(5);
  Send(poll);
  EXPECT_EQ(backend_.last_get->entries_after_version(), 0u);
  backend_.ledger.set_incremental(true);
  backend_.ledger.mutable_state()->set_version(7);
  Send(poll);
  EXPECT_EQ(backend_.last_get->entries_after_version(), 5u);
  Send(poll);
  EXPECT_EQ(backend_.last_get->entries_after_version(), 7u);
  // Another connection, or the same one on another ledger, has its own cursor.
  Send(Msg("bindGetMeta", std::string(kLedger) + ",\"conn\":{\"reqId\":\"q2\",\"resId\":\"r\"}"));
  EXPECT_EQ(backend_.last_get->entries_after_version(), 0u);
  clock_.Advance(absl::Seconds(31));
  Send(poll);
  EXPECT_EQ(backend_.last_get->entries_after_version(), 0u) << "a full answer every 30 s";
  // A bind without both conn ids is always answered in full.
  Send(Msg("bindGetMeta", kLedger));
  EXPECT_EQ(backend_.last_get->entries_after_version(), 0u);
}

TEST_F(DispatcherTest, PutMetaGoesToMergeWithEntriesKeysAndWriter) {
  Reply r = Send(
      Msg("reqPutMeta", std::string(kLedger) +
                            ",\"conn\":{\"reqId\":\"q\",\"resId\":\"w1\"},\"meta\":{\"metas\":[{"
                            "\"cid\":\"bafyc\",\"parents\":[\"bafyp\"],\"data\":\"Md\"}],\"keys\":["
                            "\"zK\"]}"));
  EXPECT_EQ(r.body["type"], "resPutMeta");
  ASSERT_TRUE(backend_.last_put.has_value());
  EXPECT_EQ(backend_.last_put->tenant(), "t1");
  EXPECT_EQ(backend_.last_put->writer(), "w1");
  ASSERT_EQ(backend_.last_put->entries_size(), 1);
  EXPECT_EQ(backend_.last_put->entries(0).cid(), "bafyc");
  EXPECT_EQ(backend_.last_put->entries(0).parents(0), "bafyp");
  EXPECT_EQ(backend_.last_put->keys(0), "zK");
}

TEST_F(DispatcherTest, RejectedPutMetaIsAnErrorWithTheReason) {
  backend_.put_result = absl::FailedPreconditionError("entries[0]: CAR baembei is missing");
  Reply r = Send(Msg("reqPutMeta", std::string(kLedger) + ",\"meta\":{\"metas\":[],\"keys\":[]}"));
  EXPECT_EQ(r.http_status, 500);
  EXPECT_EQ(r.body["type"], "error");
  EXPECT_THAT(std::string(r.body["message"].as_string()), HasSubstr("CAR baembei is missing"));
}

TEST_F(DispatcherTest, PutDataReturnsAVerifiableSignedUrl) {
  Reply r = Send(Msg("reqPutData", std::string(kLedger) +
                                       ",\"methodParam\":{\"method\":\"PUT\",\"store\":\"car\"},"
                                       "\"urlParam\":{\"key\":\"baembeik\",\"store\":\"car\"}"));
  EXPECT_EQ(r.body["type"], "resPutData");
  std::string url(r.body["signedUrl"].as_string());
  ASSERT_THAT(url, ::testing::StartsWith("http://127.0.0.1:8787/blob/t1/l1/car/baembeik?"));
  auto blob = signer_.Verify("PUT", url.substr(strlen("http://127.0.0.1:8787")), clock_.Now());
  EXPECT_TRUE(blob.ok()) << blob.status();
}

TEST_F(DispatcherTest, DataMessagesRejectTheWrongStore) {
  Reply r = Send(Msg("reqGetData", std::string(kLedger) +
                                       ",\"methodParam\":{\"store\":\"wal\"},\"urlParam\":{"
                                       "\"key\":\"k\"}"));
  EXPECT_EQ(r.body["type"], "error");
  EXPECT_THAT(std::string(r.body["message"].as_string()), HasSubstr("store"));
}

class RecordingSession : public ClientSession {
 public:
  void Push(std::string json, std::chrono::steady_clock::time_point) override {
    pushed.push_back(boost::json::parse(json).as_object());
  }
  std::vector<boost::json::object> pushed;
};

TEST_F(DispatcherTest, ChatIsBroadcastToTheOtherOpenConnections) {
  auto a = std::make_shared<RecordingSession>();
  auto b = std::make_shared<RecordingSession>();
  auto c = std::make_shared<RecordingSession>();
  Send(Msg("reqOpen", ",\"conn\":{\"reqId\":\"ra\",\"resId\":\"a\"}"), a);
  Send(Msg("reqOpen", ",\"conn\":{\"reqId\":\"rb\",\"resId\":\"b\"}"), b);
  Send(Msg("reqOpen", ",\"conn\":{\"reqId\":\"rc\",\"resId\":\"c\"}"), c);
  c.reset();  // a closed connection leaves the room
  Reply r =
      Send(Msg("reqChat", ",\"conn\":{\"reqId\":\"ra\",\"resId\":\"a\"},\"message\":\"hi\""), a);
  EXPECT_EQ(r.body["type"], "resChat");
  EXPECT_EQ(r.body["message"], "ack: hi");
  EXPECT_EQ(r.body["targets"].as_array().size(), 2u);
  EXPECT_TRUE(a->pushed.empty()) << "the sender gets the reply, not a push";
  ASSERT_EQ(b->pushed.size(), 1u);
  EXPECT_EQ(b->pushed[0]["type"], "resChat");
  EXPECT_EQ(b->pushed[0]["message"], "[ra]: hi");
  EXPECT_EQ(boost::json::serialize(b->pushed[0]["conn"]), "{\"reqId\":\"rb\",\"resId\":\"b\"}");

  Send(Msg("reqClose", ",\"conn\":{\"reqId\":\"rb\",\"resId\":\"b\"}"), b);
  Send(Msg("reqChat", ",\"conn\":{\"reqId\":\"ra\",\"resId\":\"a\"},\"message\":\"2\""), a);
  EXPECT_EQ(b->pushed.size(), 1u) << "closed with reqClose: no more chat";

  Reply bad = Send(Msg("reqChat", ",\"conn\":{\"reqId\":\"ra\"}"), a);
  EXPECT_EQ(bad.body["type"], "error");
  EXPECT_THAT(std::string(bad.body["message"].as_string()), HasSubstr("message"));
}

TEST_F(DispatcherTest, CloseStopsPushesToTheConnection) {
  // A bind over a connection follows the ledger; reqClose on it stops that (no more pushes) even
  // though the socket stays open.
  auto a = std::make_shared<RecordingSession>();
  Send(Msg("reqOpen", ",\"conn\":{\"reqId\":\"ra\",\"resId\":\"a\"}"), a);
  Send(Msg("bindGetMeta", std::string(kLedger) + ",\"conn\":{\"reqId\":\"ra\",\"resId\":\"a\"}"),
       a);
  EXPECT_EQ(followers_.followed_ledgers(), 1u);
  Reply r = Send(Msg("reqClose", ",\"conn\":{\"reqId\":\"ra\",\"resId\":\"a\"}"), a);
  EXPECT_EQ(r.body["type"], "resClose");
  EXPECT_EQ(followers_.followed_ledgers(), 0u);
}

// With tokens, chat stays within tenants: the token names the tenants (here the token string is
// the comma-separated tenant list).
class TenantAuth : public Authenticator {
 public:
  absl::StatusOr<Principal> Authenticate(absl::string_view token) const override {
    Principal p;
    p.claims.user_id = "u";
    p.claims.tenants = absl::StrSplit(token, ',');
    return p;
  }
};

TEST_F(DispatcherTest, ChatWithTokensReachesOnlyConnectionsSharingATenant) {
  TenantAuth tenant_auth;
  Dispatcher scoped(DispatcherOptions{}, tenant_auth, signer_, backend_, followers_, clock_,
                    registry_);
  auto send = [&](const std::string& json, std::shared_ptr<ClientSession> session) {
    std::optional<Reply> reply;
    scoped.Handle(boost::json::parse(json).as_object(), session,
                  [&](Reply r) { reply = std::move(r); });
    return reply.value_or(Reply{});
  };
  auto a = std::make_shared<RecordingSession>();   // tenant t1
  auto b = std::make_shared<RecordingSession>();   // tenant t2
  auto ab = std::make_shared<RecordingSession>();  // tenants t1 and t2
  send(Msg("reqOpen", ",\"conn\":{\"reqId\":\"ra\"}", "t1"), a);
  send(Msg("reqOpen", ",\"conn\":{\"reqId\":\"rb\"}", "t2"), b);
  send(Msg("reqOpen", ",\"conn\":{\"reqId\":\"rab\"}", "t1,t2"), ab);
  Reply r = send(Msg("reqChat", ",\"conn\":{\"reqId\":\"ra\"},\"message\":\"hi\"", "t1"), a);
  EXPECT_EQ(r.body["type"], "resChat");
  EXPECT_EQ(r.body["targets"].as_array().size(), 2u);
  EXPECT_EQ(ab->pushed.size(), 1u);
  EXPECT_TRUE(b->pushed.empty()) << "a tenant-t2 connection heard tenant t1";
}

TEST_F(DispatcherTest, BadJsonIsHttp400) {
  Reply r = dispatcher_.BadJson("syntax error");
  EXPECT_EQ(r.http_status, 400);
  EXPECT_EQ(r.body["type"], "error");
}

TEST(CheckAccessTest, ClaimsLimitLedgersAndReadRightsForbidWrites) {
  Principal p;
  p.claims.user_id = "u";
  p.claims.tenants = {"t1"};
  p.claims.ledgers = {{"l1", "write", "admin"}, {"l2", "read", "member"}};
  EXPECT_TRUE(CheckAccess(p, {"t1", "l1"}, true).ok());
  EXPECT_TRUE(CheckAccess(p, {"t1", "l2"}, false).ok());
  EXPECT_EQ(CheckAccess(p, {"t1", "l2"}, true).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CheckAccess(p, {"t1", "l3"}, false).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CheckAccess(p, {"t2", "l1"}, false).code(), absl::StatusCode::kPermissionDenied);
  Principal dev;
  dev.unrestricted = true;
  EXPECT_TRUE(CheckAccess(dev, {"any", "thing"}, true).ok());
}

}  // namespace
}  // namespace kiln::edge
