// The race, animated from the host's per-tick positions (RaceResult.ticks[t][q], 0..100).
// The host computes the whole race at once; screens only play it back, interpolating
// between ticks so it looks smooth at any frame rate.

import { QUIBBLE_COLORS, esc, ordinal } from "./cards.js";

export const TRACK_LENGTH = 100;

/** Positions at time `t` (0..1 of the animation), interpolated between the two nearest ticks. */
export function positionsAt(ticks, t) {
  if (!ticks.length) return [];
  const f = Math.min(1, Math.max(0, t)) * (ticks.length - 1);
  const i = Math.floor(f);
  const j = Math.min(ticks.length - 1, i + 1);
  const w = f - i;
  return ticks[i].map((p, q) => p + (ticks[j][q] - p) * w);
}

/** A track of lanes inside `container`; `play(...)` starts (or resumes) an animation. */
export class RaceTrack {
  constructor(container) {
    this.container = container;
    this.key = null;
    this.frame = null;
  }

  /**
   * Show `race` for `quibbles`. `key` identifies the race (e.g. the round): the same key
   * keeps the running animation; `durationMs` is how long the playback lasts.
   */
  play(quibbles, race, key, durationMs) {
    if (this.key === key && this.container.querySelector(".lane")) return;
    this.key = key;
    cancelAnimationFrame(this.frame);
    const lanes = quibbles.map((q, i) => {
      const status = q.status !== "running" ? `<span class="lane-status">${q.status === "dead" ? "dead" : "disqualified"}</span>` : "";
      return `<div class="lane" data-testid="lane-${i}"><span class="lane-name">${esc(q.name)}${status}</span><div class="lane-track"><div class="runner" style="background:${QUIBBLE_COLORS[i % QUIBBLE_COLORS.length]}" aria-hidden="true"></div><div class="finish"></div></div><span class="lane-place" aria-live="off"></span></div>`;
    });
    this.container.innerHTML = `<div class="track" role="img" aria-label="The race">${lanes.join("")}</div>`;
    const runners = [...this.container.querySelectorAll(".runner")];
    const places = [...this.container.querySelectorAll(".lane-place")];
    const ticks = (race && race.ticks) || [];
    const order = (race && race.order) || [];
    const start = performance.now();
    const step = (now) => {
      const t = durationMs > 0 ? (now - start) / durationMs : 1;
      const pos = positionsAt(ticks, t);
      runners.forEach((el, q) => {
        const p = pos[q] ?? 0;
        el.style.setProperty("--p", String(Math.min(1, p / TRACK_LENGTH)));
      });
      if (t >= 1) {
        order.forEach((q, place) => {
          if (places[q]) places[q].textContent = ordinal(place + 1);
        });
        this.container.dataset.finished = "1";
        return;
      }
      this.frame = requestAnimationFrame(step);
    };
    delete this.container.dataset.finished;
    this.frame = requestAnimationFrame(step);
  }

  clear() {
    cancelAnimationFrame(this.frame);
    this.key = null;
    this.container.innerHTML = "";
  }
}
