// The phone screens: one per phase, rendered from the PlayerView the host sends. User
// intents become actions (game/actions.py shapes) through `onAction`; the host decides.

import { CARDS, PHASE_HINTS, PHASE_NAMES, cardName, esc, formatOdds } from "./cards.js";
import { RaceTrack } from "./race.js";
import {
  betResultsHtml, fieldHtml, formatClock, logHtml, playersHtml, raceOrderHtml, readyCount,
  shopHtml, standingsHtml, stupifyBannerHtml,
} from "./table.js";

// Rejection codes (game/engine.py RejectionCode and peer/host.py) in plain words.
const REJECTIONS = {
  wrong_phase: "That can't be done in this phase.",
  not_enough_players: "At least three players are needed to start.",
  insufficient_coins: "Not enough coins.",
  loan_cap: "That would go over this round's loan cap.",
  bad_amount: "That amount is not allowed.",
  bad_quibble: "No such quibble.",
  card_not_held: "You don't hold that card any more.",
  wrong_card_phase: "That card is played in another phase.",
  bad_target: "That target is not allowed.",
  item_limit: "You've played all your items this round.",
  already_active: "That is already in effect.",
  nothing_to_safeguard: "You have no lost bet to safeguard.",
  not_in_discard: "That card is not in the discard pile.",
  not_in_shop: "That card is no longer in the shop.",
  hand_full: "Your hand is full.",
  game_over: "The game is over.",
  not_your_seat: "You can only act for your own seat.",
  wrong_seat: "You can only act for your own seat.",
  rate_limited: "Slow down a little.",
};

/** A readable sentence for a rejection from the host. */
export function rejectionText(code, message) {
  const plain = REJECTIONS[code];
  if (plain && message) return `${plain} (${message})`;
  return plain || message || `Refused (${code}).`;
}

const ACTION_LABELS = {
  PlaceBet: "Your bet",
  Borrow: "Borrowing",
  PlayCard: "Playing that card",
  BuyCard: "Buying",
  Ready: "Ready",
  StartGame: "Starting",
};

export class PlayerUI {
  constructor(root, { onAction }) {
    this.root = root;
    this.onAction = onAction;
    this.view = null;
    this.deadlineAt = null;
    this.selected = null; // quibble chosen for a bet
    this.betAmount = "";
    this.borrowAmount = "";
    this.pending = null; // {card, kind, needs: [...], values: {}}
    this.sent = new Map(); // ref -> action type, to word rejections
    this.rejections = [];
    this.els = {
      title: root.querySelector("#phase-title"),
      round: root.querySelector("#round"),
      timer: root.querySelector("#timer"),
      wallet: root.querySelector("#wallet"),
      banners: root.querySelector("#banners"),
      toast: root.querySelector("#toast"),
      hint: root.querySelector("#phase-hint"),
      body: root.querySelector("#phase-body"),
      race: root.querySelector("#race"),
      hand: root.querySelector("#hand"),
      actions: root.querySelector("#actions"),
    };
    this.track = new RaceTrack(this.els.race);
    root.addEventListener("click", (e) => this.onClick(e));
    root.addEventListener("input", (e) => this.onInput(e));
    root.addEventListener("submit", (e) => this.onSubmit(e));
    setInterval(() => this.tick(), 250);
  }

  send(action) {
    const ref = this.onAction(action);
    if (ref === null) {
      this.showRejection("offline", "Not connected to the host right now: try again in a moment.");
      return;
    }
    this.sent.set(ref, action.type);
    if (this.sent.size > 64) this.sent.delete(this.sent.keys().next().value);
  }

  set(el, html) {
    if (el._html !== html) {
      el.innerHTML = html;
      el._html = html;
    }
  }

