// The WebRTC side of a player: one RTCPeerConnection with the room's ICE servers and one
// ordered, reliable data channel labelled "quibble" (peer/webrtc.py). The player offers and
// trickles its candidates; the host answers. Also: which path the connection took, and a
// plain account of what ICE tried when it fails.

export const CHANNEL_LABEL = "quibble";

/** Names for a path as players read them (the same words as `quibble doctor`). */
export const PATH_LABELS = {
  host: "direct",
  srflx: "STUN",
  relay: "TURN relay",
  "ws-relay": "WS relay",
  unknown: "connecting",
};

/** Whether an IP address is private, link-local or unique-local (turn/address_scope.py). */
export function isLanAddress(address) {
  const a = String(address || "").toLowerCase();
  const v4 = /^(\d{1,3})\.(\d{1,3})\.\d{1,3}\.\d{1,3}$/.exec(a);
  if (v4) {
    const [x, y] = [Number(v4[1]), Number(v4[2])];
    return x === 10 || (x === 172 && y >= 16 && y <= 31) || (x === 192 && y === 168) ||
      (x === 169 && y === 254);
  }
  return a.includes(":") && (/^f[cd][0-9a-f]{2}:/.test(a) || /^fe[89ab][0-9a-f]:/.test(a));
}

/**
 * The path of a candidate pair, the same rule as peer/webrtc.py classify_pair: a
 * peer-reflexive LAN address against our host candidate is a direct path (mDNS hides host
 * candidates, so ICE learns them from checks), anything else mapped is STUN.
 */
export function classifyPair(localType, remoteType, remoteAddress) {
  const types = new Set([localType, remoteType]);
  if (types.has("relay")) return "relay";
  if (types.has("srflx")) return "srflx";
  if (types.has("prflx")) {
    const lan = localType === "host" && remoteType === "prflx" && isLanAddress(remoteAddress);
    return lan ? "host" : "srflx";
  }
  if (types.size === 1 && types.has("host")) return "host";
  return "unknown";
}

/** The candidate type named in an SDP candidate line ("... typ host ..."). */
export function candidateType(line) {
  const match = /\btyp\s+(host|srflx|prflx|relay)\b/.exec(line || "");
  return match ? match[1] : "unknown";
}

function countTypes(lines) {
  const counts = { host: 0, srflx: 0, prflx: 0, relay: 0 };
  let mdns = 0;
  for (const line of lines) {
    const type = candidateType(line);
    if (type in counts) counts[type]++;
    if (/\s[0-9a-f-]+\.local\s/i.test(line)) mdns++;
  }
  return { ...counts, mdns };
}

/**
 * One attempt at a WebRTC data channel to the host. `onSignal(message)` is called with the
 * signaling messages to send (offer, candidate, end-of-candidates). Emits "open", "close",
 * "message" (detail = text) and "state" (detail = this.report()).
 */
export class PeerLink extends EventTarget {
  constructor({ iceServers = [], relayOnly = false, onSignal }) {
    super();
    this.relayOnly = relayOnly;
    this.iceServers = iceServers;
    this.onSignal = onSignal;
    this.localCandidates = [];
    this.remoteCandidates = [];
    this.states = []; // the ICE connection states passed through, in order
    this.serverErrors = []; // STUN/TURN servers that failed: {url, code, text}
    this.path = "unknown";
    this.closed = false;
    // Candidates wait for the host's answer: the host makes its peer connection only when it
    // answers, and drops candidates for a connection it does not have yet.
    this.answered = false;
    this.queued = [];
    const config = { iceServers };
    if (relayOnly) config.iceTransportPolicy = "relay";
    this.pc = new RTCPeerConnection(config);
    this.channel = this.pc.createDataChannel(CHANNEL_LABEL, { ordered: true });
    this.pc.onicecandidate = (event) => {
      if (event.candidate && event.candidate.candidate) {
        this.localCandidates.push(event.candidate.candidate);
        this.signalCandidate({
          type: "candidate",
          candidate: event.candidate.candidate,
          sdpMid: event.candidate.sdpMid,
          sdpMLineIndex: event.candidate.sdpMLineIndex,
        });
      } else if (!event.candidate) {
        this.signalCandidate({ type: "end-of-candidates" });
      }
      this.emitState();
    };
    this.pc.onicecandidateerror = (event) => {
      if (this.serverErrors.length < 16) {
        this.serverErrors.push({ url: event.url || "", code: event.errorCode, text: event.errorText || "" });
      }
      this.emitState();
    };
    this.pc.oniceconnectionstatechange = () => {
      this.states.push(this.pc.iceConnectionState);
      this.emitState();
    };
    this.pc.onconnectionstatechange = () => {
      const state = this.pc.connectionState;
      if (state === "failed" || state === "closed") this.shutdown(`connection ${state}`);
      this.emitState();
    };
    this.channel.onopen = async () => {
      await this.refreshPath();
      this.dispatchEvent(new Event("open"));
    };
    this.channel.onmessage = (event) => {
      if (typeof event.data === "string") {
        this.dispatchEvent(new CustomEvent("message", { detail: event.data }));
      }
    };
    this.channel.onclose = () => this.shutdown("channel closed");
  }

