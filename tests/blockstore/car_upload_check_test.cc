// CheckCarUpload: which car-store uploads cannot be a CAR (services/blockstore/car_upload_check.h).
#include "services/blockstore/car_upload_check.h"

#include <string>

#include "absl/strings/escaping.h"
#include "common/dag_cbor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln::blockstore {
namespace {

using ::testing::HasSubstr;

// A Fireproof encrypted block envelope whose AES-GCM ciphertext (tag included) is `data_bytes`.
std::string Envelope(size_t data_bytes, size_t key_id_bytes = 32) {
  return cbor::EncodeDagCbor(cbor::Value::Map({
      {"iv", cbor::Value::Bytes(std::string(12, '\x07'))},
      {"keyId", cbor::Value::Bytes(std::string(key_id_bytes, '\x35'))},
      {"data", cbor::Value::Bytes(std::string(data_bytes, '\x09'))},
  }));
}

absl::Status Check(const std::string& blob) { return CheckCarUpload(blob, blob.size()); }

TEST(CarUploadCheckTest, EmptyUploadIsRefused) {
  absl::Status s = Check("");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("empty upload cannot be a CAR"));
}

TEST(CarUploadCheckTest, WhatTheClientUploadsForAnUnreadableCarIsRefused) {
  // The exact bytes @fireproof/core 0.24.19 (cborg) writes for the encryption of zero bytes:
  // {iv: 12 bytes, data: the 16-byte tag alone, keyId: 32 bytes}, 79 bytes in all.
  std::string real = absl::HexStringToBytes(
      "a36269764c07070707070707070707070764646174615009090909090909090909090909090909656b65794964"
      "5820351431a1a03399c46d1fc06f9ce36c8d46eafb5b58ef7237b927cb4054137ca4");
  ASSERT_EQ(real.size(), 79u);
  absl::Status s = Check(real);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("encrypted block of 0 plaintext bytes"));
  EXPECT_EQ(Check(Envelope(16)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Check(Envelope(5)).code(), absl::StatusCode::kInvalidArgument);
}

TEST(CarUploadCheckTest, EnvelopeOfTheSmallestCarOrMoreIsStored) {
  EXPECT_EQ(Check(Envelope(16 + 17)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Check(Envelope(16 + 18)).ok());
  EXPECT_TRUE(Check(Envelope(16 + 400)).ok());
  EXPECT_TRUE(Check(Envelope(16 + 5000)).ok());
}

TEST(CarUploadCheckTest, AnythingThatIsNotAnEnvelopeIsStoredAsGiven) {
  EXPECT_TRUE(Check("x").ok());  // Kiln does not decrypt or parse CARs
  EXPECT_TRUE(Check(std::string(18, 'c')).ok());
  // A map with other keys, or with a non-bytes value, is not an envelope.
  EXPECT_TRUE(Check(cbor::EncodeDagCbor(cbor::Value::Map({
                        {"iv", cbor::Value::Bytes("x")},
                        {"data", cbor::Value::Bytes("")},
                        {"other", cbor::Value::Bytes("")},
                    })))
                  .ok());
  EXPECT_TRUE(Check(cbor::EncodeDagCbor(cbor::Value::Map({
                        {"iv", cbor::Value::Bytes("x")},
                        {"data", cbor::Value::Text("")},
                        {"keyId", cbor::Value::Bytes("")},
                    })))
                  .ok());
}

TEST(CarUploadCheckTest, OnlyTheHeadOfALargeUploadIsNeeded) {
  std::string big = Envelope(16 + 100000);
  EXPECT_TRUE(CheckCarUpload(big.substr(0, 64), big.size()).ok());
  // A small upload whose head is not all of it is not decoded.
  std::string small = Envelope(16);
  EXPECT_TRUE(CheckCarUpload(small.substr(0, 10), small.size()).ok());
}

}  // namespace
}  // namespace kiln::blockstore
