#include "common/meta_event.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/cid.h"
#include "common/dag_cbor.h"
#include "common/multibase.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

// Entries as the Fireproof client builds them, produced in /tmp/dagcbor with Node 20 and
// @ipld/dag-cbor 10.0.2, @ipld/dag-json 11.0.1, multiformats 14.0.5, the same steps as
// dbMetaEvent2Serialized (core/gateways/base/fp-envelope-serialize.ts):
//   dbMeta = new TextEncoder().encode(dagJson.format({cars}))
//   bytes  = dagCbor.encode({data: {dbMeta}, parents})
//   cid    = CID.create(1, 0x71, await sha256.digest(bytes)).toString()
//   data   = base64pad.encode(bytes)
// The CAR CIDs are CID.create(1, 0x18, sha256("kiln car N")) and the parents
// CID.create(1, 0x71, sha256("kiln parent N")); the test recomputes them with CidForSha256.
struct Vector {
  std::vector<std::string> cars;
  std::vector<std::string> parents;
  std::string db_meta;
  std::string cid;
  std::string data;
};

constexpr absl::string_view kCar1 = "baembeigrjglbfong2puszq5we467aqhckopwbws6porrpdanbznghcg7fi";
constexpr absl::string_view kCar2 = "baembeihosmu2f3jww64kf3w2uywdc5glpi53wc5slnugymc4tlqwtruoma";
constexpr absl::string_view kCar3 = "baembeihj64w3u2itstfjjtywstao6yve6v76yjudbot3cm6vjvpnoxxv7i";
constexpr absl::string_view kParent1 =
    "bafyreidigiriskqxqaeuelwmnrrq37x55kw6whebhar6fngg5w655c5qwu";
constexpr absl::string_view kParent2 =
    "bafyreidslkpnkxhkojxbufm4bpgb7ietlcwb55xd4nqonqm4eno5ped2ea";
constexpr absl::string_view kParent3 =
    "bafyreigdnoz63nk45a3rh6rtqtlmq6upcfbewowtdzx6vv3erza65kvzwq";

std::vector<Vector> Vectors() {
  return {
      // Genesis: one car, no parents.
      {{std::string(kCar1)},
       {},
       absl::StrCat(R"({"cars":[{"/":")", kCar1, R"("}]})"),
       "bafyreief443j5ee2jyxqbxh4i6zpcdoo2k7ienbtyptuvmkvq67pq2fu4u",
       "MomRkYXRhoWZkYk1ldGFYTnsiY2FycyI6W3siLyI6ImJhZW1iZWlncmpnbGJmb25nMnB1c3pxNXdlNDY3YXFoY2tv"
       "cHdid3M2cG9ycnBkYW5iem5naGNnN2ZpIn1dfWdwYXJlbnRzgA=="},
      // Two cars, one parent.
      {{std::string(kCar1), std::string(kCar2)},
       {std::string(kParent1)},
       absl::StrCat(R"({"cars":[{"/":")", kCar1, R"("},{"/":")", kCar2, R"("}]})"),
       "bafyreibwehc6nihvw6dzlgwwnj2olhvxxhif57zmpmyrtdcfbjulcthtke",
       "MomRkYXRhoWZkYk1ldGFYknsiY2FycyI6W3siLyI6ImJhZW1iZWlncmpnbGJmb25nMnB1c3pxNXdlNDY3YXFoY2tv"
       "cHdid3M2cG9ycnBkYW5iem5naGNnN2ZpIn0seyIvIjoiYmFlbWJlaWhvc211MmYzand3NjRrZjN3MnV5d2RjNWds"
       "cGk1M3djNXNsbnVneW1jNHRscXd0cnVvbWEifV19Z3BhcmVudHOB2CpYJQABcRIgaDIiiSoXgAlCLsxsYw3+/eqt"
       "6xyBOCPitMbtvd6LsLU="},
      // Three cars and three parents, neither in sorted order (order is kept as given).
      {{std::string(kCar3), std::string(kCar1), std::string(kCar2)},
       {std::string(kParent3), std::string(kParent1), std::string(kParent2)},
       absl::StrCat(R"({"cars":[{"/":")", kCar3, R"("},{"/":")", kCar1, R"("},{"/":")", kCar2,
                    R"("}]})"),
       "bafyreihjusoowkuir2mmlhdjhfcy55z25w355uuh3qd7mvyfsg2sfrrkay",
       "MomRkYXRhoWZkYk1ldGFY1nsiY2FycyI6W3siLyI6ImJhZW1iZWloajY0dzN1Mml0c3Rmamp0eXdzdGFvNnl2ZTZ2"
       "NzZ5anVkYm90M2NtNnZqdnBub3h4djdpIn0seyIvIjoiYmFlbWJlaWdyamdsYmZvbmcycHVzenE1d2U0NjdhcWhj"
       "a29wd2J3czZwb3JycGRhbmJ6bmdoY2c3ZmkifSx7Ii8iOiJiYWVtYmVpaG9zbXUyZjNqd3c2NGtmM3cydXl3ZGM1"
       "Z2xwaTUzd2M1c2xudWd5bWM0dGxxd3RydW9tYSJ9XX1ncGFyZW50c4PYKlglAAFxEiDDa7PttVzoNxP6M4TWyHqP"
       "EUJLOtMeb+rXZI5B7qq5tNgqWCUAAXESIGgyIokqF4AJQi7MbGMN/v3qrescgTgj4rTG7b3ei7C12CpYJQABcRIg"
       "clqe1Vzqcm4aFZwLzB+gk1isHvbj42DmwZwjXdeQeiA="},
  };
}

