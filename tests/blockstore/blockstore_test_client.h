// Small synchronous client helpers for block-store tests (tests may block; services may not).
#pragma once

#include <memory>
#include <string>

#include "grpcpp/client_context.h"
#include "kiln/blockstore/v1/blockstore.grpc.pb.h"

namespace kiln::blockstore::testing {

inline v1::BlobRef Ref(const std::string& key, v1::Store store = v1::STORE_CAR,
                       const std::string& tenant = "t1", const std::string& ledger = "l1") {
  v1::BlobRef ref;
  ref.set_tenant(tenant);
  ref.set_ledger(ledger);
  ref.set_store(store);
  ref.set_key(key);
  return ref;
}

// Streams `data` in `chunk`-byte messages declaring `declared_size` (default: data.size()).
inline grpc::Status PutBlob(v1::BlockStoreService::Stub& stub, const v1::BlobRef& ref,
                            const std::string& data, v1::PutResponse* response = nullptr,
                            size_t chunk = 256 << 10, int64_t declared_size = -1) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  v1::PutResponse local;
  auto writer = stub.Put(&ctx, response != nullptr ? response : &local);
  v1::PutRequest req;
  *req.mutable_ref() = ref;
  req.set_size(declared_size >= 0 ? static_cast<uint64_t>(declared_size) : data.size());
  size_t off = 0;
  do {
    size_t n = std::min(chunk, data.size() - off);
    req.set_data(data.substr(off, n));
    off += n;
    if (!writer->Write(req)) break;
    req.Clear();
  } while (off < data.size());
  writer->WritesDone();
  return writer->Finish();
}

// Reads a whole blob; returns its bytes in `data`.
inline grpc::Status GetBlob(v1::BlockStoreService::Stub& stub, const v1::BlobRef& ref,
                            std::string* data, v1::GetResponse* first = nullptr) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  v1::GetRequest req;
  *req.mutable_ref() = ref;
  auto reader = stub.Get(&ctx, req);
  v1::GetResponse resp;
  data->clear();
  bool is_first = true;
  while (reader->Read(&resp)) {
    if (is_first && first != nullptr) *first = resp;
    is_first = false;
    data->append(resp.data());
  }
  return reader->Finish();
}

// One page of List: up to `page_size` blobs of (tenant, ledger, store) after `page_token`.
inline grpc::Status ListBlobs(v1::BlockStoreService::Stub& stub, v1::Store store,
                              uint32_t page_size, v1::ListResponse* response,
                              const std::string& page_token = "", const std::string& tenant = "t1",
                              const std::string& ledger = "l1") {
  grpc::ClientContext ctx;
  v1::ListRequest request;
  request.set_tenant(tenant);
  request.set_ledger(ledger);
  request.set_store(store);
  request.set_page_size(page_size);
  request.set_page_token(page_token);
  return stub.List(&ctx, request, response);
}

}  // namespace kiln::blockstore::testing