  /** A new view from the host (with the phase deadline in ms, relative to now). */
  render(view, deadlineMs) {
    const previous = this.view;
    this.view = view;
    this.deadlineAt = deadlineMs === null || deadlineMs === undefined ? null : performance.now() + deadlineMs;
    if (!previous || previous.phase !== view.phase || previous.round !== view.round) {
      this.pending = null;
      if (view.phase === "betting") this.selected = view.bet ? view.bet.quibble : null;
    }
    document.body.dataset.phase = view.phase;
    document.body.dataset.round = String(view.round);
    document.body.dataset.seat = String(view.seat);
    document.body.dataset.ready = String(view.ready);
    this.els.title.textContent = PHASE_NAMES[view.phase] || view.phase;
    this.els.round.textContent = view.round ? `Round ${view.round} of ${view.rounds}` : `${view.rounds} rounds`;
    this.set(this.els.hint, esc(PHASE_HINTS[view.phase] || ""));
    this.set(this.els.wallet, this.walletHtml(view));
    this.set(this.els.banners, stupifyBannerHtml(view, view.seat) + view.notices.map((n) => `<div class="banner notice" role="status">${esc(n)}</div>`).join(""));
    this.set(this.els.body, this.bodyHtml(view));
    this.set(this.els.hand, this.handHtml(view));
    this.set(this.els.actions, this.actionsHtml(view));
    if (view.phase === "race" && view.race) {
      this.els.race.hidden = false;
      const ms = Math.max(1000, Math.min(8000, (deadlineMs ?? view.phase_seconds * 1000) * 0.8));
      this.track.play(view.quibbles, view.race, `r${view.round}`, ms);
    } else {
      this.els.race.hidden = true;
      this.track.clear();
    }
    this.tick();
    this.root.dispatchEvent(new CustomEvent("rendered", { bubbles: true, detail: view }));
  }

  tick() {
    const el = this.els.timer;
    if (this.deadlineAt === null || !this.view) {
      el.textContent = "";
      el.removeAttribute("data-seconds");
      return;
    }
    const left = this.deadlineAt - performance.now();
    el.textContent = formatClock(left);
    el.dataset.seconds = String(Math.max(0, Math.ceil(left / 1000)));
    el.classList.toggle("urgent", left < 5000);
  }

  walletHtml(v) {
    const bet = v.bet ? `<span data-testid="my-bet">Bet ${v.bet.amount} on ${esc(v.quibbles[v.bet.quibble]?.name)}</span>` : "";
    const debt = v.debt ? `<span class="debt" data-testid="debt">Debt ${v.debt}</span>` : "";
    return `<span class="coins" data-testid="coins"><span class="coin" aria-hidden="true"></span>${v.coins} coins</span>${debt}${bet}<span class="me-name">${esc(v.name)}</span>`;
  }

  bodyHtml(v) {
    const pending = this.pending;
    switch (v.phase) {
      case "lobby":
        return `<h2>Players (${v.players.length})</h2>${playersHtml(v, { seat: v.seat })}<button type="button" class="primary" data-action="start" data-testid="start-game">Start the game</button>`;
      case "betting":
        return `${fieldHtml(v, { action: "select-quibble", selected: this.selected, betOn: v.bet?.quibble })}${this.betFormHtml(v)}${this.borrowFormHtml(v)}`;
      case "item": {
        const played = v.my_items.map((p) => `<li>${esc(cardName(p.card.kind))} on ${esc(v.quibbles[p.quibble]?.name)}</li>`).join("");
        const targeting = pending && this.nextNeed() && this.nextNeed().startsWith("quibble");
        return `<p class="count">Items played: ${v.items_played}/${v.items_per_round}</p>${played ? `<ul class="mine">${played}</ul>` : ""}${this.pendingHtml(v)}${fieldHtml(v, targeting ? { action: "target-quibble", testid: "target-quibble", betOn: v.bet?.quibble } : { betOn: v.bet?.quibble })}`;
      }
      case "discussion": {
        const targeting = pending && this.nextNeed() === "target";
        return `${this.pendingHtml(v)}${playersHtml(v, { seat: v.seat, action: targeting ? "target-seat" : null })}${logHtml(v)}${fieldHtml(v, { betOn: v.bet?.quibble })}`;
      }
      case "reveal": {
        const targeting = pending && this.nextNeed() && this.nextNeed().startsWith("quibble");
        return `${this.pendingHtml(v)}${fieldHtml(v, targeting ? { action: "target-quibble", testid: "target-quibble", betOn: v.bet?.quibble } : { betOn: v.bet?.quibble })}${logHtml(v)}`;
      }
      case "race":
        return `<p class="muted">Your bet: ${v.bet ? `${v.bet.amount} on ${esc(v.quibbles[v.bet.quibble]?.name)}` : "none"}</p>`;
      case "payout":
        return `${raceOrderHtml(v)}${betResultsHtml(v, v.seat)}${fieldHtml(v, {})}`;
      case "purchase": {
        const handFull = v.hand.length >= v.hand_limit;
        const discard = this.pending && this.nextNeed() === "pick"
          ? `<h3>Pick a card from the discard pile</h3><ul class="kinds">${v.discard.map((k) => `<li><button type="button" class="small" data-action="target-kind" data-kind="${esc(k.kind)}" data-testid="target-kind-${esc(k.kind)}">${esc(cardName(k.kind))} ×${k.count}</button></li>`).join("")}</ul><button type="button" class="small" data-action="cancel-play" data-testid="cancel-play">Cancel</button>`
          : "";
        return `${discard}<h2>Shop</h2>${shopHtml(v, { buy: true, coins: v.coins, handFull })}${handFull ? `<p class="muted">Your hand is full (${v.hand_limit}).</p>` : ""}${betResultsHtml(v, v.seat)}`;
      }
      case "over":
        return `<h2>${v.winners.includes(v.seat) ? "You won! ★" : "Game over"}</h2>${standingsHtml(v, v.seat)}`;
      default:
        return "";
    }
  }