std::vector<Cid> ParseAll(const std::vector<std::string>& texts) {
  std::vector<Cid> out;
  for (const std::string& text : texts) out.push_back(*ParseCid(text));
  return out;
}

std::vector<std::string> ToStrings(const std::vector<Cid>& cids) {
  std::vector<std::string> out;
  for (const Cid& cid : cids) out.push_back(cid.ToString());
  return out;
}

Cid Car(int n) { return CidForSha256(kCodecFireproofCar, absl::StrCat("kiln car ", n)); }
Cid Parent(int n) { return CidForSha256(kCodecDagCbor, absl::StrCat("kiln parent ", n)); }

TEST(MetaEventTest, VectorCidsAreTheDocumentedHashes) {
  EXPECT_EQ(Car(1).ToString(), kCar1);
  EXPECT_EQ(Car(2).ToString(), kCar2);
  EXPECT_EQ(Car(3).ToString(), kCar3);
  EXPECT_EQ(Parent(1).ToString(), kParent1);
  EXPECT_EQ(Parent(2).ToString(), kParent2);
  EXPECT_EQ(Parent(3).ToString(), kParent3);
}

TEST(MetaEventTest, EncodeMatchesTheFireproofClientByteForByte) {
  for (const Vector& v : Vectors()) {
    SCOPED_TRACE(v.cid);
    const EncodedMetaEntry entry = EncodeMetaEntry(ParseAll(v.cars), ParseAll(v.parents));
    EXPECT_EQ(entry.cid, v.cid);
    EXPECT_EQ(entry.parents, v.parents);
    EXPECT_EQ(entry.data, v.data);
  }
}

TEST(MetaEventTest, DecodeAcceptsClientEntriesAndReturnsTheirParts) {
  for (const Vector& v : Vectors()) {
    SCOPED_TRACE(v.cid);
    absl::StatusOr<MetaEvent> event = DecodeMetaEntry(v.cid, v.parents, v.data);
    ASSERT_TRUE(event.ok()) << event.status();
    EXPECT_EQ(event->cid.ToString(), v.cid);
    EXPECT_EQ(ToStrings(event->parents), v.parents);
    EXPECT_EQ(ToStrings(event->cars), v.cars);
    EXPECT_EQ(event->block, *MultibaseDecode(v.data));
    // dbMeta is the dag-json the client wrote (no whitespace, links as {"/": ...}).
    absl::StatusOr<cbor::Value> block = cbor::DecodeDagCbor(event->block);
    ASSERT_TRUE(block.ok()) << block.status();
    EXPECT_EQ(*block->Find("data")->Find("dbMeta")->AsBytes(), v.db_meta);

    const EncodedMetaEntry again = ToEncodedMetaEntry(*event);
    EXPECT_EQ(again.cid, v.cid);
    EXPECT_EQ(again.parents, v.parents);
    EXPECT_EQ(again.data, v.data);
  }
}

