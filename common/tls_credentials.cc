#include "common/tls_credentials.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/openssl_ptr.h"

namespace kiln {
namespace {

BioPtr ReadOnlyBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The certificates in `pem` (at least one), the first being the leaf.
absl::StatusOr<std::vector<X509Ptr>> ParseCertificates(const std::string& pem, const char* what) {
  BioPtr bio = ReadOnlyBio(pem);
  std::vector<X509Ptr> certs;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) certs.emplace_back(x);
  ERR_clear_error();  // the read that ended the loop
  if (certs.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the ", what, " holds no PEM certificate (-----BEGIN CERTIFICATE-----)"));
  }
  return certs;
}

// Checks that `key_pem` is a private key belonging to the first certificate of `chain_pem`.
absl::Status CheckKeyPair(const std::string& chain_pem, const std::string& key_pem,
                          const char* whose) {
  absl::StatusOr<std::vector<X509Ptr>> chain =
      ParseCertificates(chain_pem, absl::StrCat(whose, " certificate chain").c_str());
  if (!chain.ok()) return chain.status();
  BioPtr bio = ReadOnlyBio(key_pem);
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("the ", whose, " private key is not an unencrypted PEM private key"));
  }
  if (X509_check_private_key(chain->front().get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("the ", whose, " private key does not belong to its certificate"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> TlsServerCredentials(
    const TlsServerPem& pem) {
  if (absl::Status s = CheckKeyPair(pem.cert_chain, pem.private_key, "server"); !s.ok()) return s;
  grpc::SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back({pem.private_key, pem.cert_chain});
  if (!pem.client_ca.empty()) {
    absl::StatusOr<std::vector<X509Ptr>> ca = ParseCertificates(pem.client_ca, "client CA");
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = pem.client_ca;
    options.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> TlsChannelCredentials(
    const TlsClientPem& pem) {
  absl::StatusOr<std::vector<X509Ptr>> ca = ParseCertificates(pem.server_ca, "server CA");
  if (!ca.ok()) return ca.status();
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = pem.server_ca;
  if (pem.cert_chain.empty() != pem.private_key.empty()) {
    return absl::InvalidArgumentError(
        "give both the client certificate and its private key, or neither");
  }
  if (!pem.cert_chain.empty()) {
    if (absl::Status s = CheckKeyPair(pem.cert_chain, pem.private_key, "client"); !s.ok()) {
      return s;
    }
    options.pem_cert_chain = pem.cert_chain;
    options.pem_private_key = pem.private_key;
  }
  return grpc::SslCredentials(options);
}

bool PeerHasVerifiedClientCertificate(const grpc::AuthContext& auth) {
  std::vector<grpc::string_ref> type = auth.FindPropertyValues("transport_security_type");
  if (type.size() != 1 || type[0] != "ssl") return false;
  // gRPC names a peer identity only for a certificate it accepted; with client_ca set that
  // means verified against the client CA in the handshake.
  return auth.IsPeerAuthenticated() && !auth.FindPropertyValues("x509_pem_cert").empty();
}

}  // namespace kiln
