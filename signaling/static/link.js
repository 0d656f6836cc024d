// The connection manager: signaling join -> WebRTC data channel (or, if ICE has not
// connected within a bound, the signaling WebSocket relay) -> game hello/welcome, heartbeat
// and RTT, and automatic reconnection with the seat tokens kept in localStorage.

import { DeltaError, ViewTracker } from "./delta.js";
import { PeerLink, PATH_LABELS, explainIce } from "./rtc.js";
import { SignalingSocket, signalingUrl } from "./signaling.js";
import { CAN_UNPACK, FrameReader, PROTOCOL_VERSION, toFrames, unpack } from "./wire.js";

const PING_INTERVAL_MS = 2000;
const SILENT_AFTER_MS = 6000; // the host pings every second: this much silence means gone
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
const RESYNC_TIMEOUT_MS = 5000; // the host answers a resync on its next tick
export const DEFAULT_ICE_TIMEOUT_MS = 6000; // the same bound as `quibble join --ice-timeout`

// Signaling errors after which retrying cannot help: shown, and the link stops.
const FATAL_SIGNALING = {
  room_full: "The room is full.",
  bad_name: "That name is not allowed: use 1 to 24 characters.",
  unsupported_version: "This page is out of date for the server: reload it.",
};
// The host's refusals of a hello or watch (peer/host.py, game/engine.py codes) that a retry
// cannot fix. Others (a seat mid-round: "wrong_phase") are retried with backoff.
const FATAL_BYES = {
  game_over: "This game is already over.",
  game_full: "The game is full.",
  room_full: "The game is full.",
  bad_name: "That name is not allowed here.",
  bad_version: "This page is out of date for the host: reload it.",
  too_many_spectators: "This game has enough boards already.",
};
const CLOSED_REASONS = {
  "host-left": "The host ended the game.",
  "host-timeout": "The host went away and did not come back.",
  idle: "The room closed after a long quiet spell.",
  kicked: "The host removed you from the room.",
  replaced: "This seat was opened on another tab or device.",
  shutdown: "The server is shutting down.",
};

/** Saved seat tokens for one room (the signaling seat and the game seat). */
export class SeatStore {
  constructor(key, storage = window.localStorage) {
    this.key = key;
    this.storage = storage;
  }

  load() {
    try {
      return JSON.parse(this.storage.getItem(this.key) || "{}") || {};
    } catch {
      return {};
    }
  }

  update(fields) {
    const merged = { ...this.load(), ...fields };
    try {
      this.storage.setItem(this.key, JSON.stringify(merged));
    } catch {
      // private mode: the seat simply won't survive a reload
    }
    return merged;
  }

  clear(...names) {
    const saved = this.load();
    for (const name of names) delete saved[name];
    try {
      this.storage.setItem(this.key, JSON.stringify(saved));
    } catch {
      // as above
    }
  }
}

/**
 * One player's (or the board's) link to the host. Events: "message" (detail = host message
 * object, chunks already reassembled), "status" (detail = this.status).
 * role "player" says hello and takes a seat; role "board" says watch (public view only).
 */
export class GameLink extends EventTarget {
  constructor({ code, name, role = "player", relayOnly = false, forceWsRelay = false, iceTimeoutMs = DEFAULT_ICE_TIMEOUT_MS, storage }) {
    super();
    this.code = code.toUpperCase();
    this.name = name;
    this.role = role;
    this.relayOnly = relayOnly;
    this.forceWsRelay = forceWsRelay;
    this.iceTimeoutMs = iceTimeoutMs;
    this.store = new SeatStore(`quibble:${role}:${this.code}`, storage);
    this.attempt = 0;
    this.failures = 0;
    this.stopped = false;
    this.sig = null;
    this.peer = null;
    this.transport = null; // "peer" | "relay" | null
    this.reader = new FrameReader();
    this.unpacking = null; // the promise of the packed frame being inflated, if any
    this.views = new ViewTracker();
    this.resyncing = false; // asked the host for a whole view; deltas are ignored until it comes
    this.resyncs = 0; // how many times (for tests and the status page)
    this.chunkId = 0;
    this.pingId = 0;
    this.lastHeard = 0;
    this.rttMs = null;
    this.seat = null;
    this.connections = []; // each time the link came up: {path, rttMs}; for the status page
    this.gameOver = false; // once the game is over, a dropped link is the host going home
    this.status = { stage: "idle", path: null, pathLabel: "connecting", rttMs: null, text: "Not connected", detail: [], fatal: false };
    this.timers = new Set();
    this.onWake = () => this.wake();
    document.addEventListener("visibilitychange", this.onWake);
    window.addEventListener("online", this.onWake);
    window.addEventListener("pageshow", this.onWake);
    this.pinger = setInterval(() => this.heartbeat(), PING_INTERVAL_MS);
  }