  betFormHtml(v) {
    const chosen = this.selected === null ? "Tap a quibble to bet on it." : `On ${esc(v.quibbles[this.selected]?.name)} at ${formatOdds(v.quibbles[this.selected]?.odds_milli || 1000)}`;
    return `<form class="row-form" data-form="bet" aria-label="Place a bet" novalidate><p class="muted">${chosen}</p><label>Stake <input type="number" inputmode="numeric" min="1" max="${v.coins + (v.bet ? v.bet.amount : 0)}" name="bet-amount" data-testid="bet-amount" value="${esc(this.betAmount)}" placeholder="coins" required></label><button type="submit" class="primary" data-testid="place-bet"${this.selected === null ? " disabled" : ""}>${v.bet ? "Change bet" : "Place bet"}</button></form>`;
  }

  borrowFormHtml(v) {
    const room = Math.max(0, v.loan_cap - v.debt);
    return `<form class="row-form" data-form="borrow" aria-label="Borrow from the loan shark" novalidate><p class="muted">Loan shark: you owe ${v.debt}; up to ${room} more this round (+5% per race).</p><label>Borrow <input type="number" inputmode="numeric" min="1" max="${room}" name="borrow-amount" data-testid="borrow-amount" value="${esc(this.borrowAmount)}" placeholder="coins" required></label><button type="submit" data-testid="borrow"${room === 0 ? " disabled" : ""}>Borrow</button></form>`;
  }

  nextNeed() {
    if (!this.pending) return null;
    return this.pending.needs.find((n) => !(n in this.pending.values)) || null;
  }

  pendingHtml(v) {
    if (!this.pending) return "";
    const need = this.nextNeed();
    const prompt = {
      quibble: "Tap the quibble whose stack gets it.",
      quibble_b: "Tap the second quibble to swap stacks with.",
      target: "Tap the player to target.",
      pick: "Pick a card from the discard pile.",
    }[need] || "";
    const first = "quibble" in this.pending.values ? ` (first: ${esc(v.quibbles[this.pending.values.quibble]?.name)})` : "";
    return `<div class="pending" role="status" data-testid="pending-play">Playing <strong>${esc(cardName(this.pending.kind))}</strong>: ${prompt}${first} <button type="button" class="small" data-action="cancel-play" data-testid="cancel-play">Cancel</button></div>`;
  }

  handHtml(v) {
    if (v.phase === "lobby" || v.phase === "over") return "";
    const cards = v.hand.map((c) => {
      const info = CARDS[c.kind] || { name: c.kind, phase: "", text: "" };
      const itemsLeft = info.phase !== "item" || v.items_played < v.items_per_round;
      const playable = info.phase === v.phase && itemsLeft;
      const play = playable ? `<button type="button" class="small" data-action="play" data-card="${esc(c.id)}" data-testid="play-${esc(c.id)}">Play</button>` : `<span class="card-phase">${esc(PHASE_NAMES[info.phase] || info.phase)}</span>`;
      return `<li class="card${playable ? " playable" : ""}" data-testid="card-${esc(c.id)}" data-card-id="${esc(c.id)}" data-kind="${esc(c.kind)}"><span class="card-name">${esc(info.name)}</span><span class="card-text">${esc(info.text)}</span>${play}</li>`;
    });
    const fs = v.futuresight ? `<p class="banner notice">Futuresight: you see every stack's items until the Reveal.</p>` : "";
    return `<h2>Your hand (${v.hand.length}/${v.hand_limit})</h2>${fs}${cards.length ? `<ul class="cards" aria-label="Your hand">${cards.join("")}</ul>` : `<p class="muted">No cards.</p>`}`;
  }

