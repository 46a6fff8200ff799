// The protocol codec: what it keeps, what it refuses (naming the field), and that encoding sends
// back only the fields the protocol defines.
#include "services/edge/messages.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln::edge {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<Message> Decode(const std::string& json) {
  return DecodeMessage(boost::json::parse(json).as_object());
}

constexpr char kBind[] =
    R"({"tid":"t-1","type":"bindGetMeta","version":"FP-MSG-1.0",)"
    R"("auth":{"type":"fp-cloud-jwk","params":{"jwk":"tok"}},"conn":{"reqId":"r","resId":"s"},)"
    R"("tenant":{"tenant":"t1","ledger":"l1"},"methodParam":{"method":"GET","store":"meta"},)"
    R"("urlParam":{"key":"main","store":"meta","tenant":"t1","ledger":"l1","name":"db"}})";

TEST(MessagesTest, DecodesEveryProtocolFieldOfABind) {
  absl::StatusOr<Message> m = Decode(kBind);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->type, MsgType::kBindGetMeta);
  EXPECT_EQ(m->tid, "t-1");
  EXPECT_EQ(m->Token(), "tok");
  EXPECT_EQ(m->conn->res_id, "s");
  EXPECT_EQ(m->Tenant(), "t1");
  EXPECT_EQ(m->Ledger(), "l1");
  EXPECT_EQ(m->method_param->store, "meta");
  EXPECT_EQ(m->url_param->name, "db");
}

TEST(MessagesTest, TenantAndLedgerFallBackToUrlParam) {
  absl::StatusOr<Message> m =
      Decode(R"({"type":"reqGetData","urlParam":{"key":"k","tenant":"ut","ledger":"ul"}})");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->Tenant(), "ut");
  EXPECT_EQ(m->Ledger(), "ul");
}

TEST(MessagesTest, EncodingSendsBackOnlyProtocolFields) {
  std::string with_extras = std::string(kBind);
  with_extras.pop_back();
  with_extras += absl::StrCat(R"(,"pad":")", std::string(100000, 'x'),
                              R"(","tenant2":{"x":1},"meta":{"metas":[]}})");
  absl::StatusOr<Message> m = Decode(with_extras);
  ASSERT_TRUE(m.ok()) << m.status();
  boost::json::object out = EncodeEnvelope(*m, "eventGetMeta");
  std::string text = boost::json::serialize(out);
  EXPECT_LT(text.size(), 1000u) << text.substr(0, 200);
  EXPECT_FALSE(out.contains("pad"));
  EXPECT_FALSE(out.contains("tenant2"));
  EXPECT_EQ(out["type"], "eventGetMeta");
  EXPECT_EQ(out["tid"], "t-1");
  EXPECT_EQ(boost::json::serialize(out["tenant"]), R"({"tenant":"t1","ledger":"l1"})");
  EXPECT_EQ(out["auth"].as_object()["params"].as_object()["jwk"], "tok");
}

TEST(MessagesTest, RefusalsNameTheField) {
  struct Case {
    std::string json;
    std::string message;
  };
  const std::string long_tenant(300, 'a');
  const std::vector<Case> cases = {
      {R"({"tid":"x"})", "type: message has no \"type\""},
      {R"({"type":7})", "type: message has no \"type\""},
      {R"({"type":"reqNonsense"})", "unexpected message"},
      {R"({"type":"reqGestalt","tid":5})", "tid: must be a string"},
      {absl::StrCat(R"({"type":"reqGestalt","tid":")", std::string(300, 't'), R"("})"),
       "tid: is 300 bytes; at most 256 allowed"},
      {R"({"type":"reqGestalt","auth":"tok"})", "auth: must be an object"},
      {absl::StrCat(R"({"type":"reqGestalt","auth":{"params":{"jwk":")", std::string(20000, 'j'),
                    R"("}}})"),
       "auth.params.jwk: is 20000 bytes"},
      {R"({"type":"reqOpen","conn":{"reqId":1}})", "conn.reqId: must be a string"},
      {absl::StrCat(R"({"type":"reqPutData","tenant":{"tenant":")", long_tenant,
                    R"(","ledger":"l"}})"),
       "tenant.tenant is 300 bytes; at most 256 allowed"},
      {R"({"type":"reqPutData","tenant":{"tenant":"t","ledger":"a/b"}})",
       "tenant.ledger has a character that ids may not contain at byte 1"},
      {R"({"type":"reqPutData","tenant":{"tenant":"..","ledger":"l"}})",
       "tenant.tenant must not be \".\" or \"..\""},
      {R"({"type":"reqPutData","urlParam":{"tenant":"t\r\n","ledger":"l"}})",
       "urlParam.tenant has a character"},
      {R"({"type":"reqPutData","urlParam":{"key":["k"]}})", "urlParam.key: must be a string"},
      {R"({"type":"reqPutMeta","tenant":{"tenant":"t","ledger":"l"}})",
       "meta: reqPutMeta needs a meta object"},
      {R"({"type":"reqPutMeta","meta":{"metas":{}}})", "meta.metas: must be an array"},
      {R"({"type":"reqPutMeta","meta":{"metas":[{"cid":"c","parents":[1]}]}})",
       "meta.metas[0].parents: must hold only strings"},
      {R"({"type":"reqPutMeta","meta":{"metas":[],"keys":"k"}})", "meta.keys: must be an array"},
      {R"({"type":"reqChat"})", "message: reqChat needs a string \"message\""},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Message> m = Decode(c.json);
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument) << c.json.substr(0, 120);
    EXPECT_THAT(std::string(m.status().message()), HasSubstr(c.message)) << c.json.substr(0, 120);
  }
}

TEST(MessagesTest, ANulInAnIdIsRefused) {
  boost::json::object json{
      {"type", "reqGetMeta"},
      {"tenant", boost::json::object{{"tenant", std::string("t\0x", 3)}, {"ledger", "l"}}}};
  absl::StatusOr<Message> m = DecodeMessage(json);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("tenant.tenant has a character"));
}

TEST(MessagesTest, ErrorSourceKeepsOnlyBoundedTidAndType) {
  boost::json::object json{
      {"tid", std::string(5000, 't')}, {"type", "reqPutData"}, {"auth", "secret"}};
  ErrorSource src = ErrorSourceOf(json);
  EXPECT_EQ(src.tid, "");
  EXPECT_EQ(src.type, "reqPutData");
}

TEST(MessagesTest, TypeNamesRoundTrip) {
  for (int i = 0; i < kMsgTypeCount; ++i) {
    auto type = static_cast<MsgType>(i);
    EXPECT_EQ(ParseMsgType(MsgTypeName(type)), type) << MsgTypeName(type);
  }
  EXPECT_STREQ(ReplyTypeName(MsgType::kBindGetMeta), "eventGetMeta");
  EXPECT_STREQ(ReplyTypeName(MsgType::kReqPutMeta), "resPutMeta");
  EXPECT_TRUE(IsWrite(MsgType::kReqDelData));
  EXPECT_FALSE(IsWrite(MsgType::kReqGetData));
}

}  // namespace
}  // namespace kiln::edge