TEST(MetaEventTest, GenesisBlockHasTheClientLayout) {
  // {data: {dbMeta: <78 bytes>}, parents: []}: keys in DAG-CBOR order, parents last.
  const std::string block = *MultibaseDecode(Vectors()[0].data);
  EXPECT_EQ(absl::BytesToHexString(block.substr(0, 16)), "a26464617461a16664624d657461584e");
  EXPECT_EQ(absl::BytesToHexString(block.substr(block.size() - 9)), "67706172656e747380");
}

// An entry whose data is an arbitrary event value, with the matching cid.
EncodedMetaEntry EntryForEvent(const cbor::Value& event, std::vector<std::string> parents) {
  const std::string bytes = cbor::EncodeDagCbor(event);
  return {CidForSha256(kCodecDagCbor, bytes).ToString(), std::move(parents),
          MultibaseEncode(Multibase::kBase64Pad, bytes)};
}

EncodedMetaEntry EntryForBytes(absl::string_view bytes, std::vector<std::string> parents) {
  return {CidForSha256(kCodecDagCbor, bytes).ToString(), std::move(parents),
          MultibaseEncode(Multibase::kBase64Pad, bytes)};
}

cbor::Value DbMetaData(std::string db_meta) {
  return cbor::Value::Map({{"dbMeta", cbor::Value::Bytes(std::move(db_meta))}});
}

std::string OneCarDbMeta() { return absl::StrCat(R"({"cars":[{"/":")", kCar1, R"("}]})"); }

cbor::Value Event(cbor::Value data, std::vector<cbor::Value> parents) {
  return cbor::Value::Map(
      {{"data", std::move(data)}, {"parents", cbor::Value::Array(std::move(parents))}});
}

cbor::Value EventWithDbMeta(std::string db_meta) {
  return Event(DbMetaData(std::move(db_meta)), {});
}

void ExpectRejected(const EncodedMetaEntry& entry, absl::string_view message) {
  absl::StatusOr<MetaEvent> event = DecodeMetaEntry(entry.cid, entry.parents, entry.data);
  EXPECT_EQ(event.status().code(), absl::StatusCode::kInvalidArgument) << message;
  const std::string actual(event.status().message());
  EXPECT_THAT(actual, HasSubstr("invalid meta entry: "));
  EXPECT_THAT(actual, HasSubstr(message));
}

EncodedMetaEntry ValidEntry() { return EncodeMetaEntry({Car(1)}, {Parent(1)}); }

TEST(MetaEventTest, RejectsCidThatIsNotACid) {
  EncodedMetaEntry entry = ValidEntry();
  entry.cid = "not-a-cid";
  ExpectRejected(entry, "cid is not a CID: invalid CID");
  entry.cid = "";
  ExpectRejected(entry, "cid is not a CID");
}

TEST(MetaEventTest, RejectsCidNotInCanonicalText) {
  EncodedMetaEntry entry = ValidEntry();
  const Cid cid = *ParseCid(entry.cid);
  entry.cid = cid.ToString(Multibase::kBase58Btc);
  ExpectRejected(entry, absl::StrCat("cid is not in canonical CID text form; write it as \"",
                                     cid.ToString(), "\""));
}

TEST(MetaEventTest, RejectsCidThatIsNotDagCborSha256V1) {
  EncodedMetaEntry entry = ValidEntry();
  entry.cid = std::string(kCar1);
  ExpectRejected(entry,
                 "cid must be a CIDv1 dag-cbor (0x71) sha2-256 CID (\"bafyrei...\"), got "
                 "CIDv1 with codec 0x18 and multihash 0x12");
  entry.cid = "QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n";
  ExpectRejected(entry, "got CIDv0 with codec 0x70");
}

