// The phone page: the join form, then the game. `/r/CODE` pre-fills the code; a page that
// has a saved seat for its room rejoins by itself (reload, lock screen, network change).
// Query flags: autoplay=1 (an in-page bot clicks through the real UI; start=N presses Start
// once N players are in), relay=turn (iceTransportPolicy "relay"), relay=ws (skip WebRTC),
// ice_timeout=MS (the bound before falling back to the WS relay).

import { startAutoplay } from "./autoplay.js";
import { GameLink, DEFAULT_ICE_TIMEOUT_MS, SeatStore } from "./link.js";
import { renderStatus } from "./status.js";
import { PlayerUI } from "./ui.js";

const params = new URLSearchParams(window.location.search);
const statusBar = document.getElementById("status");
const joinScreen = document.getElementById("join-screen");
const gameScreen = document.getElementById("game-screen");
const form = document.getElementById("join-form");
const joinError = document.getElementById("join-error");

function codeFromPath() {
  const match = /^\/r\/([A-Za-z]{4,8})\/?$/.exec(window.location.pathname);
  return match ? match[1].toUpperCase() : "";
}

const state = { link: null, ui: null, view: null, welcome: null, history: params.get("record") ? [] : null };
window.quibble = state; // for people debugging on a phone, and for the tests

function startGame(code, name) {
  joinScreen.hidden = true;
  gameScreen.hidden = false;
  document.body.dataset.phase = "connecting";
  const path = `/r/${code}${window.location.search}`;
  if (window.location.pathname + window.location.search !== path) history.replaceState(null, "", path);
  const relay = params.get("relay");
  const link = new GameLink({
    code,
    name,
    relayOnly: relay === "turn",
    forceWsRelay: relay === "ws",
    iceTimeoutMs: Number(params.get("ice_timeout")) || DEFAULT_ICE_TIMEOUT_MS,
  });
  const ui = new PlayerUI(gameScreen, { onAction: (action) => link.sendAction(action) });
  state.link = link;
  state.ui = ui;
  link.addEventListener("status", (e) => {
    renderStatus(statusBar, e.detail);
    document.body.dataset.connection = e.detail.stage;
    document.body.dataset.path = e.detail.path || "";
  });
  link.addEventListener("message", (e) => {
    const msg = e.detail;
    if (msg.type === "welcome") {
      state.welcome = msg;
    } else if (msg.type === "view") {
      state.view = msg.view;
      if (state.history) state.history.push(msg.view);
      link.gameOver = msg.view.phase === "over";
      ui.render(msg.view, msg.deadline_ms ?? null);
    } else if (msg.type === "rejected") {
      ui.showRejection(msg.code, msg.message, msg.ref ?? null);
    }
  });
  if (params.get("autoplay")) startAutoplay(ui, { start: Number(params.get("start")) || 0 });
  link.start();
}

const initialCode = codeFromPath() || (params.get("code") || "").toUpperCase();
form.elements.code.value = initialCode;
if (initialCode) form.elements.name.focus();

form.addEventListener("submit", (e) => {
  e.preventDefault();
  const code = form.elements.code.value.trim().toUpperCase();
  const name = form.elements.name.value.trim();
  if (!/^[A-Z]{4,8}$/.test(code)) {
    joinError.textContent = "The room code is 4 letters, like ABCD.";
    return;
  }
  if (!name || name.length > 24) {
    joinError.textContent = "Enter a name of 1 to 24 characters.";
    return;
  }
  joinError.textContent = "";
  startGame(code, name);
});

// A saved seat for this room: back to it without asking (a reload must not cost the seat).
if (initialCode) {
  const saved = new SeatStore(`quibble:player:${initialCode}`).load();
  if (saved.name && saved.signalingToken) startGame(initialCode, saved.name);
}
