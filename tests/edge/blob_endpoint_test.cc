// BlobEndpoint without Beast or a block-store: a fake BlobClient that answers at once, a real
// UrlSigner and a fake clock.
#include "services/edge/blob_endpoint.h"

#include <map>
#include <tuple>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/fake_clock.h"

namespace kiln::edge {
namespace {

using ::testing::HasSubstr;

const std::string kBase = "http://edge.test";

using Key = std::tuple<std::string, std::string, std::string, std::string>;
Key KeyOf(const BlobAddress& b) {
  return {b.ledger.tenant(), b.ledger.ledger(), std::string(StoreKindName(b.store)), b.key};
}

// An in-memory block-store that keeps the first bytes written under a key, as the real one does
// (ALREADY_EXISTS for a different second upload), and can be told to fail.
class FakeBlobClient : public BlobClient {
 public:
  std::map<Key, std::string> blobs;
  absl::Status fail = absl::OkStatus();  // every call fails with it when not OK

  class Upload : public BlobUpload {
   public:
    Upload(FakeBlobClient& owner, BlobAddress blob) : owner_(owner), blob_(std::move(blob)) {}
    void Write(std::string chunk, std::function<void(bool)> done) override {
      data_ += chunk;
      done(true);
    }
    void Finish(std::function<void(absl::Status)> done) override {
      if (!owner_.fail.ok()) return done(owner_.fail);
      auto [it, inserted] = owner_.blobs.emplace(KeyOf(blob_), data_);
      if (!inserted && it->second != data_) {
        return done(absl::AlreadyExistsError("the key holds other bytes"));
      }
      done(absl::OkStatus());
    }
    void Cancel() override {}

   private:
    FakeBlobClient& owner_;
    BlobAddress blob_;
    std::string data_;
  };

  class Download : public BlobDownload {
   public:
    explicit Download(absl::StatusOr<std::string> data) : data_(std::move(data)) {}
    void Next(std::function<void(absl::StatusOr<std::optional<Chunk>>)> done) override {
      if (!data_.ok()) return done(data_.status());
      if (sent_) return done(std::optional<Chunk>());
      sent_ = true;
      done(std::optional<Chunk>(Chunk{*data_, data_->size()}));
    }
    void Cancel() override {}

   private:
    absl::StatusOr<std::string> data_;
    bool sent_ = false;
  };

  std::shared_ptr<BlobUpload> Upload(const BlobAddress& blob, uint64_t) override {
    return std::make_shared<class Upload>(*this, blob);
  }
  std::shared_ptr<BlobDownload> Download(const BlobAddress& blob) override {
    if (!fail.ok()) return std::make_shared<class Download>(fail);
    auto it = blobs.find(KeyOf(blob));
    if (it == blobs.end()) return std::make_shared<class Download>(absl::NotFoundError("no blob"));
    return std::make_shared<class Download>(it->second);
  }
  void Stat(const BlobAddress& blob, Callback<std::optional<uint64_t>> done) override {
    if (!fail.ok()) return done(fail);
    auto it = blobs.find(KeyOf(blob));
    done(it == blobs.end() ? std::nullopt : std::optional<uint64_t>(it->second.size()));
  }
  void Delete(const BlobAddress& blob, Callback<bool> done) override {
    if (!fail.ok()) return done(fail);
    if (blobs.erase(KeyOf(blob)) == 0) return done(absl::NotFoundError("no blob"));
    done(true);
  }
};

class BlobEndpointTest : public ::testing::Test {
 protected:
  BlobEndpointTest()
      : signer_(std::string(32, 'k'), kBase), endpoint_(blobs_, signer_, clock_, {100}) {}

  std::string Target(const std::string& method, const BlobAddress& blob) {
    return signer_.Sign(method, blob, clock_.Now() + absl::Minutes(5)).substr(kBase.size());
  }

  // Opens a request signed for `method` and expects it accepted.
  BlobEndpoint::Request Open(const std::string& method, const BlobAddress& blob) {
    auto opened = endpoint_.Open(method, Target(method, blob));
    EXPECT_TRUE(std::holds_alternative<BlobEndpoint::Request>(opened));
    return std::get<BlobEndpoint::Request>(opened);
  }

  // Uploads `data` through the endpoint; the reply.
  HttpReply Put(const BlobAddress& blob, const std::string& data) {
    auto begun = endpoint_.BeginUpload(blob, data.size());
    if (auto* reply = std::get_if<HttpReply>(&begun)) return *reply;
    auto upload = std::get<std::shared_ptr<BlobUpload>>(begun);
    upload->Write(data, [](bool ok) { EXPECT_TRUE(ok); });
    HttpReply result{0, "not answered"};
    endpoint_.FinishUpload(*upload, blob, [&](HttpReply r) { result = std::move(r); });
    return result;
  }

