// kiln-edge: speaks the Fireproof cloud protocol to clients (HTTP and WebSocket) and turns it into
// gRPC calls to merge, metadata and the block-store. The only place that reads flags.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/flag_file.h"
#include "common/jwt.h"
#include "common/metrics.h"
#include "common/server.h"
#include "common/service_main.h"
#include "common/shards.h"
#include "glog/logging.h"
#include "services/edge/auth.h"
#include "services/edge/base_path.h"
#include "services/edge/blob_client.h"
#include "services/edge/dispatcher.h"
#include "services/edge/edge_backend.h"
#include "services/edge/followers.h"
#include "services/edge/http_server.h"
#include "services/edge/jwks.h"
#include "services/edge/signed_url.h"

ABSL_FLAG(std::string, http_address, "127.0.0.1:8787",
          "Address (ip:port) for HTTP and WebSocket clients; port 0 picks one.");
ABSL_FLAG(std::string, metrics_address, "127.0.0.1:9104", kiln::kMetricsAddressHelp);
ABSL_FLAG(std::string, public_url, "",
          "Absolute URL clients reach this edge at, used in signed blob URLs (e.g. "
          "https://kiln.example.com/kiln behind a proxy). Default: "
          "http(s)://<http_address><base_path>.");
ABSL_FLAG(std::string, base_path, "",
          "Path prefix clients reach this edge under, e.g. /kiln behind an ingress, so that "
          "clients use fpcloud://host/kiln?...: the gestalt advertises /kiln/fp and /kiln/ws, and "
          "every route is served under the prefix and at the root (for ingresses that strip it).");
ABSL_FLAG(std::string, blockstore_target, "127.0.0.1:7101",
          "gRPC targets of the block-store shards, comma-separated in shard order (the position "
          "is the shard's identity: append new shards at the end). Must equal kiln-merge's.");
ABSL_FLAG(std::string, metadata_target, "127.0.0.1:7102",
          "gRPC targets of the metadata shards, comma-separated in shard order, as for "
          "--blockstore_target. Must equal kiln-merge's.");
ABSL_FLAG(std::string, merge_target, "127.0.0.1:7103",
          "gRPC target of the merge replicas; calls are balanced round-robin over every address "
          "it resolves to (e.g. dns:///kiln-merge:7103, ipv4:10.0.0.1:7103,10.0.0.2:7103).");
ABSL_FLAG(std::string, auth, "none",
          "none (development: any non-empty token, any tenant/ledger) or es256 (verify JWTs "
          "against --token_public_key).");
ABSL_FLAG(std::string, token_public_key, "",
          "For --auth=es256: the token signing public key, as the z-base58btc JWK string the "
          "Fireproof runtime prints, a JWK JSON, or a PEM; or @FILE to read it from FILE.");
ABSL_FLAG(std::vector<std::string>, previous_token_public_keys, {},
          "Token key rotation: previous public keys (each as for --token_public_key, @FILE to read "
          "it from a file), comma-separated; tokens they signed are still accepted.");
ABSL_FLAG(std::string, token_jwks_url, "",
          "For --auth=es256: also trust the keys of an external issuer's JSON Web Key Set at this "
          "http(s) URL (e.g. Fireproof's dashboard or an identity provider), fetched at start and "
          "every --token_jwks_refresh; a failed fetch keeps the last good set.");
ABSL_FLAG(absl::Duration, token_jwks_refresh, absl::Minutes(5),
          "How often the --token_jwks_url key set is fetched again.");
ABSL_FLAG(absl::Duration, token_jwks_max_stale, absl::Hours(1),
          "How long the last good --token_jwks_url key set is used while fetches fail; after "
          "that its tokens are refused until a fetch succeeds.");
ABSL_FLAG(bool, token_allow_no_exp, false,
          "Accept ES256 tokens without an \"exp\" claim (they never expire, so they cannot be "
          "withdrawn short of rotating the issuer key). Off by default.");
ABSL_FLAG(absl::Duration, token_clock_skew, absl::Seconds(60),
          "How long past its exp (and before its nbf) a token is still accepted; a bound "
          "connection gets pushes until then.");
