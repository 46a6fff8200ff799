#include "services/edge/chat_room.h"

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "boost/json/serialize.hpp"

namespace kiln::edge {
namespace {

// Whether two principals may chat: anyone in development mode, else a shared tenant.
bool ShareATenant(const Principal& a, const Principal& b) {
  if (a.unrestricted || b.unrestricted) return a.unrestricted && b.unrestricted;
  for (const auto& t : a.claims.tenants) {
    if (std::find(b.claims.tenants.begin(), b.claims.tenants.end(), t) != b.claims.tenants.end()) {
      return true;
    }
  }
  return false;
}

}  // namespace

void ChatRoom::Join(const std::shared_ptr<ClientSession>& session, const Principal& principal) {
  absl::MutexLock lock(&mu_);
  members_[session.get()] = Member{session, principal};
  if (members_.size() >= sweep_at_) {
    absl::erase_if(members_, [](const auto& entry) { return entry.second.session.expired(); });
    sweep_at_ = std::max<size_t>(64, 2 * members_.size());
  }
}

void ChatRoom::Leave(ClientSession* session) {
  absl::MutexLock lock(&mu_);
  members_.erase(session);
}

boost::json::object ChatRoom::Broadcast(const Message& chat,
                                        const std::shared_ptr<ClientSession>& sender,
                                        const Principal& sender_principal) {
  std::vector<std::shared_ptr<ClientSession>> reached;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = members_.begin(); it != members_.end();) {
      if (auto member = it->second.session.lock()) {
        if (member == sender || ShareATenant(sender_principal, it->second.principal)) {
          reached.push_back(std::move(member));
        }
        ++it;
      } else {
        members_.erase(it++);
      }
    }
  }
  boost::json::array targets;
  for (const auto& m : reached) {
    targets.emplace_back(EncodeConn(Conn{m->req_id(), m->res_id()}));
  }
  const std::string from = chat.conn.has_value() ? chat.conn->req_id : "";
  auto now = std::chrono::steady_clock::now();
  for (const auto& m : reached) {
    if (m == sender) continue;
    boost::json::object out = EncodeEnvelope(chat, "resChat");
    out["conn"] = EncodeConn(Conn{m->req_id(), m->res_id()});
    out["message"] = absl::StrCat("[", from, "]: ", chat.chat_message);
    out["targets"] = targets;
    m->Push(boost::json::serialize(out), now);
  }
  boost::json::object reply = EncodeEnvelope(chat, "resChat");
  reply["message"] = absl::StrCat("ack: ", chat.chat_message);
  reply["targets"] = std::move(targets);
  return reply;
}

}  // namespace kiln::edge