  setStatus(fields) {
    this.status = { ...this.status, ...fields };
    this.status.pathLabel = PATH_LABELS[this.status.path || "unknown"];
    this.dispatchEvent(new CustomEvent("status", { detail: this.status }));
  }

  later(fn, ms) {
    const attempt = this.attempt;
    const id = setTimeout(() => {
      this.timers.delete(id);
      if (attempt === this.attempt && !this.stopped) fn();
    }, ms);
    this.timers.add(id);
    return id;
  }

  /** Starts (or restarts) a connection attempt from scratch. */
  async start() {
    this.teardown();
    const attempt = ++this.attempt;
    this.stopped = false;
    this.setStatus({ stage: "signaling", path: null, rttMs: null, text: "Connecting to the room…", detail: [], fatal: false });
    const sig = new SignalingSocket(signalingUrl());
    this.sig = sig;
    sig.addEventListener("message", (e) => attempt === this.attempt && this.onSignal(e.detail));
    sig.addEventListener("close", () => attempt === this.attempt && this.onSignalingClosed());
    try {
      await sig.open();
    } catch {
      if (attempt === this.attempt) this.lost("The signaling server cannot be reached.");
      return;
    }
    if (attempt !== this.attempt) return;
    const saved = this.store.load();
    const join = { type: "join", version: 1, code: this.code, name: this.name };
    if (saved.signalingToken) join.seat_token = saved.signalingToken;
    sig.send(join);
  }

  onSignal(msg) {
    switch (msg.type) {
      case "joined":
        this.store.update({ signalingToken: msg.seat_token, name: this.name });
        if (!msg.host_connected) this.setStatus({ text: "Waiting for the host to come back…" });
        this.connectGame(msg.ice_servers || []);
        break;
      case "answer":
        if (this.peer) this.peer.acceptAnswer(msg.sdp).catch((err) => this.iceFailed(`bad answer: ${err.message}`));
        break;
      case "offer":
        this.onHostOffer(msg.sdp);
        break;
      case "candidate":
        if (this.peer) this.peer.addRemoteCandidate(msg);
        break;
      case "relay":
        if (this.transport === "relay") this.onFrameText(msg.data);
        break;
      case "host-status":
        if (!msg.connected) {
          this.setStatus({ text: "The host dropped; waiting for it to come back…" });
        } else if (this.transport === null) {
          this.connectGame(this.iceServers || []);
        }
        break;
      case "room-closed":
        this.fail(CLOSED_REASONS[msg.reason] || `The room closed (${msg.reason}).`);
        if (msg.reason === "kicked") this.store.clear("signalingToken", "gameToken", "seat");
        break;
      case "error":
        this.onSignalingError(msg);
        break;
      default:
        break; // pong, end-of-candidates: nothing to do
    }
  }