  std::variant<uint64_t, HttpReply> Head(const BlobAddress& blob) {
    std::variant<uint64_t, HttpReply> result = HttpReply{0, "not answered"};
    endpoint_.Head(blob, [&](std::variant<uint64_t, HttpReply> r) { result = std::move(r); });
    return result;
  }

  FakeClock clock_;
  FakeBlobClient blobs_;
  UrlSigner signer_;
  BlobEndpoint endpoint_;
};

TEST_F(BlobEndpointTest, OpenAcceptsEachSignedMethodAndNamesTheBlob) {
  BlobAddress blob{{"t", "l"}, StoreKind::kCar, "bafyk"};
  EXPECT_EQ(Open("PUT", blob).method, BlobEndpoint::Method::kPut);
  EXPECT_EQ(Open("GET", blob).method, BlobEndpoint::Method::kGet);
  EXPECT_EQ(Open("DELETE", blob).method, BlobEndpoint::Method::kDelete);
  auto head = endpoint_.Open("HEAD", Target("GET", blob));  // a GET URL also allows HEAD
  ASSERT_TRUE(std::holds_alternative<BlobEndpoint::Request>(head));
  EXPECT_EQ(std::get<BlobEndpoint::Request>(head).method, BlobEndpoint::Method::kHead);
  EXPECT_EQ(std::get<BlobEndpoint::Request>(head).blob.key, "bafyk");
}

TEST_F(BlobEndpointTest, OtherMethodIs405) {
  auto opened = endpoint_.Open("POST", Target("PUT", {{"t", "l"}, StoreKind::kCar, "k"}));
  ASSERT_TRUE(std::holds_alternative<HttpReply>(opened));
  EXPECT_EQ(std::get<HttpReply>(opened).status, 405);
  EXPECT_EQ(std::get<HttpReply>(opened).body, "blob URLs take PUT, GET, HEAD, DELETE");
}

TEST_F(BlobEndpointTest, WrongMethodExpiredOrUnsignedIs403AndNotABlobUrlIs400) {
  BlobAddress blob{{"t", "l"}, StoreKind::kCar, "k"};
  std::string put = Target("PUT", blob);
  auto status_of = [&](const std::string& method, const std::string& target) {
    auto opened = endpoint_.Open(method, target);
    return std::holds_alternative<HttpReply>(opened) ? std::get<HttpReply>(opened).status : 200;
  };
  EXPECT_EQ(status_of("GET", put), 403);
  EXPECT_EQ(status_of("PUT", put.substr(0, put.find('?'))), 403);
  EXPECT_EQ(status_of("PUT", "/fp"), 400);
  clock_.Advance(absl::Minutes(6));
  auto expired = endpoint_.Open("PUT", put);
  ASSERT_TRUE(std::holds_alternative<HttpReply>(expired));
  EXPECT_EQ(std::get<HttpReply>(expired).status, 403);
  EXPECT_THAT(std::get<HttpReply>(expired).body, HasSubstr("expired"));
}

TEST_F(BlobEndpointTest, UploadWithoutLengthIs411AndOverTheLimitIs413) {
  BlobAddress blob{{"t", "l"}, StoreKind::kCar, "k"};
  auto no_length = endpoint_.BeginUpload(blob, std::nullopt);
  ASSERT_TRUE(std::holds_alternative<HttpReply>(no_length));
  EXPECT_EQ(std::get<HttpReply>(no_length).status, 411);
  auto too_big = endpoint_.BeginUpload(blob, 101);
  ASSERT_TRUE(std::holds_alternative<HttpReply>(too_big));
  EXPECT_EQ(std::get<HttpReply>(too_big).status, 413);
  EXPECT_EQ(std::get<HttpReply>(too_big).body, "blob is 101 bytes; the limit is 100");
  EXPECT_TRUE(
      std::holds_alternative<std::shared_ptr<BlobUpload>>(endpoint_.BeginUpload(blob, 100)));
}

// Same CID (of the plaintext), other ciphertext: for CAR and file blobs the first upload is kept
// and the second is answered 200; for meta and wal keys the conflict is 409.
TEST_F(BlobEndpointTest, SecondUploadWithOtherBytesKeepsTheFirstCarOrFileAndIs409Otherwise) {
  struct Case {
    std::string store;
    int status;
    std::string body;
  };
  for (const Case& c :
       {Case{"car", 200, ""}, Case{"file", 200, ""}, Case{"meta", 409, "the key holds other bytes"},
        Case{"wal", 409, "the key holds other bytes"}}) {
    BlobAddress blob{{"t", "l"}, *StoreKindFromName(c.store), "bafysame"};
    EXPECT_EQ(Put(blob, "ciphertext one").status, 200) << c.store;
    HttpReply again = Put(blob, "ciphertext two");
    EXPECT_EQ(again.status, c.status) << c.store;
    EXPECT_EQ(again.body, c.body) << c.store;
    EXPECT_EQ(blobs_.blobs[KeyOf(blob)], "ciphertext one") << c.store;
  }
}

TEST_F(BlobEndpointTest, UploadFailureMapsTheBlockStoresVerdict) {
  blobs_.fail = absl::UnavailableError("block-store is down");
  HttpReply r = Put({{"t", "l"}, StoreKind::kCar, "k"}, "x");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "block-store is down");
  blobs_.fail = absl::InvalidArgumentError("bytes do not match the CID");
  EXPECT_EQ(Put({{"t", "l"}, StoreKind::kCar, "k"}, "x").status, 400);
}

TEST_F(BlobEndpointTest, HeadGivesTheSizeOr404WithAnEmptyBody) {
  BlobAddress blob{{"t", "l"}, StoreKind::kFile, "k"};
  auto missing = Head(blob);
  ASSERT_TRUE(std::holds_alternative<HttpReply>(missing));
  EXPECT_EQ(std::get<HttpReply>(missing).status, 404);
  EXPECT_EQ(std::get<HttpReply>(missing).body, "");
  ASSERT_EQ(Put(blob, "12345").status, 200);
  auto found = Head(blob);
  ASSERT_TRUE(std::holds_alternative<uint64_t>(found));
  EXPECT_EQ(std::get<uint64_t>(found), 5u);
  blobs_.fail = absl::DeadlineExceededError("slow");
  auto failed = Head(blob);
  ASSERT_TRUE(std::holds_alternative<HttpReply>(failed));
  EXPECT_EQ(std::get<HttpReply>(failed).status, 503);
  EXPECT_EQ(std::get<HttpReply>(failed).body, "");
}

TEST_F(BlobEndpointTest, DeleteIs200ThenNotFound404) {
  BlobAddress blob{{"t", "l"}, StoreKind::kWal, "k"};
  ASSERT_EQ(Put(blob, "w").status, 200);
  HttpReply first{0, ""}, second{0, ""};
  endpoint_.Delete(blob, [&](HttpReply r) { first = r; });
  endpoint_.Delete(blob, [&](HttpReply r) { second = r; });
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(second.status, 404);
  EXPECT_EQ(second.body, "no blob");
}

TEST_F(BlobEndpointTest, DownloadStreamsWhatWasStored) {
  BlobAddress blob{{"t", "l"}, StoreKind::kCar, "k"};
  ASSERT_EQ(Put(blob, "car bytes").status, 200);
  auto download = endpoint_.BeginDownload(blob);
  absl::StatusOr<std::optional<BlobDownload::Chunk>> first = absl::UnknownError("not answered");
  download->Next([&](auto r) { first = std::move(r); });
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->data, "car bytes");
  EXPECT_EQ((*first)->total_size, 9u);
}

TEST(HttpReplyTest, StatusCodesMapToHttp) {
  EXPECT_EQ(HttpStatusOf(absl::OkStatus()), 200);
  EXPECT_EQ(HttpStatusOf(absl::InvalidArgumentError("")), 400);
  EXPECT_EQ(HttpStatusOf(absl::OutOfRangeError("")), 400);
  EXPECT_EQ(HttpStatusOf(absl::NotFoundError("")), 404);
  EXPECT_EQ(HttpStatusOf(absl::AlreadyExistsError("")), 409);
  EXPECT_EQ(HttpStatusOf(absl::PermissionDeniedError("")), 403);
  EXPECT_EQ(HttpStatusOf(absl::UnauthenticatedError("")), 401);
  EXPECT_EQ(HttpStatusOf(absl::ResourceExhaustedError("")), 429);
  EXPECT_EQ(HttpStatusOf(absl::UnavailableError("")), 503);
  EXPECT_EQ(HttpStatusOf(absl::DeadlineExceededError("")), 503);
  EXPECT_EQ(HttpStatusOf(absl::DataLossError("")), 500);
  EXPECT_EQ(ReplyFor(absl::NotFoundError("gone")).body, "gone");
}

}  // namespace
}  // namespace kiln::edge
