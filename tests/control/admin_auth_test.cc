// The admin credential's parsing and the audit log's file format.
#include "services/control/admin_auth.h"

#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/control/audit_log.h"
#include "tests/support/test_support.h"

namespace kiln::control {
namespace {

TEST(AdminAuthTest, ShortOrNonPrintableTokensAreRefusedAtStartup) {
  EXPECT_EQ(AdminAuth::Create("short").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AdminAuth::Create("has a space in the middle").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(AdminAuth::Create("  0123456789abcdef0123\n").ok());  // file with a newline
}

v1::AuditEvent Event(const std::string& action) {
  v1::AuditEvent e;
  e.set_action(action);
  e.set_outcome("ok");
  return e;
}

TEST(AuditLogTest, AppendsSurviveReopeningAndNumberingContinues) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/audit.jsonl";
  {
    auto log = *AuditLog::Open(path);
    EXPECT_EQ(*log->Append(Event("ledger.create")), 1u);
    EXPECT_EQ(*log->Append(Event("ledger.delete")), 2u);
  }
  auto log = *AuditLog::Open(path);
  EXPECT_EQ(*log->Append(Event("token.issue")), 3u);
  auto events = log->Read(2, 10);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].action(), "ledger.delete");
  EXPECT_EQ(events[1].action(), "token.issue");
  EXPECT_EQ(log->Read(1, 1).size(), 1u);
}

TEST(AuditLogTest, AnEditedFileIsRefusedNamingTheLine) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/audit.jsonl";
  {
    auto log = *AuditLog::Open(path);
    ASSERT_TRUE(log->Append(Event("a")).ok());
    ASSERT_TRUE(log->Append(Event("b")).ok());
  }
  std::ifstream in(path);
  std::string first, second;
  std::getline(in, first);
  std::getline(in, second);
  in.close();
  std::ofstream out(path, std::ios::trunc);
  out << second << "\n";  // the first record removed
  out.close();
  auto reopened = AuditLog::Open(path);
  EXPECT_EQ(reopened.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(reopened.status().message(), ::testing::HasSubstr("line 1"));
}

}  // namespace
}  // namespace kiln::control