  onSignalingError(msg) {
    if (msg.code === "bad_token" && msg.about === "join") {
      // The signaling server no longer knows our token (it restarted with the host, say):
      // join it afresh. The game seat is the host's to give back, with the game token.
      this.store.clear("signalingToken");
      this.lost("The room was re-opened; joining it again.");
    } else if (msg.code === "unavailable") {
      // The server's room store (Redis) is down for a moment; nothing changed. Before the
      // game link is up, the refused join/offer/candidate means starting again shortly (the
      // backoff begins at 0.5 s); a live link carries on and just says so.
      if (this.transport === null) this.lost("The room server is briefly unavailable; retrying.");
      else this.setStatus({ detail: ["Signaling server: rooms briefly unavailable; retrying."] });
    } else if (msg.code === "room_not_found") {
      this.lost(`No room ${this.code} here (yet): retrying, in case the host is restarting.`);
    } else if (FATAL_SIGNALING[msg.code]) {
      this.fail(FATAL_SIGNALING[msg.code]);
    } else if (msg.about === "join") {
      this.lost(`The signaling server refused to join: ${msg.message || msg.code}`);
    } else if (msg.code === "relay_limited" || msg.code === "rate_limited") {
      this.setStatus({ detail: [`Signaling server: ${msg.message || msg.code}`] });
    }
  }

  onSignalingClosed() {
    // With an open data channel the game goes on without signaling; on the relay it can't.
    if (this.transport === "peer" && this.peer && this.peer.isOpen) return;
    if (!this.status.fatal) this.lost("The connection to the signaling server dropped.");
  }

  connectGame(iceServers) {
    this.iceServers = iceServers;
    if (this.forceWsRelay) {
      this.useRelay(["WebRTC skipped (?relay=ws): using the WS relay."]);
      return;
    }
    this.closePeer();
    const attempt = this.attempt;
    const peer = new PeerLink({ iceServers, relayOnly: this.relayOnly, onSignal: (m) => this.sig && this.sig.send(m) });
    this.peer = peer;
    this.setStatus({ stage: "ice", text: this.relayOnly ? "Connecting through the TURN relay…" : "Connecting to the host…", detail: [] });
    peer.addEventListener("open", () => {
      if (attempt !== this.attempt || peer !== this.peer) return;
      clearTimeout(this.iceTimer);
      this.transport = "peer";
      this.sayHello(peer.path);
    });
    peer.addEventListener("message", (e) => peer === this.peer && this.transport === "peer" && this.onFrameText(e.detail));
    peer.addEventListener("close", (e) => {
      if (attempt !== this.attempt || peer !== this.peer) return;
      if (this.transport === "peer") this.lost(`The data channel closed (${e.detail}).`);
      else if (this.transport === null) this.iceFailed(e.detail);
    });
    peer.addEventListener("state", (e) => {
      if (peer === this.peer && this.transport === null) this.setStatus({ detail: explainIce(e.detail) });
    });
    clearTimeout(this.iceTimer);
    this.iceTimer = this.later(() => this.iceFailed(`ICE did not connect within ${Math.round(this.iceTimeoutMs / 1000)} s`), this.iceTimeoutMs);
    peer.start().catch((err) => this.iceFailed(`could not make an offer: ${err.message}`));
  }

  async onHostOffer(sdp) {
    // The host may offer (e.g. an ICE restart); answer on the current peer connection.
    if (!this.peer) return;
    try {
      await this.peer.pc.setRemoteDescription({ type: "offer", sdp });
      const answer = await this.peer.pc.createAnswer();
      await this.peer.pc.setLocalDescription(answer);
      this.sig.send({ type: "answer", sdp: this.peer.pc.localDescription.sdp });
    } catch (err) {
      console.warn("could not answer the host's offer", err);
    }
  }

  iceFailed(reason) {
    if (this.transport !== null || !this.peer) return;
    const lines = [`WebRTC failed: ${reason}.`, ...explainIce(this.peer.report()), "Falling back to the WS relay through the signaling server."];
    this.closePeer();
    this.useRelay(lines);
  }

  useRelay(lines) {
    this.transport = "relay";
    this.setStatus({ detail: lines });
    this.sayHello("ws-relay");
  }

  sayHello(path) {
    this.lastHeard = performance.now();
    this.reader = new FrameReader();
    this.views.reset(); // a new connection starts with a whole view after its welcome
    this.resyncing = false;
    this.setStatus({ stage: "hello", path, text: "Taking a seat…" });
    if (this.role === "board") {
      this.sendFrame({ type: "watch", version: PROTOCOL_VERSION });
      return;
    }
    const saved = this.store.load();
    const hello = { type: "hello", version: PROTOCOL_VERSION, name: this.name, path };
    if (CAN_UNPACK) hello.packed = true;
    if (saved.gameToken) {
      hello.seat_token = saved.gameToken;
      if (Number.isInteger(saved.seat)) hello.seat = saved.seat;
    }
    this.sendFrame(hello);
  }