ABSL_FLAG(std::string, url_signing_key_file, "",
          "File with the secret (at least 32 bytes, e.g. 64 hex characters) that signs blob "
          "URLs; every edge of a deployment needs the same one. Empty: a random per-process key "
          "(single edge only).");
ABSL_FLAG(std::vector<std::string>, previous_url_signing_key_files, {},
          "Key rotation: comma-separated files with previous URL-signing secrets. Blob URLs they "
          "signed keep working until they expire (--url_lifetime); new URLs use "
          "--url_signing_key_file.");
ABSL_FLAG(std::string, s3_blob_url, "",
          "The block-store's s3:// backend URL when blobs live on S3 (same bucket, prefix and "
          "endpoint; credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or "
          "credentials_file=). With --direct_blob_urls, data URLs are presigned for the store.");
ABSL_FLAG(
    bool, direct_blob_urls, true,
    "With --s3_blob_url: answer reqPutData/reqGetData/reqDelData with presigned URLs straight "
    "to the object store (no blob bytes pass the edge or block-store). false: keep the "
    "proxied /blob path, where the block-store checks every byte.");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain; with --tls_key serves TLS.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls_cert.");
ABSL_FLAG(bool, websocket, true,
          "Offer WebSocket (\"stream\") in the gestalt. false: clients use HTTP request/response "
          "only and poll for changes every second (for proxies that cannot carry WebSocket); /ws "
          "still accepts clients that connect anyway.");
ABSL_FLAG(int, io_threads, 2, "Threads serving HTTP and WebSocket connections.");
ABSL_FLAG(uint64_t, max_message_bytes, 4 << 20, "Largest protocol message (HTTP body or frame).");
ABSL_FLAG(uint64_t, max_blob_bytes, 64ull << 20, "Largest blob accepted through signed URLs.");
ABSL_FLAG(int, max_inflight_per_connection, 64,
          "Protocol messages one WebSocket may have awaiting replies.");
ABSL_FLAG(uint64_t, max_send_queue, 1024,
          "Outgoing messages queued for one WebSocket before it is disconnected as too slow.");
ABSL_FLAG(uint64_t, max_send_queue_bytes, 8 << 20,
          "Outgoing bytes queued for one WebSocket before it is disconnected as too slow.");
ABSL_FLAG(uint64_t, max_send_queue_total_bytes, 512 << 20,
          "Outgoing bytes queued for all WebSockets of this edge; past it the connection with "
          "the most queued is disconnected first.");
ABSL_FLAG(absl::Duration, idle_timeout, absl::Minutes(5),
          "Idle connections are closed after this.");
ABSL_FLAG(absl::Duration, url_lifetime, absl::Hours(1), "How long signed blob URLs stay valid.");
ABSL_FLAG(absl::Duration, peer_deadline, absl::Seconds(2),
          "Deadline of calls to merge and metadata (the client waits 3 s in all).");
ABSL_FLAG(std::string, ready_file, "", kiln::kReadyFileHelp);

// The --help text.
constexpr char kUsage[] =
    "Kiln edge: the Fireproof cloud protocol over HTTP and WebSocket.\n"
    "  kiln-edge --http_address=127.0.0.1:8787 --auth=none";

