// kiln-control through real gRPC channels, over in-process metadata and block-store servers on
// memory backends: the admin credential on every RPC, tenants and ledgers (implicit ones too),
// deletion down to the stores, the audit log, and tokens the edge's verifier accepts.
#include "services/control/control_service.h"

#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/jwt.h"
#include "common/metrics.h"
#include "common/server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kiln/control/v1/control.grpc.pb.h"
#include "services/metadata/record_keys.h"
#include "tests/control/control_deployment.h"
#include "tests/integration/mesh.h"
#include "tests/support/test_support.h"

namespace kiln::control {
namespace {

using ::testing::HasSubstr;
namespace mv1 = ::kiln::metadata::v1;

constexpr char kCid[] = "baembeifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e";

using Stub = v1::ControlService::Stub;

// A request naming (tenant, ledger).
template <typename Request>
Request ForLedger(const std::string& tenant = "t", const std::string& ledger = "l") {
  Request request;
  request.set_tenant(tenant);
  request.set_ledger(ledger);
  return request;
}

class ControlServiceTest : public ::testing::Test {
 protected:
  // Calls `method` with `request` and the admin credential.
  template <typename Request, typename Response>
  grpc::Status AsAdmin(grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                    Response*),
                       const Request& request, Response* response) {
    auto ctx = Admin();
    return ((*control_.stub).*method)(ctx.get(), request, response);
  }

  // A context carrying the admin credential.
  std::unique_ptr<grpc::ClientContext> Admin() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("authorization", std::string("Bearer ") + kAdminToken);
    ctx->AddMetadata("x-kiln-actor", "tester@host");
    return ctx;
  }

  // Writes one entry to (tenant, ledger) straight through metadata, as merge does.
  void Write(const std::string& tenant, const std::string& ledger, const std::string& cid) {
    grpc::ClientContext ctx;
    mv1::CommitRequest r;
    r.set_tenant(tenant);
    r.set_ledger(ledger);
    r.add_writers("w");
    mv1::MetaEntry* e = r.add_entries();
    e->set_cid(cid);
    e->set_data("data");
    r.add_heads(cid);
    r.add_keys("zKey-" + cid);
    mv1::CommitResponse resp;
    ASSERT_TRUE(control_.metadata_stub->Commit(&ctx, r, &resp).ok());
  }

  void PutBlob(const std::string& tenant, const std::string& ledger, blockstore::Store store,
               const std::string& key) {
    std::string data = "blob " + key;
    ASSERT_TRUE(
        control_.mesh.blocks().Put({{tenant, ledger}, store, key}, data, Sha256(data)).ok());
  }

  // Every metadata record of (tenant, ledger), read from the store itself.
  size_t MetadataRecords(const std::string& tenant, const std::string& ledger) {
    auto rows = control_.mesh.kv().Scan(std::string(1, '\0'), std::string(1, '\x7f'), 100000);
    size_t n = 0;
    for (const auto& [key, value] : *rows) {
      auto decoded = metadata::DecodeRecordKey(key);
      if (decoded.ok() && decoded->tenant == tenant && decoded->ledger == ledger) ++n;
    }
    return n;
  }

  size_t Blobs(const std::string& tenant, const std::string& ledger) {
    size_t n = 0;
    for (auto store : {blockstore::Store::kCar, blockstore::Store::kFile, blockstore::Store::kMeta,
                       blockstore::Store::kWal}) {
      n += control_.mesh.blocks().List({tenant, ledger}, store, "", 1000)->entries.size();
    }
    return n;
  }

  std::unique_ptr<TokenIssuer> issuer_ =
      std::make_unique<TokenIssuer>(*TokenIssuer::Create(*GenerateP256PrivateKeyPem()));
  ControlDeployment control_{{.admin_token = kAdminToken,
                              .client_certificates = false,
                              .issuer = issuer_.get(),
                              .credentials = nullptr}};
};

using RpcCall = std::function<grpc::Status(Stub&, grpc::ClientContext*)>;

// A call of `method` with `request`, its response dropped.
template <typename Request, typename Response>
RpcCall Unary(grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
              Request request = Request()) {
  return [method, request](Stub& stub, grpc::ClientContext* ctx) {
    Response response;
    return (stub.*method)(ctx, request, &response);
  };
}

