// A protocol-level WebSocket connection to the edge (GET /ws), for tests that must see exactly
// which pushes a connection gets. Messages are shaped by lib/protocol.mjs.
//
//   const ws = await WsConn.open(kiln.httpBase);
//   ws.send(openMsg(token));
//   const reply = await ws.next((m) => m.type === "resOpen");   // already received or next to come
import { createRequire } from "node:module";

// `ws` comes with the Fireproof client.
const require = createRequire(import.meta.url);
const WebSocket = require("ws");

export class WsConn {
  static open(httpBase, path = "/ws") {
    const socket = new WebSocket(httpBase.replace(/^http/, "ws") + path);
    return new Promise((resolve, reject) => {
      socket.once("open", () => resolve(new WsConn(socket)));
      socket.once("error", reject);
    });
  }

  constructor(socket) {
    this.socket = socket;
    this.received = []; // every message, in arrival order
    this.waiters = [];
    socket.on("message", (data) => {
      const msg = JSON.parse(data.toString("utf8"));
      this.received.push(msg);
      this.waiters = this.waiters.filter((w) => !w.take(msg));
    });
  }

  send(msg) {
    this.socket.send(JSON.stringify(msg));
  }

  // The first message received so far, or the next to arrive, for which `pred` holds.
  next(pred, { timeoutMs = 15_000 } = {}) {
    const seen = this.received.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching message in ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        take: (msg) => {
          if (!pred(msg)) return false;
          clearTimeout(timer);
          resolve(msg);
          return true;
        },
      });
    });
  }

  close() {
    this.socket.close();
  }
}

// The CIDs a meta push or reply carries.
export const metaCids = (msg) => (msg.meta?.metas ?? []).map((m) => m.cid);
