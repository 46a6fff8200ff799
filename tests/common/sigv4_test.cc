// SigV4 signing checked against published vectors (data, not code):
//  - AWS Signature Version 4 test suite ("aws4_testsuite", as vendored by boto/botocore under
//    tests/unit/auth/aws4_testsuite/<name>/<name>.{req,creq,authz}): credentials AKIDEXAMPLE /
//    wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, region us-east-1, service "service",
//    20150830T123600Z. Only cases where generic SigV4 and the S3 flavour agree (no path
//    normalization or double encoding).
//  - Amazon S3 API reference, "Signature Calculations for the Authorization Header" examples
//    (GET object with Range, PUT object, GET ?lifecycle, GET bucket list) and "Authenticating
//    Requests: Using Query Parameters" (the presigned GET of examplebucket/test.txt): credentials
//    AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, 20130524T000000Z.
// The test S3 server (s3rver) does not verify SigV4 signatures, so these vectors are what proves
// the signing.
#include "common/sigv4.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/time/civil_time.h"
#include "common/sha256.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

absl::Time At(int y, int mo, int d, int h, int mi, int s) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
}

// --- AWS SigV4 test suite ---------------------------------------------------------------------

const SigV4Credentials kSuiteCredentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                         ""};
const SigV4Scope kSuiteScope{"us-east-1", "service"};

struct SuiteCase {
  std::string name;
  std::string method;
  std::string path;  // decoded
  Params query;      // decoded
  Params extra_headers;
  std::string body;
  std::string expected_creq;  // the suite's .creq
  std::string expected_authz;
};

std::string SuiteAuthz(const std::string& signed_headers, const std::string& signature) {
  return "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
         "SignedHeaders=" +
         signed_headers + ", Signature=" + signature;
}

std::vector<SuiteCase> SuiteCases() {
  const std::string empty(kEmptyPayloadSha256);
  const std::string base_headers = "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n";
  return {
      {"get-vanilla",
       "GET",
       "",
       {},
       {},
       "",
       "GET\n/\n\n" + base_headers + "\nhost;x-amz-date\n" + empty,
       SuiteAuthz("host;x-amz-date",
                  "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")},
      {"post-vanilla",
       "POST",
       "",
       {},
       {},
       "",
       "POST\n/\n\n" + base_headers + "\nhost;x-amz-date\n" + empty,
       SuiteAuthz("host;x-amz-date",
                  "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b")},
      {"get-vanilla-query-order-key-case",
       "GET",
       "",
       {{"Param2", "value2"}, {"Param1", "value1"}},
       {},
       "",
       "GET\n/\nParam1=value1&Param2=value2\n" + base_headers + "\nhost;x-amz-date\n" + empty,
       SuiteAuthz("host;x-amz-date",
                  "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")},
      {"get-vanilla-query-order-value",
       "GET",
       "",
       {{"Param1", "value2"}, {"Param1", "value1"}},
       {},
       "",
       "GET\n/\nParam1=value1&Param1=value2\n" + base_headers + "\nhost;x-amz-date\n" + empty,
       SuiteAuthz("host;x-amz-date",
                  "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694")},
      {"get-vanilla-query-order-encoded",
       "GET",
       "",
       {{"Param-3", "Value3"}, {"Param", "Value2"}, {"\xE1\x88\xB4", "Value1"}},
       {},
       "",
       "GET\n/\n%E1%88%B4=Value1&Param=Value2&Param-3=Value3\n" + base_headers +
           "\nhost;x-amz-date\n" + empty,
       SuiteAuthz("host;x-amz-date",
                  "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac")},
      {"get-vanilla-query-unreserved",
       "GET",
       "",
       {{"-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
         "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"}},
       {},
       "",
       "GET\n/\n-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~"
       "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\n" +
           base_headers + "\nhost;x-amz-date\n" + empty,
       SuiteAuthz("host;x-amz-date",
                  "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197")},
      {"get-vanilla-utf8-query",
       "GET",
       "",
       {{"\xE1\x88\xB4", "bar"}},
       {},
       "",
       "GET\n/\n%E1%88%B4=bar\n" + base_headers + "\nhost;x-amz-date\n" + empty,
       SuiteAuthz("host;x-amz-date",
                  "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04")},
      {"get-unreserved",
       "GET",
       "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
       {},
       {},
       "",
       "GET\n/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\n\n" +
           base_headers + "\nhost;x-amz-date\n" + empty,
       SuiteAuthz("host;x-amz-date",
                  "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f")},
      {"get-utf8",
       "GET",
       "\xE1\x88\xB4",
       {},
       {},
       "",
       "GET\n/%E1%88%B4\n\n" + base_headers + "\nhost;x-amz-date\n" + empty,
       SuiteAuthz("host;x-amz-date",
                  "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85")},
      {"get-header-value-trim",
       "GET",
       "",
       {},
       {{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}},
       "",
       "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\n"
       "x-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\n" +
           empty,
       SuiteAuthz("host;my-header1;my-header2;x-amz-date",
                  "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736")},
      {"get-header-value-order",
       "GET",
       "",
       {},
       {{"My-Header1", "value4"},
        {"My-Header1", "value1"},
        {"My-Header1", "value3"},
        {"My-Header1", "value2"}},
       "",
       "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value4,value1,value3,value2\n"
       "x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n" +
           empty,
       SuiteAuthz("host;my-header1;x-amz-date",
                  "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01")},
      {"post-x-www-form-urlencoded",
       "POST",
       "",
       {},
       {{"Content-Type", "application/x-www-form-urlencoded"}},
       "Param1=value1",
       "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\n" + base_headers +
           "\ncontent-type;host;x-amz-date\n"
           "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
       SuiteAuthz("content-type;host;x-amz-date",
                  "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a")},
      {"get-vanilla-with-session-token",
       "GET",
       "",
       {},
       {{"X-Amz-Security-Token",
         "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"}},
       "",
       "GET\n/\n\n" + base_headers +
           "x-amz-security-token:6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267\n"
           "\nhost;x-amz-date;x-amz-security-token\n" +
           empty,
       SuiteAuthz("host;x-amz-date;x-amz-security-token",
                  "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8")},
  };
}