  /** Makes and sends the offer; candidates follow as they are gathered. */
  async start() {
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    this.onSignal({ type: "offer", sdp: this.pc.localDescription.sdp });
  }

  signalCandidate(message) {
    if (this.answered) this.onSignal(message);
    else this.queued.push(message);
  }

  async acceptAnswer(sdp) {
    if (this.closed) return;
    await this.pc.setRemoteDescription({ type: "answer", sdp });
    this.answered = true;
    for (const message of this.queued.splice(0)) this.onSignal(message);
    for (const line of sdp.split(/\r?\n/)) {
      if (line.startsWith("a=candidate:")) this.remoteCandidates.push(line.slice(2));
    }
    this.emitState();
  }

  async addRemoteCandidate(message) {
    if (this.closed) return;
    try {
      if (!message.candidate) return;
      this.remoteCandidates.push(message.candidate);
      await this.pc.addIceCandidate({
        candidate: message.candidate,
        sdpMid: message.sdpMid ?? "0",
        sdpMLineIndex: message.sdpMLineIndex ?? 0,
      });
    } catch (err) {
      console.warn("ignored a remote candidate", err);
    }
  }

  get isOpen() {
    return !this.closed && this.channel.readyState === "open";
  }

  send(text) {
    if (!this.isOpen) return false;
    this.channel.send(text);
    return true;
  }

  /** Reads the selected candidate pair from getStats: host / srflx / relay. */
  async refreshPath() {
    try {
      const stats = await this.pc.getStats();
      let pairId = null;
      stats.forEach((s) => {
        if (s.type === "transport" && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
      });
      let pair = pairId ? stats.get(pairId) : null;
      if (!pair) {
        stats.forEach((s) => {
          if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") pair = s;
        });
      }
      if (pair) {
        const local = stats.get(pair.localCandidateId);
        const remote = stats.get(pair.remoteCandidateId);
        if (local && remote) {
          this.path = classifyPair(
            local.candidateType, remote.candidateType, remote.address || remote.ip,
          );
        }
      }
    } catch (err) {
      console.warn("getStats failed", err);
    }
    return this.path;
  }

  /** What ICE tried: states, candidate types gathered here and received from the host. */
  report() {
    return {
      iceConnectionState: this.pc.iceConnectionState,
      iceGatheringState: this.pc.iceGatheringState,
      connectionState: this.pc.connectionState,
      states: [...this.states],
      local: countTypes(this.localCandidates),
      remote: countTypes(this.remoteCandidates),
      servers: {
        stun: this.iceServers.some((s) => [].concat(s.urls).some((u) => u.startsWith("stun"))),
        turn: this.iceServers.some((s) => [].concat(s.urls).some((u) => u.startsWith("turn"))),
      },
      relayOnly: this.relayOnly,
      serverErrors: [...this.serverErrors],
      path: this.path,
    };
  }

  emitState() {
    this.dispatchEvent(new CustomEvent("state", { detail: this.report() }));
  }

  shutdown(reason) {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    try {
      this.channel.close();
    } catch {
      // already closed
    }
    try {
      this.pc.close();
    } catch {
      // already closed
    }
    this.dispatchEvent(new CustomEvent("close", { detail: reason }));
  }
}

function serverError(e) {
  // Chromium's codes: 401/403 from the server itself, 701 when it never answered.
  const why = e.code === 401 || e.code === 403
    ? "refused the credentials"
    : e.code === 701 ? "did not answer" : `failed (${e.code} ${e.text})`.trim();
  return `${e.url || "a STUN/TURN server"} ${why}.`;
}

/**
 * A plain explanation of a failed (or not yet connected) ICE attempt, in the words
 * `quibble doctor` uses (host / srflx / relay paths, "no STUN answer over UDP", "no TURN
 * server configured", "the TURN server refused the credentials").
 */
export function explainIce(report) {
  const lines = [];
  const l = report.local;
  const r = report.remote;
  const fmt = (c) => `host ${c.host}${c.mdns ? ` (${c.mdns} mDNS .local)` : ""}, srflx ${c.srflx}, relay ${c.relay}`;
  lines.push(`ICE state: ${report.states.length ? report.states.join(" → ") : report.iceConnectionState}.`);
  lines.push(`Candidates gathered here: ${fmt(l)}.`);
  lines.push(`Candidates from the host: ${fmt(r)}.`);
  for (const e of report.serverErrors || []) lines.push(serverError(e));
  if (report.relayOnly && l.relay === 0) {
    lines.push("Relay only was asked for, but no TURN relay candidate was gathered: the TURN server did not answer or refused the credentials.");
  } else if (report.servers.turn && l.relay === 0) {
    lines.push("relay: the TURN server gave no relay candidate (no answer, or it refused the credentials).");
  } else if (!report.servers.turn) {
    lines.push("relay: no TURN server configured, so there is no relay across strict NATs.");
  }
  if (report.servers.stun && l.srflx === 0) {
    lines.push("srflx: no STUN answer over UDP (UDP blocked, or the server is down).");
  }
  if (r.host + r.srflx + r.relay === 0) {
    lines.push("No candidates arrived from the host.");
  }
  lines.push("`quibble doctor` on the host's network shows which paths work there.");
  return lines;
}