int main(int argc, char** argv) {
  kiln::StartServiceProcess(argc, argv, {.usage = kUsage});

  kiln::ServiceConfig config;
  config.program = "kiln-edge";
  config.metrics_address = absl::GetFlag(FLAGS_metrics_address);
  config.ready_file = absl::GetFlag(FLAGS_ready_file);
  kiln::ServiceMain process(std::move(config));
  kiln::Metrics& metrics = process.metrics();
  std::unique_ptr<kiln::edge::Authenticator> auth;
  std::string published_jwks;  // served at /.well-known/jwks.json: the keys we trust by flag
  std::unique_ptr<kiln::HttpClient> jwks_http;
  std::unique_ptr<kiln::edge::JwksKeySource> jwks_source;
  const std::string auth_mode = absl::GetFlag(FLAGS_auth);
  if (auth_mode == "none") {
    auth = kiln::edge::NewNoAuth();
    LOG(WARNING) << "--auth=none: any non-empty token may read and write any ledger";
  } else if (auth_mode == "es256") {
    std::string key = absl::GetFlag(FLAGS_token_public_key);
    if (!key.empty() && key[0] == '@') {
      key = process.ValueOrDie(kiln::ReadFlagFile(key.substr(1), "--token_public_key file"));
    }
    const std::string jwks_url = absl::GetFlag(FLAGS_token_jwks_url);
    if (key.empty() && jwks_url.empty()) {
      process.Die("--auth=es256 needs --token_public_key or --token_jwks_url");
    }
    kiln::TokenVerifierOptions verifier_options;
    verifier_options.clock_skew = absl::GetFlag(FLAGS_token_clock_skew);
    verifier_options.require_exp = !absl::GetFlag(FLAGS_token_allow_no_exp);
    std::optional<kiln::TokenVerifier> own;
    if (!key.empty()) {
      kiln::TokenVerifier verifier = process.ValueOrDie(
          kiln::TokenVerifier::Create(key, verifier_options), "--token_public_key");
      for (std::string previous : absl::GetFlag(FLAGS_previous_token_public_keys)) {
        if (!previous.empty() && previous[0] == '@') {
          previous = process.ValueOrDie(
              kiln::ReadFlagFile(previous.substr(1), "--previous_token_public_keys file"));
        }
        process.CheckOk(verifier.AddPreviousKey(previous), "--previous_token_public_keys");
      }
      published_jwks = process.ValueOrDie(verifier.Jwks(), "--token_public_key");
      own = std::move(verifier);
    }
    if (!jwks_url.empty()) {
      if (!absl::StartsWith(jwks_url, "http://") && !absl::StartsWith(jwks_url, "https://")) {
        process.Die("--token_jwks_url must be an http:// or https:// URL");
      }
      jwks_http = std::make_unique<kiln::HttpClient>(kiln::HttpClientOptions{.max_connections = 2});
      kiln::edge::JwksSourceOptions jwks_options;
      jwks_options.url = jwks_url;
      jwks_options.refresh = absl::GetFlag(FLAGS_token_jwks_refresh);
      jwks_options.max_stale = absl::GetFlag(FLAGS_token_jwks_max_stale);
      jwks_options.verifier = verifier_options;
      if (jwks_options.refresh <= absl::ZeroDuration()) {
        process.Die("--token_jwks_refresh must be positive");
      }
      jwks_source = std::make_unique<kiln::edge::JwksKeySource>(
          jwks_options, *jwks_http, kiln::RealClock::Get(), metrics.registry());
      absl::Status first = jwks_source->Refresh();
      if (!first.ok()) {
        LOG(WARNING) << "--token_jwks_url: " << first.message()
                     << "; its tokens are refused until a fetch succeeds";
      }
      jwks_source->Start();
    }
    auth = kiln::edge::NewEs256Auth(std::move(own), jwks_source.get(), kiln::RealClock::Get());
  } else {
    process.Die("--auth must be none or es256, got " + auth_mode);
  }

  kiln::edge::UrlSigningKeys signing_keys = process.ValueOrDie(
      kiln::edge::LoadUrlSigningKeys(absl::GetFlag(FLAGS_url_signing_key_file),
                                     absl::GetFlag(FLAGS_previous_url_signing_key_files)));
  if (signing_keys.random) {
    LOG(WARNING) << "no --url_signing_key_file: blob URLs are signed with a random key and only "
                    "this edge process can serve them";
  }

  kiln::edge::HttpServerOptions http;
  http.address = absl::GetFlag(FLAGS_http_address);
  http.threads = absl::GetFlag(FLAGS_io_threads);
  http.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  http.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  http.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  http.max_blob_bytes = absl::GetFlag(FLAGS_max_blob_bytes);
  http.max_inflight_per_connection = absl::GetFlag(FLAGS_max_inflight_per_connection);
  http.max_send_queue = absl::GetFlag(FLAGS_max_send_queue);
  http.max_send_queue_bytes = absl::GetFlag(FLAGS_max_send_queue_bytes);
  http.max_send_queue_total_bytes = absl::GetFlag(FLAGS_max_send_queue_total_bytes);
  http.idle_timeout = absl::GetFlag(FLAGS_idle_timeout);
  http.base_path = absl::GetFlag(FLAGS_base_path);
  http.jwks_json = published_jwks;
  if (http.threads < 1) process.Die("--io_threads must be at least 1");
  process.CheckOk(kiln::edge::ValidateBasePath(http.base_path), "--base_path");

  process.ServeMetrics();

  absl::Duration deadline = absl::GetFlag(FLAGS_peer_deadline);
  kiln::ShardedChannels metadata_shards = process.ValueOrDie(
      kiln::ShardedChannels::Create(absl::GetFlag(FLAGS_metadata_target), "metadata_target"));
  kiln::ShardedChannels blockstore_shards = process.ValueOrDie(
      kiln::ShardedChannels::Create(absl::GetFlag(FLAGS_blockstore_target), "blockstore_target"));
  if (absl::GetFlag(FLAGS_merge_target).empty()) process.Die("--merge_target is required");
  auto backend = kiln::edge::NewGrpcEdgeBackend(
      kiln::NewPeerChannel(absl::GetFlag(FLAGS_merge_target), /*round_robin=*/true),
      metadata_shards, deadline);
  auto blobs = kiln::edge::NewGrpcBlobClient(blockstore_shards, deadline);
  auto watcher =
      kiln::edge::NewGrpcLedgerWatcher(metadata_shards, kiln::edge::GrpcAlarmScheduler());
  kiln::edge::LedgerFollowers followers(*watcher, kiln::RealClock::Get(), metrics.registry());

  // Signed URLs name the port, which may be chosen at bind time: bind, then set the public URL,
  // then serve.
  kiln::edge::UrlSigner signer(std::move(signing_keys.current), "",
                               std::move(signing_keys.previous));
  kiln::edge::DispatcherOptions dispatcher_options;
  dispatcher_options.url_lifetime = absl::GetFlag(FLAGS_url_lifetime);
  dispatcher_options.offer_stream = absl::GetFlag(FLAGS_websocket);
  dispatcher_options.base_path = http.base_path;
  std::unique_ptr<kiln::edge::DirectBlobUrls> direct_blob_urls;
  if (!absl::GetFlag(FLAGS_s3_blob_url).empty() && absl::GetFlag(FLAGS_direct_blob_urls)) {
    direct_blob_urls = process.ValueOrDie(
        kiln::edge::DirectBlobUrls::FromBackendUrl(absl::GetFlag(FLAGS_s3_blob_url)),
        "--s3_blob_url");
    dispatcher_options.direct_blob_urls = direct_blob_urls.get();
  }
  kiln::edge::Dispatcher dispatcher(dispatcher_options, *auth, signer, *backend, followers,
                                    kiln::RealClock::Get(), metrics.registry());
  std::unique_ptr<kiln::edge::HttpServer> server = process.ValueOrDie(kiln::edge::HttpServer::Bind(
      http, dispatcher, *blobs, signer, followers, kiln::RealClock::Get(), metrics.registry()));
  std::string public_url = absl::GetFlag(FLAGS_public_url);
  if (public_url.empty()) {
    std::string host = http.address.substr(0, http.address.rfind(':'));
    if (host == "0.0.0.0" || host == "::" || host == "[::]") host = "127.0.0.1";
    public_url = (http.tls_cert_file.empty() ? "http://" : "https://") + host + ":" +
                 std::to_string(server->port()) + http.base_path;
  }
  signer.SetPublicBase(public_url);
  server->Serve();

  LOG(INFO) << "kiln-edge serving HTTP/WebSocket on port " << server->port()
            << (http.tls_cert_file.empty() ? "" : " (TLS)") << ", metrics on port "
            << metrics.port() << ", public URL " << public_url << ", auth " << auth_mode << ", "
            << metadata_shards.size() << " metadata and " << blockstore_shards.size()
            << " block-store shard(s)";
  return process.RunUntilSignal({{"http_port", server->port()}}, "closing connections",
                                [&] { server->Stop(); });
}