class SigV4SuiteTest : public ::testing::TestWithParam<SuiteCase> {};

TEST_P(SigV4SuiteTest, CanonicalRequestAndAuthorizationMatchTheSuite) {
  const SuiteCase& c = GetParam();
  const absl::Time time = At(2015, 8, 30, 12, 36, 0);
  SigV4Request request;
  request.method = c.method;
  request.encoded_path = UriEncodePath(c.path);
  request.query = c.query;
  request.headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", AmzDate(time)}};
  for (const auto& h : c.extra_headers) request.headers.push_back(h);
  Sha256Digest body = Sha256(c.body);
  request.payload_sha256 =
      HexEncode(absl::string_view(reinterpret_cast<const char*>(body.data()), body.size()));

  std::string signed_headers;
  EXPECT_EQ(CanonicalRequest(request, &signed_headers), c.expected_creq);
  EXPECT_EQ(AuthorizationHeader(request, kSuiteCredentials, kSuiteScope, time), c.expected_authz);
}

INSTANTIATE_TEST_SUITE_P(Aws4TestSuite, SigV4SuiteTest, ::testing::ValuesIn(SuiteCases()),
                         [](const ::testing::TestParamInfo<SuiteCase>& info) {
                           std::string name;
                           for (char ch : info.param.name) name += ch == '-' ? '_' : ch;
                           return name;
                         });

TEST(SigV4Test, GetVanillaStringToSignMatchesTheSuite) {
  // get-vanilla.sts from the suite.
  const absl::Time time = At(2015, 8, 30, 12, 36, 0);
  std::string canonical =
      "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" +
      std::string(kEmptyPayloadSha256);
  EXPECT_EQ(StringToSign(time, kSuiteScope, canonical),
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
}

// --- Amazon S3 documentation examples ---------------------------------------------------------

const SigV4Credentials kS3Credentials{"AKIAIOSFODNN7EXAMPLE",
                                      "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
const SigV4Scope kS3Scope{"us-east-1", "s3"};

std::string S3Signature(const std::string& method, const std::string& path, const Params& query,
                        const Params& extra_headers, const std::string& payload_sha256) {
  const absl::Time time = At(2013, 5, 24, 0, 0, 0);
  SigV4Request request;
  request.method = method;
  request.encoded_path = UriEncodePath(path);
  request.query = query;
  request.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                     {"x-amz-date", AmzDate(time)},
                     {"x-amz-content-sha256", payload_sha256}};
  for (const auto& h : extra_headers) request.headers.push_back(h);
  request.payload_sha256 = payload_sha256;
  std::string authz = AuthorizationHeader(request, kS3Credentials, kS3Scope, time);
  return authz.substr(authz.rfind('=') + 1);
}

TEST(SigV4S3ExamplesTest, GetObjectWithRange) {
  EXPECT_EQ(S3Signature("GET", "test.txt", {}, {{"Range", "bytes=0-9"}},
                        std::string(kEmptyPayloadSha256)),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4S3ExamplesTest, PutObjectWithEncodedName) {
  EXPECT_EQ(S3Signature("PUT", "test$file.text", {},
                        {{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                         {"x-amz-storage-class", "REDUCED_REDUNDANCY"}},
                        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"),
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4S3ExamplesTest, GetBucketLifecycleWithValuelessParameter) {
  EXPECT_EQ(S3Signature("GET", "", {{"lifecycle", ""}}, {}, std::string(kEmptyPayloadSha256)),
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(SigV4S3ExamplesTest, ListObjects) {
  EXPECT_EQ(S3Signature("GET", "", {{"max-keys", "2"}, {"prefix", "J"}}, {},
                        std::string(kEmptyPayloadSha256)),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4S3ExamplesTest, PresignedGetUrl) {
  SigV4Request request;
  request.method = "GET";
  request.encoded_path = UriEncodePath("test.txt");
  request.headers = {{"host", "examplebucket.s3.amazonaws.com"}};
  request.payload_sha256 = std::string(kUnsignedPayload);
  std::string query = PresignedQuery(request, kS3Credentials, kS3Scope, At(2013, 5, 24, 0, 0, 0),
                                     absl::Seconds(86400));
  EXPECT_EQ(query,
            "X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
            "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-Signature="
            "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
            "&X-Amz-SignedHeaders=host");
}

TEST(SigV4Test, UriEncodeKeepsUnreservedAndEncodesTheRestUpperCase) {
  EXPECT_EQ(SigV4UriEncode("a b/c*~", false), "a%20b%2Fc%2A~");
  EXPECT_EQ(SigV4UriEncode("a b/c", true), "a%20b/c");
  EXPECT_EQ(SigV4UriEncode("\xff", false), "%FF");
}

}  // namespace
}  // namespace kiln