TEST(MetaEventTest, RejectsBadParents) {
  EncodedMetaEntry entry = ValidEntry();
  entry.parents = {"bafy-nope"};
  ExpectRejected(entry, "parents[0] is not a CID");
  entry.parents = {std::string(kParent1), Parent(2).ToString(Multibase::kBase58Btc)};
  ExpectRejected(entry, "parents[1] is not in canonical CID text form");
  entry.parents = {std::string(kCar2)};
  ExpectRejected(entry, "parents[0] must be a CIDv1 dag-cbor (0x71) sha2-256 CID");
}

TEST(MetaEventTest, RejectsDuplicateParents) {
  // EncodeMetaEntry does not validate, so this is what a buggy client would send.
  ExpectRejected(EncodeMetaEntry({Car(1)}, {Parent(1), Parent(2), Parent(1)}),
                 absl::StrCat("parents[2] ", kParent1, " is listed twice"));
}

TEST(MetaEventTest, RejectsTooManyParents) {
  EncodedMetaEntry entry = ValidEntry();
  entry.parents.assign(kMaxMetaParents + 1, std::string(kParent1));
  ExpectRejected(entry, "the entry has 1025 parents; at most 1024 are allowed");
}

TEST(MetaEventTest, RejectsDataThatIsNotBase64Pad) {
  EncodedMetaEntry entry = ValidEntry();
  const std::string bytes = *MultibaseDecode(entry.data);
  entry.data = "";
  ExpectRejected(entry, "data must be multibase base64pad text starting with 'M', got an empty");
  entry.data = MultibaseEncode(Multibase::kBase64, bytes);
  ExpectRejected(entry, "starting with 'M', got prefix 'm'");
  entry.data = MultibaseEncode(Multibase::kBase32, bytes);
  ExpectRejected(entry, "got prefix 'b'");
  entry.data = "M!!!!";
  ExpectRejected(entry, "data is not valid base64pad: ");
  entry.data = MultibaseEncode(Multibase::kBase64Pad, bytes);
  entry.data.pop_back();  // Drops a '=' or a character: the padding is wrong either way.
  ExpectRejected(entry, "data is not valid base64pad: ");
}

TEST(MetaEventTest, RejectsDataLargerThanTheLimit) {
  EncodedMetaEntry entry = ValidEntry();
  entry.data = "M" + std::string(kMaxMetaDataSize, 'A');
  ExpectRejected(entry, "data is 1048577 characters; at most 1048576 are allowed");
}

TEST(MetaEventTest, RejectsCidThatDoesNotMatchTheEventBytes) {
  const std::vector<Vector> vectors = Vectors();
  // The first vector's cid with the second vector's event (and parents).
  ExpectRejected({vectors[0].cid, vectors[1].parents, vectors[1].data},
                 absl::StrCat("cid does not match the event bytes: data hashes to ", vectors[1].cid,
                              ", cid is ", vectors[0].cid));
}

TEST(MetaEventTest, RejectsEventThatIsNotCanonicalDagCbor) {
  // {parents: [], data: {...}}: keys out of DAG-CBOR order, with a cid over exactly these bytes.
  const std::string data = cbor::EncodeDagCbor(DbMetaData(OneCarDbMeta()));
  const std::string bytes = absl::StrCat(
      "\xa2\x67parents\x80\x64"
      "data",
      data);
  ExpectRejected(EntryForBytes(bytes, {}),
                 "the event block is not DAG-CBOR: invalid DAG-CBOR at byte 10: map key \"data\" "
                 "is out of order");
  ExpectRejected(EntryForBytes(std::string("\xa0\x00", 2), {}), "1 trailing byte(s)");
}

TEST(MetaEventTest, RejectsEventThatIsNotAMap) {
  ExpectRejected(EntryForEvent(cbor::Value::Array({}), {}),
                 "the event block is not a DAG-CBOR map");
}

TEST(MetaEventTest, RejectsEventWithoutDataMap) {
  ExpectRejected(EntryForEvent(cbor::Value::Map({{"parents", cbor::Value::Array({})}}), {}),
                 "the event has no \"data\" map");
  ExpectRejected(EntryForEvent(Event(cbor::Value::Bytes(OneCarDbMeta()), {}), {}),
                 "the event has no \"data\" map");
}