// Every RPC, called with `ctx` and valid arguments; returns its status.
std::vector<std::pair<std::string, RpcCall>> EveryRpc() {
  v1::ListLedgersRequest list_ledgers;
  list_ledgers.set_tenant("t");
  v1::IssueTokenRequest issue_token;
  issue_token.set_user_id("u");
  issue_token.add_tenants("t");
  issue_token.add_ledgers()->set_ledger("l");
  issue_token.mutable_ledgers(0)->set_right("write");
  return {
      {"ListTenants", Unary(&Stub::ListTenants)},
      {"CreateLedger", Unary(&Stub::CreateLedger, ForLedger<v1::CreateLedgerRequest>())},
      {"GetLedger", Unary(&Stub::GetLedger, ForLedger<v1::GetLedgerRequest>())},
      {"ListLedgers", Unary(&Stub::ListLedgers, list_ledgers)},
      {"DeleteLedger", Unary(&Stub::DeleteLedger, ForLedger<v1::DeleteLedgerRequest>())},
      {"ListAuditEvents", Unary(&Stub::ListAuditEvents)},
      {"IssueToken", Unary(&Stub::IssueToken, issue_token)},
      {"GetIssuerKeys", Unary(&Stub::GetIssuerKeys)},
  };
}

TEST_F(ControlServiceTest, EveryRpcRefusesCallsWithoutTheAdminCredential) {
  // name -> metadata to send (nothing, a wrong token, another scheme, a prefix of the token).
  const std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>>
      credentials = {
          {"none", {}},
          {"wrong token", {{"authorization", "Bearer not-the-admin-token-xxxxx"}}},
          {"basic scheme", {{"authorization", std::string("Basic ") + kAdminToken}}},
          {"token prefix",
           {{"authorization", std::string("Bearer ") + std::string(kAdminToken).substr(0, 20)}}},
          {"bare token", {{"authorization", kAdminToken}}},
          {"client token",
           {{"authorization", "Bearer eyJhbGciOiJFUzI1NiJ9.e30.c2ln"}}},  // a session token
      };
  for (const auto& [rpc, call] : EveryRpc()) {
    for (const auto& [name, metadata] : credentials) {
      grpc::ClientContext ctx;
      for (const auto& [k, v] : metadata) ctx.AddMetadata(k, v);
      grpc::Status s = call(*control_.stub, &ctx);
      EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << rpc << " with " << name;
    }
    auto ctx = Admin();
    grpc::Status s = call(*control_.stub, ctx.get());
    EXPECT_NE(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << rpc << ": " << s.error_message();
  }
  // Nothing was changed or recorded by the refused calls (the admin calls made 3 records).
  EXPECT_EQ(control_.audit->Read(1, 100).size(), 3u);
}

// The ids are parsed before the work is queued; a bad one must be INVALID_ARGUMENT naming the
// field, never another code (the parsed value is moved into the work afterwards).
TEST_F(ControlServiceTest, LedgerRpcsRefuseABadIdAsInvalidArgument) {
  for (const std::string& ledger :
       {std::string(), std::string("no spaces"), std::string("../up")}) {
    // Calls `method` of the stub with tenant "t1" and `ledger`.
    auto call = [&](auto method, auto request, auto response) {
      auto ctx = Admin();
      request.set_tenant("t1");
      request.set_ledger(ledger);
      return ((*control_.stub).*method)(ctx.get(), request, &response);
    };
    const std::vector<std::pair<std::string, grpc::Status>> results = {
        {"CreateLedger",
         call(&Stub::CreateLedger, v1::CreateLedgerRequest(), v1::CreateLedgerResponse())},
        {"GetLedger", call(&Stub::GetLedger, v1::GetLedgerRequest(), v1::GetLedgerResponse())},
        {"DeleteLedger",
         call(&Stub::DeleteLedger, v1::DeleteLedgerRequest(), v1::DeleteLedgerResponse())},
    };
    for (const auto& [rpc, status] : results) {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
          << rpc << " with ledger '" << ledger << "': " << status.error_message();
      EXPECT_THAT(status.error_message(), HasSubstr("ledger")) << rpc;
    }
  }
}

TEST_F(ControlServiceTest, ListsImplicitAndCreatedLedgersPaged) {
  Write("t1", "implicit-a", kCid);
  Write("t1", "implicit-c", kCid);
  Write("t2", "other", kCid);
  v1::CreateLedgerResponse created;
  ASSERT_TRUE(
      AsAdmin(&Stub::CreateLedger, ForLedger<v1::CreateLedgerRequest>("t1", "created-b"), &created)
          .ok());
  EXPECT_EQ(
      AsAdmin(&Stub::CreateLedger, ForLedger<v1::CreateLedgerRequest>("t1", "implicit-a"), &created)
          .error_code(),
      grpc::StatusCode::ALREADY_EXISTS);
  std::vector<std::string> seen;
  std::vector<uint64_t> versions;
  std::string token;
  int pages = 0;
  do {
    auto ctx = Admin();
    v1::ListLedgersRequest q;
    q.set_tenant("t1");
    q.set_page_size(2);
    q.set_page_token(token);
    v1::ListLedgersResponse r;
    ASSERT_TRUE(control_.stub->ListLedgers(ctx.get(), q, &r).ok());
    for (const auto& l : r.ledgers()) {
      seen.push_back(l.ledger());
      versions.push_back(l.version());
    }
    token = r.next_page_token();
    ++pages;
  } while (!token.empty());
  EXPECT_THAT(seen, ::testing::ElementsAre("created-b", "implicit-a", "implicit-c"));
  EXPECT_THAT(versions, ::testing::ElementsAre(0, 1, 1));
  EXPECT_EQ(pages, 2);

  auto ctx = Admin();
  v1::ListTenantsRequest q;
  q.set_page_size(1);
  v1::ListTenantsResponse r;
  ASSERT_TRUE(control_.stub->ListTenants(ctx.get(), q, &r).ok());
  ASSERT_EQ(r.tenants_size(), 1);
  EXPECT_EQ(r.tenants(0).id(), "t1");
  EXPECT_EQ(r.next_page_token(), "t1");
  auto ctx2 = Admin();
  q.set_page_token(r.next_page_token());
  ASSERT_TRUE(control_.stub->ListTenants(ctx2.get(), q, &r).ok());
  ASSERT_EQ(r.tenants_size(), 1);
  EXPECT_EQ(r.tenants(0).id(), "t2");
  EXPECT_EQ(r.next_page_token(), "");

  v1::GetLedgerResponse gr;
  EXPECT_EQ(
      AsAdmin(&Stub::GetLedger, ForLedger<v1::GetLedgerRequest>("t1", "missing"), &gr).error_code(),
      grpc::StatusCode::NOT_FOUND);
}

TEST_F(ControlServiceTest, DeleteLedgerLeavesNothingInTheStoresAndEndsItsWatches) {
  Write("t1", "doomed", kCid);
  Write("t1", "kept", kCid);
  PutBlob("t1", "doomed", blockstore::Store::kCar, kCid);
  PutBlob("t1", "doomed", blockstore::Store::kFile, kCid);
  PutBlob("t1", "doomed", blockstore::Store::kMeta, "main");
  PutBlob("t1", "doomed", blockstore::Store::kWal, "main");
  PutBlob("t1", "kept", blockstore::Store::kCar, kCid);
  ASSERT_GT(MetadataRecords("t1", "doomed"), 3u);

  grpc::ClientContext watch_ctx;
  mv1::WatchRequest wr;
  wr.set_tenant("t1");
  wr.set_ledger("doomed");
  auto watch = control_.metadata_stub->Watch(&watch_ctx, wr);
  mv1::WatchEvent snapshot;
  ASSERT_TRUE(watch->Read(&snapshot));  // subscribed

  const auto q = ForLedger<v1::DeleteLedgerRequest>("t1", "doomed");
  v1::DeleteLedgerResponse r;
  ASSERT_TRUE(AsAdmin(&Stub::DeleteLedger, q, &r).ok());
  EXPECT_TRUE(r.existed());
  EXPECT_EQ(r.version(), 1u);
  EXPECT_EQ(r.blobs_deleted(), 4u);

  mv1::WatchEvent more;
  EXPECT_FALSE(watch->Read(&more));
  grpc::Status ended = watch->Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(ended.error_message(), HasSubstr("was deleted"));

  EXPECT_EQ(MetadataRecords("t1", "doomed"), 0u);
  EXPECT_EQ(Blobs("t1", "doomed"), 0u);
  EXPECT_GT(MetadataRecords("t1", "kept"), 3u);
  EXPECT_EQ(Blobs("t1", "kept"), 1u);

  ASSERT_TRUE(AsAdmin(&Stub::DeleteLedger, q, &r).ok());
  EXPECT_FALSE(r.existed());
  EXPECT_EQ(r.blobs_deleted(), 0u);

  auto events = control_.audit->Read(1, 100);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].action(), "ledger.delete");
  EXPECT_EQ(events[0].actor(), "tester@host");
  EXPECT_EQ(events[0].ledger(), "doomed");
  EXPECT_EQ(events[0].outcome(), "ok");
  EXPECT_EQ(events[1].seq(), 2u);
  EXPECT_THAT(events[1].detail(), HasSubstr("nothing to delete"));

  // The ledger can be written again and starts afresh.
  Write("t1", "doomed", kCid);
  v1::GetLedgerResponse gr;
  ASSERT_TRUE(AsAdmin(&Stub::GetLedger, ForLedger<v1::GetLedgerRequest>("t1", "doomed"), &gr).ok());
  EXPECT_EQ(gr.ledger().version(), 1u);
}