  onFrameText(text) {
    this.lastHeard = performance.now();
    let msg;
    try {
      msg = this.reader.receive(text);
    } catch (err) {
      console.warn("dropped a bad frame from the host", err);
      return;
    }
    if (msg === null) return;
    if (msg.type !== "packed" && this.unpacking === null) {
      this.onMessage(msg);
      return;
    }
    // Inflating is asynchronous: every message after a packed one waits its turn behind it.
    const reader = this.reader;
    const step = (this.unpacking ?? Promise.resolve())
      .then(async () => {
        const inner = msg.type === "packed" ? await unpack(msg) : msg;
        if (reader === this.reader) this.onMessage(inner); // not from a connection since replaced
      })
      .catch((err) => console.warn("dropped a bad frame from the host", err));
    this.unpacking = step;
    step.then(() => {
      if (this.unpacking === step) this.unpacking = null;
    });
  }

  onMessage(msg) {
    switch (msg.type) {
      case "ping":
        this.sendFrame({ type: "pong", id: msg.id, sent_ms: msg.sent_ms });
        return;
      case "pong":
        this.rttMs = Math.max(0, performance.now() - msg.sent_ms);
        this.setStatus({ rttMs: this.rttMs });
        return;
      case "welcome":
        this.seat = msg.seat;
        if (this.role === "player") this.store.update({ gameToken: msg.seat_token, seat: msg.seat });
        this.failures = 0;
        this.onConnected();
        break;
      case "public_view":
        if (this.status.stage !== "open") {
          this.failures = 0;
          this.onConnected();
        }
        break;
      case "view":
        try {
          msg = { ...msg, view: this.views.full(msg) };
        } catch (err) {
          if (!(err instanceof DeltaError)) throw err;
          this.lost(`a bad view from the host (${err.message})`);
          return;
        }
        this.resyncing = false; // the whole view we asked for (or a new connection's first)
        clearTimeout(this.resyncTimer);
        break;
      case "delta":
        // Deltas on a view we no longer hold: the whole one we asked for is on its way.
        if (this.resyncing) return;
        // Listeners get the whole view either way: a delta becomes the view it leads to.
        try {
          msg = { type: "view", view: this.views.delta(msg), seq: msg.seq, deadline_ms: msg.deadline_ms ?? null };
        } catch (err) {
          if (!(err instanceof DeltaError)) throw err;
          this.resync(err.message);
          return;
        }
        break;
      case "bye":
        this.onBye(msg);
        return;
      default:
        break;
    }
    this.dispatchEvent(new CustomEvent("message", { detail: msg }));
  }

  /**
   * A delta did not follow (a frame was lost, or it did not fit the view we hold): ask the
   * host for a whole view, as the Python player does, and ignore deltas until it arrives.
   * Should it not come, reconnecting gets one too.
   */
  resync(reason) {
    console.warn("view out of step: asking for a whole view", reason);
    this.resyncs++;
    this.resyncing = true;
    if (!this.sendFrame({ type: "resync" })) {
      this.lost("the view fell out of step; fetching it again");
      return;
    }
    clearTimeout(this.resyncTimer);
    this.resyncTimer = this.later(() => {
      if (this.resyncing) this.lost("the host did not resend the view; fetching it again");
    }, RESYNC_TIMEOUT_MS);
  }

  async onConnected() {
    const path = this.transport === "relay" ? "ws-relay" : await this.peer.refreshPath();
    const keepDetail = this.transport === "relay" ? this.status.detail : [];
    this.connections.push({ path });
    if (this.peer) this.localCandidates = [...this.peer.localCandidates];
    this.setStatus({ stage: "open", path, text: "Connected", detail: keepDetail });
    this.heartbeat();
  }

