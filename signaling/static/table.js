// Rendering of the public table, shared by the phone and the board: the field of quibbles,
// the players, the public log, bet results and standings. Pure functions: view -> HTML.

import { CARDS, QUIBBLE_COLORS, cardName, esc, formatOdds, ordinal } from "./cards.js";

export const STUPIFY_TEXT = "single syllables only until the Reveal";

export function formatClock(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function statusBadge(q) {
  if (q.status === "dead") return `<span class="badge bad">dead</span>`;
  if (q.status === "disqualified") return `<span class="badge bad">disqualified</span>`;
  return "";
}

/** Stack contents a viewer may see: sizes always; cards when face-up (or Futuresight). */
export function stackHtml(stack) {
  if (!stack) return "";
  const cards = stack.cards && stack.cards.length
    ? `<span class="stack-cards">${stack.cards.map((c) => `<span class="chip">${esc(cardName(c.kind))}</span>`).join("")}</span>`
    : "";
  return `<span class="stack" title="items on this stack">stack ${stack.size}</span>${cards}`;
}

/**
 * The field: one row per quibble with odds, speed and its stack. `opts.action` makes each
 * row a button (data-action, data-testid prefix); `opts.selected` highlights one.
 */
export function fieldHtml(view, opts = {}) {
  const rows = view.quibbles.map((q, i) => {
    const stack = view.stacks.find((s) => s.quibble === i);
    const speed = view.phase === "betting" || view.phase === "item" || view.phase === "discussion"
      ? `speed ${q.base_speed}`
      : `speed ${q.speed}${q.confusion ? `, confusion ${q.confusion}` : ""}`;
    const inner = `<span class="swatch" style="background:${QUIBBLE_COLORS[i % QUIBBLE_COLORS.length]}" aria-hidden="true"></span><span class="q-name">${esc(q.name)}${statusBadge(q)}${q.steroid_user ? `<span class="badge warn">steroids</span>` : ""}</span><span class="q-odds" title="pays">${formatOdds(q.odds_milli)}</span><span class="q-meta">${speed} ${stackHtml(stack)}</span>`;
    const selected = opts.selected === i;
    const mine = opts.betOn === i ? " mine" : "";
    if (opts.action) {
      return `<li><button type="button" class="quibble${selected ? " selected" : ""}${mine}" data-action="${opts.action}" data-q="${i}" data-testid="${opts.testid || "quibble"}-${i}" aria-pressed="${selected}">${inner}</button></li>`;
    }
    return `<li class="quibble${mine}" data-testid="field-${i}">${inner}</li>`;
  });
  return `<ul class="field" aria-label="The field">${rows.join("")}</ul>`;
}

export function playersHtml(view, opts = {}) {
  const rows = view.players.map((p) => {
    const flags = [
      p.ready ? `<span class="badge ok" title="ready">✓ ready</span>` : "",
      p.connected ? "" : `<span class="badge warn">away</span>`,
      p.stupified ? `<span class="badge warn">Stupified</span>` : "",
    ].join("");
    const me = opts.seat === p.seat ? " me" : "";
    const target = opts.action && p.seat !== opts.seat
      ? `<button type="button" class="small" data-action="${opts.action}" data-seat="${p.seat}" data-testid="target-seat-${p.seat}">Target</button>`
      : "";
    return `<li class="player${me}" data-testid="player-${p.seat}"><span class="p-name">${esc(p.name)}${me ? " (you)" : ""}</span><span class="p-cards" title="cards in hand">${p.hand_count} card${p.hand_count === 1 ? "" : "s"}</span>${flags}${target}</li>`;
  });
  return `<ul class="players" aria-label="Players">${rows.join("")}</ul>`;
}

export function readyCount(view) {
  const present = view.players.filter((p) => p.connected);
  return `${present.filter((p) => p.ready).length}/${present.length} ready`;
}

export function stupifyBannerHtml(view, mySeat = null) {
  const stupified = view.players.filter((p) => p.stupified);
  if (!stupified.length) return "";
  const names = stupified.map((p) => (p.seat === mySeat ? "You" : esc(p.name)));
  const verb = names.length === 1 && names[0] !== "You" ? "is" : "are";
  return `<div class="banner stupify" role="status" data-testid="stupify-banner"><strong>${names.join(", ")}</strong> ${verb} Stupified: ${STUPIFY_TEXT}!</div>`;
}

export function logHtml(view) {
  if (!view.log || !view.log.length) return "";
  return `<ul class="log" aria-label="What happened">${view.log.map((l) => `<li>${esc(l)}</li>`).join("")}</ul>`;
}

export function raceOrderHtml(view) {
  if (!view.race) return "";
  const names = view.race.order.map((q, i) => `<li><span class="place">${ordinal(i + 1)}</span> ${esc(view.quibbles[q]?.name)}</li>`);
  const winner = view.race.winner === null || view.race.winner === undefined
    ? "Nobody finished."
    : `${esc(view.quibbles[view.race.winner]?.name)} won.`;
  return `<p class="winner" data-testid="race-winner">${winner}</p><ul class="order" aria-label="Finishing order">${names.join("")}</ul>`;
}

export function betResultsHtml(view, mySeat = null) {
  if (!view.bet_results || !view.bet_results.length) return `<p class="muted">No bets this round.</p>`;
  const name = (seat) => esc(view.players.find((p) => p.seat === seat)?.name ?? `seat ${seat}`);
  const rows = view.bet_results.map((b) => {
    const won = b.returned > b.amount;
    const result = b.returned === 0 ? `lost ${b.amount}` : won ? `+${b.returned - b.amount}` : `got ${b.returned} back${b.safeguarded ? " (Safeguard)" : ""}`;
    return `<tr class="${b.seat === mySeat ? "me" : ""}"><td>${name(b.seat)}</td><td>${b.amount} on ${esc(view.quibbles[b.quibble]?.name)}</td><td class="${won ? "ok" : b.returned ? "" : "bad"}">${result}</td></tr>`;
  });
  return `<table class="results" data-testid="bet-results"><thead><tr><th>Player</th><th>Bet</th><th>Result</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

export function standingsHtml(view, mySeat = null) {
  if (!view.standings || !view.standings.length) return "";
  const winners = new Set(view.winners || []);
  const rows = view.standings.map((s) => `<tr class="${s.seat === mySeat ? "me" : ""}${winners.has(s.seat) ? " winner" : ""}"><td>${s.rank}</td><td>${esc(s.name)}${winners.has(s.seat) ? " ★" : ""}</td><td>${s.coins}</td><td>${s.debt}</td><td><strong>${s.score}</strong></td></tr>`);
  return `<table class="results standings" data-testid="standings"><thead><tr><th>#</th><th>Player</th><th>Coins</th><th>Debt</th><th>Score</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

export function shopHtml(view, opts = {}) {
  if (!view.shop.length) return `<p class="muted">The shop is empty.</p>`;
  const items = view.shop.map((c) => {
    const info = CARDS[c.kind] || { name: c.kind, text: "" };
    const disabled = opts.coins !== undefined && (opts.coins < c.price || opts.handFull) ? " disabled" : "";
    const buy = opts.buy ? `<button type="button" class="small" data-action="buy" data-card="${esc(c.id)}" data-testid="buy-${esc(c.id)}"${disabled}>Buy ${c.price}</button>` : `<span class="price">${c.price}</span>`;
    return `<li class="card shop-card"><span class="card-name">${esc(info.name)}</span><span class="card-text">${esc(info.text)}</span>${buy}</li>`;
  });
  return `<ul class="cards shop" aria-label="Shop">${items.join("")}</ul>`;
}