TEST(MetaEventTest, RejectsEventWithoutDbMetaBytes) {
  ExpectRejected(EntryForEvent(Event(cbor::Value::Map({}), {}), {}),
                 "the event's \"data\" map has no \"dbMeta\" byte string");
  // dbMeta as a text string rather than bytes.
  ExpectRejected(
      EntryForEvent(Event(cbor::Value::Map({{"dbMeta", cbor::Value::Text(OneCarDbMeta())}}), {}),
                    {}),
      "has no \"dbMeta\" byte string");
}

TEST(MetaEventTest, RejectsEventWithoutParentsArray) {
  ExpectRejected(EntryForEvent(cbor::Value::Map({{"data", DbMetaData(OneCarDbMeta())}}), {}),
                 "the event has no \"parents\" array");
  ExpectRejected(EntryForEvent(cbor::Value::Map({{"data", DbMetaData(OneCarDbMeta())},
                                                 {"parents", cbor::Value::Null()}}),
                               {}),
                 "the event has no \"parents\" array");
}

TEST(MetaEventTest, RejectsEventParentThatIsNotALink) {
  ExpectRejected(
      EntryForEvent(Event(DbMetaData(OneCarDbMeta()),
                          {cbor::Value::Link(Parent(1)), cbor::Value::Text(std::string(kParent2))}),
                    {std::string(kParent1), std::string(kParent2)}),
      "the event's parents[1] is not a CID link");
}

TEST(MetaEventTest, RejectsEventLinkingAParentTwice) {
  ExpectRejected(EntryForEvent(Event(DbMetaData(OneCarDbMeta()),
                                     {cbor::Value::Link(Parent(1)), cbor::Value::Link(Parent(1))}),
                               {std::string(kParent1)}),
                 absl::StrCat("the event links parent ", kParent1, " twice"));
}

TEST(MetaEventTest, RejectsEntryParentsThatTheEventDoesNotLink) {
  EncodedMetaEntry entry = EncodeMetaEntry({Car(1)}, {Parent(1)});
  entry.parents = {std::string(kParent1), std::string(kParent2)};
  ExpectRejected(entry, absl::StrCat("parents[1] ", kParent2,
                                     " is not a parent link of the event; the entry's parents "
                                     "must be the same set as the event's"));
  entry.parents = {};
  ExpectRejected(entry, absl::StrCat("the event links parent ", kParent1,
                                     ", which is missing from the entry's parents"));
}

TEST(MetaEventTest, RejectsEventParentsMissingFromTheEntry) {
  EncodedMetaEntry entry = EncodeMetaEntry({Car(1)}, {Parent(1), Parent(2)});
  entry.parents = {std::string(kParent2)};
  ExpectRejected(entry, absl::StrCat("the event links parent ", kParent1,
                                     ", which is missing from the entry's parents"));
}

TEST(MetaEventTest, ComparesParentsAsSetsAndKeepsTheEntryOrder) {
  EncodedMetaEntry entry = EncodeMetaEntry({Car(1)}, {Parent(1), Parent(2), Parent(3)});
  entry.parents = {std::string(kParent3), std::string(kParent1), std::string(kParent2)};
  absl::StatusOr<MetaEvent> event = DecodeMetaEntry(entry.cid, entry.parents, entry.data);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_THAT(event->parents, ElementsAre(Parent(3), Parent(1), Parent(2)));
}

TEST(MetaEventTest, RejectsDbMetaThatIsNotJson) {
  ExpectRejected(EntryForEvent(EventWithDbMeta("{"), {}), "dbMeta is not valid JSON: ");
  ExpectRejected(EntryForEvent(EventWithDbMeta(""), {}), "dbMeta is not valid JSON: ");
  ExpectRejected(EntryForEvent(EventWithDbMeta(OneCarDbMeta() + "x"), {}),
                 "dbMeta is not valid JSON: ");
  // Invalid UTF-8 inside a JSON string.
  ExpectRejected(EntryForEvent(EventWithDbMeta("{\"cars\":[],\"x\":\"\xc3\x28\"}"), {}),
                 "dbMeta is not valid JSON: ");
  ExpectRejected(EntryForEvent(EventWithDbMeta("[]"), {}), "dbMeta is not a JSON object");
}