  onBye(msg) {
    if (msg.reason === "bad_token") {
      this.store.clear("gameToken", "seat");
      this.lost("The host did not know our saved seat; joining as new.");
    } else if (msg.reason === "replaced") {
      this.fail("This seat was opened on another tab or device.");
    } else if (FATAL_BYES[msg.reason]) {
      this.fail(FATAL_BYES[msg.reason]);
    } else if (msg.reason === "wrong_phase") {
      this.lost("The round is under way; you can join between rounds.");
    } else if (msg.reason === "host_closing" && this.gameOver) {
      this.lost("host closing");
    } else if (msg.reason === "host_closing") {
      this.fail(`The host closed the game${msg.message ? `: ${msg.message}` : "."}`);
    } else {
      this.lost(`The host dropped us: ${msg.message || msg.reason}`);
    }
  }

  /** Sends one game message; false if there is no link to send it on right now. */
  sendFrame(message) {
    let sent = true;
    for (const text of toFrames(message, ++this.chunkId)) {
      if (this.transport === "peer" && this.peer) sent = this.peer.send(text) && sent;
      else if (this.transport === "relay" && this.sig) sent = this.sig.send({ type: "relay", data: text }) && sent;
      else sent = false;
    }
    return sent;
  }

  /** Sends a player action; returns its ref (a rejection echoes it), or null if offline. */
  sendAction(action) {
    if (this.status.stage !== "open") return null;
    const ref = (this.nextRef = ((this.nextRef || 0) + 1) % 2 ** 31);
    return this.sendFrame({ type: "action", action, ref }) ? ref : null;
  }

  heartbeat() {
    if (this.stopped || this.transport === null || this.status.stage === "failed") return;
    if (performance.now() - this.lastHeard > SILENT_AFTER_MS) {
      this.lost("The host stopped answering.");
      return;
    }
    this.pingId = (this.pingId + 1) % 2 ** 31;
    const ping = { type: "ping", id: this.pingId, sent_ms: Math.round(performance.now()) };
    if (this.rttMs !== null) ping.rtt_ms = Math.round(this.rttMs * 100) / 100;
    this.sendFrame(ping);
    if (this.transport === "peer" && this.peer) {
      this.peer.refreshPath().then((path) => {
        if (this.transport === "peer" && path !== this.status.path && this.status.stage === "open") this.setStatus({ path });
      });
    }
  }

  /** The page came back (visible, online, restored): make sure the link is alive now. */
  wake() {
    if (document.visibilityState === "hidden" || this.stopped || this.status.fatal) return;
    const stage = this.status.stage;
    // The host pings every second: a link that heard nothing for a while died in the
    // background. A reconnect waiting out its backoff goes now; one in progress carries on.
    const stale = stage === "open" && performance.now() - this.lastHeard > 2500;
    if (stage === "reconnecting" || stage === "idle" || stale) {
      this.failures = 0;
      this.start();
    }
  }

  lost(reason) {
    if (this.stopped || this.status.fatal) return;
    if (this.gameOver) {
      this.teardown();
      this.attempt++;
      this.setStatus({ stage: "ended", path: null, rttMs: null, text: "Game over: the host has closed the room." });
      return;
    }
    this.teardown();
    const delay = BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)];
    this.failures++;
    this.setStatus({ stage: "reconnecting", path: null, rttMs: null, text: `Reconnecting… (${reason})` });
    this.attempt++;
    this.later(() => this.start(), delay);
  }

  fail(reason) {
    this.teardown();
    this.attempt++;
    this.setStatus({ stage: "failed", path: null, rttMs: null, text: reason, fatal: true });
  }

  closePeer() {
    clearTimeout(this.iceTimer);
    if (this.peer) {
      const peer = this.peer;
      this.peer = null;
      peer.shutdown("replaced");
    }
  }

  teardown() {
    for (const id of this.timers) clearTimeout(id);
    this.timers.clear();
    this.closePeer();
    this.transport = null;
    if (this.sig) {
      const sig = this.sig;
      this.sig = null;
      sig.close();
    }
  }

  stop() {
    this.stopped = true;
    this.teardown();
    clearInterval(this.pinger);
    document.removeEventListener("visibilitychange", this.onWake);
    window.removeEventListener("online", this.onWake);
    window.removeEventListener("pageshow", this.onWake);
  }
}
