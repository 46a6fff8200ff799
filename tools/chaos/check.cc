// kiln-chaos-check: reads what metadata holds for each ledger named on stdin ("tenant<TAB>ledger"
// per line) and prints one JSON object per ledger on stdout, for tools/chaos's expected-state
// checker to compare with what it was acknowledged:
//   {"tenant":..,"ledger":..,"version":N,"records":N,"chain":"ok" or the verification error,
//    "entries":[entry CIDs in log order, repeats kept],"heads":[GetLedger heads],
//    "last_record_heads":[heads of the newest log record],"error":"" or the RPC failure}
// The log is read from seq 1 with ReadLog and its hash chain verified end to end against the
// ledger's head hash (common/hash_chain.h), as an auditor would. Exit status 0 when every ledger
// could be read (whatever it held), 1 when an RPC failed, 2 for bad usage. With --shard_only it
// prints only where common/shards.h places each ledger, so tools/chaos can load every shard.
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_split.h"
#include "boost/json/array.hpp"
#include "boost/json/object.hpp"
#include "boost/json/serialize.hpp"
#include "common/hash_chain.h"
#include "common/shards.h"
#include "kiln/metadata/v1/metadata.grpc.pb.h"

ABSL_FLAG(std::string, metadata_target, "127.0.0.1:7102",
          "Metadata shard list, in shard order, as given to kiln-edge.");
ABSL_FLAG(int, timeout_seconds, 30, "Deadline of each RPC.");
ABSL_FLAG(bool, shard_only, false,
          "Only print each ledger's shard ({\"tenant\",\"ledger\",\"shard\"}), with no RPC.");

namespace kiln {
namespace {

using metadata::v1::MetadataService;

template <typename Request, typename Response>
grpc::Status Call(grpc::Status (MetadataService::Stub::*method)(grpc::ClientContext*,
                                                                const Request&, Response*),
                  MetadataService::Stub* stub, const Request& request, Response* response) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::seconds(absl::GetFlag(FLAGS_timeout_seconds)));
  return (stub->*method)(&ctx, request, response);
}

boost::json::array Strings(const google::protobuf::RepeatedPtrField<std::string>& values) {
  boost::json::array out;
  for (const std::string& v : values) out.emplace_back(v);
  return out;
}

// Reads and verifies one ledger; false when an RPC failed.
bool Check(MetadataService::Stub* stub, const std::string& tenant, const std::string& ledger,
           boost::json::object& out) {
  out["tenant"] = tenant;
  out["ledger"] = ledger;
  out["error"] = "";
  metadata::v1::GetLedgerRequest get;
  get.set_tenant(tenant);
  get.set_ledger(ledger);
  metadata::v1::GetLedgerResponse state;
  grpc::Status s = Call(&MetadataService::Stub::GetLedger, stub, get, &state);
  if (!s.ok()) {
    out["error"] = "GetLedger: " + s.error_message();
    return false;
  }
  out["version"] = state.state().version();
  out["heads"] = Strings(state.state().heads());

  std::vector<std::string> raw;  // keeps the bytes the links point into
  std::vector<metadata::v1::LogRecord> records;
  std::string head_sha256;
  for (uint64_t from = 1;;) {
    metadata::v1::ReadLogRequest read;
    read.set_tenant(tenant);
    read.set_ledger(ledger);
    read.set_from_seq(from);
    read.set_limit(1000);
    metadata::v1::ReadLogResponse page;
    s = Call(&MetadataService::Stub::ReadLog, stub, read, &page);
    if (!s.ok()) {
      out["error"] = "ReadLog: " + s.error_message();
      return false;
    }
    head_sha256 = page.head_sha256();
    for (int i = 0; i < page.records_size(); ++i) {
      records.push_back(page.records(i));
      raw.push_back(page.raw_records(i));
    }
    if (page.records_size() < 1000) break;
    from = records.back().seq() + 1;
  }
  std::vector<ChainLink> links;
  boost::json::array entries;
  for (size_t i = 0; i < records.size(); ++i) {
    links.push_back({records[i].seq(), records[i].prev_sha256(), raw[i]});
    for (const std::string& cid : records[i].entry_cids()) entries.emplace_back(cid);
  }
  absl::Status chain = VerifyHashChain(links, "", head_sha256);
  out["chain"] = chain.ok() ? std::string("ok") : chain.ToString();
  out["records"] = records.size();
  out["entries"] = std::move(entries);
  out["last_record_heads"] =
      records.empty() ? boost::json::array() : Strings(records.back().heads());
  return true;
}

}  // namespace
}  // namespace kiln

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Prints each ledger's metadata (log verified, entries, heads) as JSON lines.\n"
      "  printf 't1\\tl1\\n' | kiln-chaos-check --metadata_target=127.0.0.1:7102");
  absl::ParseCommandLine(argc, argv);
  absl::StatusOr<kiln::ShardedChannels> channels =
      kiln::ShardedChannels::Create(absl::GetFlag(FLAGS_metadata_target), "--metadata_target");
  if (!channels.ok()) {
    std::cerr << "kiln-chaos-check: " << channels.status().message() << std::endl;
    return 2;
  }
  kiln::ShardedStubs<kiln::metadata::v1::MetadataService> stubs(*channels);
  bool all_read = true;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::vector<std::string> parts = absl::StrSplit(line, absl::MaxSplits('\t', 1));
    if (parts.size() != 2) continue;
    boost::json::object out;
    if (absl::GetFlag(FLAGS_shard_only)) {
      out = {{"tenant", parts[0]},
             {"ledger", parts[1]},
             {"shard", channels->ShardOf(kiln::LedgerRef(parts[0], parts[1]))}};
      std::cout << boost::json::serialize(out) << std::endl;
      continue;
    }
    all_read &=
        kiln::Check(stubs.For(kiln::LedgerRef(parts[0], parts[1])), parts[0], parts[1], out);
    std::cout << boost::json::serialize(out) << std::endl;
  }
  return all_read ? 0 : 1;
}
