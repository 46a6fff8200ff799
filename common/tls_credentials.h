// TLS for Kiln's gRPC servers and clients from PEM text (the caller reads the files): server
// credentials, optionally requiring client certificates signed by a given CA (mutual TLS), and
// the matching channel credentials. The PEM is parsed with OpenSSL first, so that a wrong file
// fails at startup with a message naming it instead of a bind failure deep inside gRPC.
//
// Threading: pure functions; the credentials they return are immutable and shareable.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace kiln {

struct TlsServerPem {
  // The server's certificate chain (its certificate first) and its private key.
  std::string cert_chain;
  std::string private_key;
  // When non-empty: the CA(s) client certificates must be signed by. Every connection must then
  // present one, verified in the handshake (GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_
  // VERIFY); a client without one, or with one from another CA, never reaches a handler.
  std::string client_ca;
};

// INVALID_ARGUMENT naming the part ("certificate chain", "private key", "client CA") that does
// not parse as PEM, or when the private key does not belong to the first certificate.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> TlsServerCredentials(
    const TlsServerPem& pem);

struct TlsClientPem {
  // The CA(s) the server's certificate must be signed by.
  std::string server_ca;
  // Optional, both or neither: the client's certificate chain and private key (mutual TLS).
  std::string cert_chain;
  std::string private_key;
};

// INVALID_ARGUMENT as for TlsServerCredentials, or when only one of cert_chain and private_key
// is given.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> TlsChannelCredentials(
    const TlsClientPem& pem);

// True when the peer of the call presented a TLS client certificate that the server verified
// (only possible on a server built with TlsServerPem.client_ca).
bool PeerHasVerifiedClientCertificate(const grpc::AuthContext& auth);

}  // namespace kiln