TEST(MetaEventTest, RejectsDbMetaWithoutCarsArray) {
  ExpectRejected(EntryForEvent(EventWithDbMeta("{}"), {}), "dbMeta has no \"cars\" array");
  ExpectRejected(
      EntryForEvent(EventWithDbMeta(absl::StrCat(R"({"cars":{"/":")", kCar1, R"("}})")), {}),
      "dbMeta has no \"cars\" array");
}

TEST(MetaEventTest, RejectsEmptyCars) {
  ExpectRejected(EntryForEvent(EventWithDbMeta(R"({"cars":[]})"), {}),
                 "dbMeta has an empty \"cars\" array");
  ExpectRejected(EncodeMetaEntry({}, {}), "dbMeta has an empty \"cars\" array");
}

TEST(MetaEventTest, RejectsCarsThatAreNotLinks) {
  for (const std::string& db_meta : {
           absl::StrCat(R"({"cars":[")", kCar1, R"("]})"),
           absl::StrCat(R"({"cars":[{"/":")", kCar1, R"(","x":1}]})"),
           std::string(R"({"cars":[{"/":1}]})"),
           std::string(R"({"cars":[{"x":"y"}]})"),
           std::string(R"({"cars":[{}]})"),
       }) {
    ExpectRejected(EntryForEvent(EventWithDbMeta(db_meta), {}),
                   "dbMeta cars[0] is not a dag-json link {\"/\": \"<CID>\"}");
  }
  ExpectRejected(
      EntryForEvent(EventWithDbMeta(absl::StrCat(R"({"cars":[{"/":")", kCar1, R"("},null]})")), {}),
      "dbMeta cars[1] is not a dag-json link");
}

TEST(MetaEventTest, RejectsCarsThatAreNotCanonicalCids) {
  ExpectRejected(EntryForEvent(EventWithDbMeta(R"({"cars":[{"/":"baembei"}]})"), {}),
                 "dbMeta cars[0] is not a CID: invalid CID");
  ExpectRejected(
      EntryForEvent(EventWithDbMeta(absl::StrCat(
                        R"({"cars":[{"/":")", Car(1).ToString(Multibase::kBase58Btc), R"("}]})")),
                    {}),
      absl::StrCat("dbMeta cars[0] is not in canonical CID text form; write it as \"", kCar1,
                   "\""));
}

TEST(MetaEventTest, RejectsTooManyCars) {
  std::vector<Cid> cars(kMaxMetaCars + 1, Car(1));
  ExpectRejected(EncodeMetaEntry(cars, {}), "dbMeta lists 4097 cars; at most 4096 are allowed");
  cars.pop_back();
  EncodedMetaEntry entry = EncodeMetaEntry(cars, {});
  absl::StatusOr<MetaEvent> event = DecodeMetaEntry(entry.cid, entry.parents, entry.data);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->cars.size(), kMaxMetaCars);
}

TEST(MetaEventTest, IgnoresExtraKeysForForwardCompatibility) {
  const cbor::Value event = cbor::Value::Map({
      {"data", cbor::Value::Map({{"dbMeta", cbor::Value::Bytes(absl::StrCat(
                                                R"({"cars":[{"/":")", kCar2, R"("}],"v":2})"))},
                                 {"extra", cbor::Value::Int(1)}})},
      {"parents", cbor::Value::Array({cbor::Value::Link(Parent(1))})},
      {"zz", cbor::Value::Text("future")},
  });
  const EncodedMetaEntry entry = EntryForEvent(event, {std::string(kParent1)});
  absl::StatusOr<MetaEvent> decoded = DecodeMetaEntry(entry.cid, entry.parents, entry.data);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_THAT(decoded->cars, ElementsAre(Car(2)));
  EXPECT_THAT(decoded->parents, ElementsAreArray({Parent(1)}));
}

}  // namespace
}  // namespace kiln
