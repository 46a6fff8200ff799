// Direct blob URLs against a real s3rver: a client PUTs and GETs through the presigned URLs, and
// the block-store's s3:// backend (which merge asks through BatchStat) sees the same objects.
// s3rver does not verify signatures; tests/common/sigv4_test.cc proves them against AWS vectors.
#include "services/edge/direct_blob_urls.h"

#include "common/cid.h"
#include "common/http_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/blockstore/backend_spec.h"
#include "tests/support/s3rver.h"

namespace kiln::edge {
namespace {

using kiln::testing::S3rver;
using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(DirectBlobUrlsTest, PresignedUrlsNameTheBlockStoresObject) {
  S3rver::SetCredentialsInEnvironment();
  auto urls = DirectBlobUrls::FromBackendUrl(
      "s3://kiln/blobs?endpoint=http://127.0.0.1:9000&region=eu-west-1");
  ASSERT_TRUE(urls.ok()) << urls.status();
  std::string url =
      (*urls)->Sign("PUT", {{"t/1", "l1"}, StoreKind::kCar, "bafykey"}, absl::Hours(1));
  EXPECT_THAT(url, StartsWith("http://127.0.0.1:9000/kiln/blobs/t%252F1/l1/car/bafykey?"));
  EXPECT_THAT(url, HasSubstr("X-Amz-Credential=S3RVER%2F"));
  EXPECT_THAT(url, HasSubstr("%2Feu-west-1%2Fs3%2Faws4_request"));
  EXPECT_THAT(url, HasSubstr("X-Amz-Expires=3600"));
  EXPECT_THAT(url, HasSubstr("X-Amz-SignedHeaders=host"));
  EXPECT_THAT(url, Not(HasSubstr("S3RVER&")));  // the secret never appears
}

TEST(DirectBlobUrlsTest, NonS3UrlIsInvalidArgument) {
  EXPECT_EQ(DirectBlobUrls::FromBackendUrl("rocksdb:///tmp/x").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(DirectBlobUrlsTest, ClientBytesGoStraightToTheStoreAndTheBlockStoreSeesThem) {
  S3rver::SetCredentialsInEnvironment();
  auto server = S3rver::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  std::string s3_url = (*server)->BackendUrl("blobs", "&unverified_objects=serve");
  auto urls = DirectBlobUrls::FromBackendUrl(s3_url);
  ASSERT_TRUE(urls.ok()) << urls.status();
  auto blockstore = blockstore::CreateBlockBackend(s3_url);
  ASSERT_TRUE(blockstore.ok()) << blockstore.status();

  std::string car = "encrypted car bytes";
  std::string cid = CidForSha256(kCodecFireproofCar, car).ToString();
  BlobAddress blob{{"t1", "l1"}, StoreKind::kCar, cid};
  HttpClient http({});
  // Sends `method` with `body` to the blob's presigned URL, as a client would.
  auto send = [&](const std::string& method, absl::string_view body = {}) {
    HttpRequest request;
    request.method = method;
    request.url = (*urls)->Sign(method, blob, absl::Minutes(5));
    request.body = body;
    return http.Send(request);
  };
  auto put_response = send("PUT", car);
  ASSERT_TRUE(put_response.ok()) << put_response.status();
  EXPECT_EQ(put_response->status, 200);

  // What merge asks before accepting an entry that names the CAR.
  auto stats = (*blockstore)->BatchStat({"t1", "l1"}, blockstore::Store::kCar, {cid});
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_TRUE((*stats)[0].has_value());
  EXPECT_EQ((*stats)[0]->size, car.size());

  auto got = send("GET");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->body, car);

  auto deleted = send("DELETE");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->status, 204);
  stats = (*blockstore)->BatchStat({"t1", "l1"}, blockstore::Store::kCar, {cid});
  ASSERT_TRUE(stats.ok());
  EXPECT_FALSE((*stats)[0].has_value());
}

}  // namespace
}  // namespace kiln::edge
