// The board: the room's shared screen (a TV or the host laptop). It joins as a spectator:
// signaling like a player, then `watch` instead of `hello`, and the host sends it only the
// public view (game.views.PublicView): never a hand, a bet before the Payout, or a coin count.

import { PHASE_NAMES, esc } from "./cards.js";
import { GameLink } from "./link.js";
import { qrSvg } from "./qr.js";
import { RaceTrack } from "./race.js";
import { renderStatus } from "./status.js";
import {
  betResultsHtml, fieldHtml, formatClock, logHtml, playersHtml, raceOrderHtml, readyCount,
  shopHtml, standingsHtml, stupifyBannerHtml,
} from "./table.js";

const params = new URLSearchParams(window.location.search);
const match = /^\/board\/([A-Za-z]{4,8})\/?$/.exec(window.location.pathname);
const code = match ? match[1].toUpperCase() : (params.get("code") || "").toUpperCase();
const joinUrl = params.get("join") || `${window.location.origin}/r/${code}`;
const els = {
  status: document.getElementById("status"),
  phase: document.getElementById("board-phase"),
  round: document.getElementById("board-round"),
  timer: document.getElementById("timer"),
  code: document.getElementById("board-code"),
  banners: document.getElementById("banners"),
  race: document.getElementById("race"),
  body: document.getElementById("board-body"),
};
els.code.textContent = code;
const track = new RaceTrack(els.race);
const state = { view: null, deadlineAt: null, history: params.get("record") ? [] : null };
window.quibble = state;

function set(el, html) {
  if (el._html !== html) {
    el.innerHTML = html;
    el._html = html;
  }
}

function joinPanel() {
  const local = /^(localhost|127\.|\[::1\])/.test(window.location.hostname) && !params.get("join");
  const note = local ? `<p class="muted">Phones cannot reach “localhost”: open this board at the LAN address the host printed.</p>` : "";
  return `<section aria-label="How to join"><h2>Join on your phone</h2><div class="join-panel"><div class="qr" data-testid="join-qr">${qrSvg(joinUrl, { label: `QR code for ${joinUrl}` })}</div><div><p>Scan the code, or open</p><p class="join-url" data-testid="join-url">${esc(joinUrl)}</p><p>Room code <strong>${esc(code)}</strong></p>${note}</div></div></section>`;
}

function bodyHtml(v) {
  const players = `<section aria-label="Players"><h2>Players · ${readyCount(v)}</h2>${playersHtml(v)}${logHtml(v)}</section>`;
  switch (v.phase) {
    case "lobby":
      return `${joinPanel()}<section aria-label="Players"><h2>Players (${v.players.length})</h2>${playersHtml(v)}<p class="muted">Anyone may press Start once three players are in.</p></section>`;
    case "betting":
    case "item":
    case "discussion":
    case "reveal":
      return `<section aria-label="The field"><h2>The field · odds</h2>${fieldHtml(v)}</section>${players}`;
    case "race":
      return `<section aria-label="The field"><h2>The field</h2>${fieldHtml(v)}</section>${players}`;
    case "payout":
      return `<section aria-label="Race result"><h2>Result</h2>${raceOrderHtml(v)}${fieldHtml(v)}</section><section aria-label="Bets"><h2>Bets</h2>${betResultsHtml(v)}</section>`;
    case "purchase":
      return `<section aria-label="Shop"><h2>Shop</h2>${shopHtml(v)}</section><section aria-label="Bets"><h2>This round's bets</h2>${betResultsHtml(v)}${players}</section>`;
    case "over": {
      const names = v.standings.filter((st) => v.winners.includes(st.seat)).map((st) => esc(st.name));
      const won = names.length ? `<p class="winner" data-testid="winners">★ ${names.join(" and ")} ${names.length > 1 ? "win" : "wins"}!</p>` : "";
      return `<section aria-label="Final standings"><h2>Final standings</h2>${won}${standingsHtml(v)}</section><section aria-label="What happened"><h2>Last round</h2>${raceOrderHtml(v)}${logHtml(v)}</section>`;
    }
    default:
      return "";
  }
}

function render(v, deadlineMs) {
  state.view = v;
  state.deadlineAt = deadlineMs === null || deadlineMs === undefined ? null : performance.now() + deadlineMs;
  document.body.dataset.phase = v.phase;
  document.body.dataset.round = String(v.round);
  els.phase.textContent = PHASE_NAMES[v.phase] || v.phase;
  els.round.textContent = v.round ? `· round ${v.round} of ${v.rounds}` : "";
  set(els.banners, stupifyBannerHtml(v));
  set(els.body, bodyHtml(v));
  if (v.phase === "race" && v.race) {
    els.race.hidden = false;
    const ms = Math.max(1000, Math.min(8000, (deadlineMs ?? v.phase_seconds * 1000) * 0.8));
    track.play(v.quibbles, v.race, `r${v.round}`, ms);
  } else {
    els.race.hidden = true;
    track.clear();
  }
  tick();
  // ?record=1 keeps every view and what the screen showed for it (the tests read it).
  if (state.history) state.history.push({ view: v, html: document.body.innerHTML });
}

function tick() {
  if (state.deadlineAt === null) {
    els.timer.textContent = "";
    return;
  }
  const left = state.deadlineAt - performance.now();
  els.timer.textContent = formatClock(left);
  els.timer.classList.toggle("urgent", left < 5000);
}
setInterval(tick, 250);

if (!code) {
  set(els.body, `<section><h2>No room code</h2><p>Open /board/CODE with the room's code.</p></section>`);
} else {
  // The lobby's QR code shows at once, before the host answers: people can start joining.
  set(els.body, `${joinPanel()}<section><h2>Players</h2><p class="muted">Connecting to the host…</p></section>`);
  const link = new GameLink({ code, name: "Board", role: "board", relayOnly: params.get("relay") === "turn", forceWsRelay: params.get("relay") === "ws" });
  state.link = link;
  link.addEventListener("status", (e) => {
    renderStatus(els.status, e.detail);
    document.body.dataset.connection = e.detail.stage;
  });
  link.addEventListener("message", (e) => {
    const msg = e.detail;
    if (msg.type === "public_view") {
      link.gameOver = msg.view.phase === "over";
      render(msg.view, msg.deadline_ms ?? null);
    }
  });
  link.start();
}