  actionsHtml(v) {
    if (v.phase === "lobby" || v.phase === "over") return "";
    const label = v.ready ? "Ready ✓ — tap to undo" : "I'm ready";
    return `<span class="ready-count" data-testid="ready-count">${readyCount(v)}</span><button type="button" class="${v.ready ? "" : "primary"} ready" data-action="ready" data-testid="ready" aria-pressed="${v.ready}">${label}</button>`;
  }

  onInput(e) {
    const name = e.target.name;
    if (name === "bet-amount") this.betAmount = e.target.value;
    if (name === "borrow-amount") this.borrowAmount = e.target.value;
  }

  onSubmit(e) {
    e.preventDefault();
    const v = this.view;
    if (!v) return;
    const form = e.target.dataset.form;
    if (form === "bet") {
      const amount = parseInt(this.betAmount, 10);
      if (this.selected === null) return this.showRejection("bad_quibble", "Tap a quibble first.");
      if (!(amount > 0)) return this.showRejection("bad_amount", "Enter how many coins to stake.");
      this.send({ type: "PlaceBet", seat: v.seat, quibble: this.selected, amount });
    } else if (form === "borrow") {
      const amount = parseInt(this.borrowAmount, 10);
      if (!(amount > 0)) return this.showRejection("bad_amount", "Enter how many coins to borrow.");
      this.send({ type: "Borrow", seat: v.seat, amount });
      this.borrowAmount = "";
    }
    return undefined;
  }

  onClick(e) {
    const button = e.target.closest("[data-action]");
    const v = this.view;
    if (!button || !v || button.disabled) return;
    const action = button.dataset.action;
    switch (action) {
      case "start":
        this.send({ type: "StartGame" });
        break;
      case "ready":
        this.send({ type: "Ready", seat: v.seat, ready: !v.ready });
        break;
      case "select-quibble":
        this.selected = Number(button.dataset.q);
        this.render(v, this.deadlineLeft());
        break;
      case "play": {
        const card = v.hand.find((c) => c.id === button.dataset.card);
        if (!card) return;
        const needs = (CARDS[card.kind] && CARDS[card.kind].needs) || [];
        this.pending = { card: card.id, kind: card.kind, needs, values: {} };
        this.advancePlay();
        break;
      }
      case "target-quibble":
        this.fillNeed(Number(button.dataset.q));
        break;
      case "target-seat":
        this.fillNeed(Number(button.dataset.seat));
        break;
      case "target-kind":
        this.fillNeed(button.dataset.kind);
        break;
      case "cancel-play":
        this.pending = null;
        this.render(v, this.deadlineLeft());
        break;
      case "buy":
        this.send({ type: "BuyCard", seat: v.seat, card: button.dataset.card });
        break;
      default:
        break;
    }
  }

  fillNeed(value) {
    const need = this.nextNeed();
    if (!need) return;
    if (need === "quibble_b" && value === this.pending.values.quibble) {
      this.showRejection("bad_target", "Pick a different quibble to swap with.");
      return;
    }
    this.pending.values[need] = value;
    this.advancePlay();
  }

  advancePlay() {
    const v = this.view;
    if (!this.nextNeed()) {
      const p = this.pending;
      this.pending = null;
      this.send({ type: "PlayCard", seat: v.seat, card: p.card, ...p.values });
    }
    this.render(v, this.deadlineLeft());
  }

  deadlineLeft() {
    return this.deadlineAt === null ? null : this.deadlineAt - performance.now();
  }

  /** Shows a refusal from the host (or a local check) as a readable message. */
  showRejection(code, message, ref = null) {
    const about = ref !== null && this.sent.has(ref) ? ACTION_LABELS[this.sent.get(ref)] : null;
    const text = `${about ? `${about}: ` : ""}${rejectionText(code, message)}`;
    this.rejections.push({ code, message, ref, text });
    const toast = this.els.toast;
    toast.innerHTML = `<div class="toast" role="alert" data-testid="rejection" data-code="${esc(code)}">${esc(text)}</div>`;
    toast._html = null;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => { toast.innerHTML = ""; }, 6000);
  }
}