TEST_F(ControlServiceTest, IssuedTokensVerifyWithThePublishedKeyAndCarryTheGrant) {
  auto keys_ctx = Admin();
  v1::GetIssuerKeysResponse keys;
  ASSERT_TRUE(control_.stub->GetIssuerKeys(keys_ctx.get(), v1::GetIssuerKeysRequest(), &keys).ok());

  auto ctx = Admin();
  v1::IssueTokenRequest q;
  q.set_user_id("alice");
  q.add_tenants("t1");
  auto* l = q.add_ledgers();
  l->set_ledger("l1");
  l->set_right("read");
  q.set_valid_seconds(600);
  v1::IssueTokenResponse r;
  ASSERT_TRUE(control_.stub->IssueToken(ctx.get(), q, &r).ok());
  EXPECT_EQ(r.kid(), issuer_->kid());

  for (const std::string& key : {keys.current_public_pem(), keys.jwks()}) {
    auto verifier = TokenVerifier::Create(key);
    ASSERT_TRUE(verifier.ok()) << verifier.status();
    auto claims = verifier->Verify(r.token(), absl::Now());
    ASSERT_TRUE(claims.ok()) << claims.status();
    EXPECT_EQ(claims->user_id, "alice");
    EXPECT_TRUE(claims->AllowsLedger({"t1", "l1"}));
    EXPECT_FALSE(claims->AllowsLedger({"t1", "l2"}));
    EXPECT_FALSE(claims->CanWrite("l1"));
    EXPECT_EQ(claims->selected_tenant, "t1");
    EXPECT_EQ(claims->selected_ledger, "l1");
    // "exp" in seconds, 600 s from now.
    EXPECT_EQ(absl::ToUnixSeconds(claims->expires), r.expires_unix_seconds());
    EXPECT_EQ(claims->expires - claims->issued_at, absl::Seconds(600));
    // Expired after that (with the verifier's minute of skew).
    EXPECT_EQ(verifier->Verify(r.token(), absl::Now() + absl::Minutes(12)).status().code(),
              absl::StatusCode::kUnauthenticated);
  }
  auto events = control_.audit->Read(1, 100);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].action(), "token.issue");
  EXPECT_THAT(events[0].detail(), ::testing::Not(HasSubstr(r.token().substr(0, 20))));

  auto bad = Admin();
  q.mutable_ledgers(0)->set_right("admin");
  EXPECT_EQ(control_.stub->IssueToken(bad.get(), q, &r).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  auto too_long = Admin();
  q.mutable_ledgers(0)->set_right("write");
  q.set_valid_seconds(100 * 24 * 3600);
  EXPECT_EQ(control_.stub->IssueToken(too_long.get(), q, &r).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace kiln::control
