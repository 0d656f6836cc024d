// The connection status line every screen shows: stage, path in use, RTT, and when things
// go wrong, the plain explanation (ICE states, candidate types) behind a details toggle.

import { esc } from "./cards.js";

/** Renders `status` (GameLink.status) into the status bar element. */
export function renderStatus(bar, status) {
  const stage = status.stage;
  let summary;
  if (stage === "open") {
    const rtt = status.rttMs === null || status.rttMs === undefined ? "" : ` · ${Math.round(status.rttMs)} ms`;
    summary = `${status.pathLabel}${rtt}`;
  } else {
    summary = status.text;
  }
  const wasOpen = Boolean(bar.querySelector("details[open]"));
  bar.dataset.stage = stage;
  bar.dataset.path = status.path || "";
  const detail = status.detail && status.detail.length
    ? `<details class="status-detail"${wasOpen ? " open" : ""}><summary>Why?</summary><ul>${status.detail.map((l) => `<li>${esc(l)}</li>`).join("")}</ul></details>`
    : "";
  bar.innerHTML = `<span class="dot" aria-hidden="true"></span><span class="status-text" data-testid="connection-status">${esc(summary)}</span>${detail}`;
  bar.setAttribute("aria-label", `Connection: ${summary}`);
}
