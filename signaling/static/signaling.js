// The signaling WebSocket (signaling/protocol.py): join a room by code, exchange the WebRTC
// offer/answer/candidates with the host, and carry game frames as `relay` when WebRTC can't.
// One socket per attempt; the connection manager (link.js) decides when to make a new one.

export const SIGNALING_VERSION = 1;
const KEEPALIVE_MS = 20000; // keeps the room from idling out while the data channel carries the game

/** The signaling endpoint for this page's origin. */
export function signalingUrl(loc = window.location) {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${loc.host}/ws`;
}

/**
 * One signaling socket. Emits (EventTarget) "message" with detail = the server message
 * object, and "close" with detail = {code, reason}. `send(obj)` is a no-op once closed.
 */
export class SignalingSocket extends EventTarget {
  constructor(url) {
    super();
    this.url = url;
    this.ws = null;
    this.closed = false;
    this.pingId = 0;
    this.keepalive = null;
  }

  /** Opens the socket; resolves when open, rejects if it cannot. */
  open() {
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new WebSocket(this.url);
      } catch (err) {
        reject(err);
        return;
      }
      this.ws = ws;
      let opened = false;
      ws.onopen = () => {
        opened = true;
        this.keepalive = setInterval(() => this.send({ type: "ping", id: ++this.pingId }), KEEPALIVE_MS);
        resolve();
      };
      ws.onmessage = (event) => {
        if (typeof event.data !== "string") return;
        let message;
        try {
          message = JSON.parse(event.data);
        } catch {
          return; // the server only sends JSON; anything else is not ours to act on
        }
        if (message && typeof message.type === "string") {
          this.dispatchEvent(new CustomEvent("message", { detail: message }));
        }
      };
      ws.onclose = (event) => {
        this.closed = true;
        clearInterval(this.keepalive);
        if (!opened) reject(new Error(`signaling socket closed (${event.code})`));
        this.dispatchEvent(new CustomEvent("close", { detail: { code: event.code, reason: event.reason } }));
      };
      ws.onerror = () => {}; // onclose follows and says the rest
    });
  }

  send(message) {
    if (this.closed || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  close() {
    this.closed = true;
    clearInterval(this.keepalive);
    if (this.ws) {
      try {
        this.ws.close(1000, "bye");
      } catch {
        // already closing
      }
    }
  }
}
