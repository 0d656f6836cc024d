// The 13 cards as players read them: names, phases, one-line effects, what a play needs.

export const CARDS = {
  futuresight: { name: "Futuresight", phase: "betting", text: "See every item played this round, until the Reveal.", needs: [] },
  poison: { name: "Poison", phase: "item", text: "Quibble −2 speed (blocked by Vomitex).", needs: ["quibble"] },
  vomitex: { name: "Vomitex", phase: "item", text: "Blocks Poison on its stack.", needs: ["quibble"] },
  steroids: { name: "Steroids", phase: "item", text: "Doubles base speed for good; makes a steroid user.", needs: ["quibble"] },
  drug_test: { name: "Drug test", phase: "item", text: "Disqualifies a steroid user.", needs: ["quibble"] },
  psyblast: { name: "Psyblast", phase: "item", text: "Quibble +2 confusion (blocked by Tinfoil hat).", needs: ["quibble"] },
  tinfoil_hat: { name: "Tinfoil hat", phase: "item", text: "Blocks Psyblast on its stack.", needs: ["quibble"] },
  gun: { name: "Gun", phase: "item", text: "Kills the quibble: it does not finish.", needs: ["quibble"] },
  extortion: { name: "Extortion", phase: "discussion", text: "Take a random card from a player's hand.", needs: ["target"] },
  stupify: { name: "Stupify", phase: "discussion", text: "A player may speak only in single syllables until the Reveal.", needs: ["target"] },
  disguise: { name: "Disguise", phase: "reveal", text: "Swap two quibbles' item stacks before they flip.", needs: ["quibble", "quibble_b"] },
  shovel: { name: "Shovel", phase: "purchase", text: "Take a card of your choice from the discard pile.", needs: ["pick"] },
  safeguard: { name: "Safeguard", phase: "payout", text: "Recover your lost bet this round.", needs: [] },
};

export const PHASE_NAMES = {
  lobby: "Lobby",
  betting: "Betting",
  item: "Items",
  discussion: "Discussion",
  reveal: "Reveal",
  race: "Race",
  payout: "Payout",
  purchase: "Shop",
  over: "Final standings",
};

export const PHASE_HINTS = {
  lobby: "Waiting for players. Anyone may press Start once three are in.",
  betting: "Pick a quibble and stake coins on it. Your bet is secret.",
  item: "Play item cards face-down onto the quibbles' stacks.",
  discussion: "Talk: bluff, accuse, deal. Discussion cards work now.",
  reveal: "Last chance for Disguise; then the stacks flip.",
  race: "They're off!",
  payout: "Bets on the winner pay at the posted odds.",
  purchase: "Buy cards for the next round.",
  over: "The game is over.",
};

export function cardName(kind) {
  return (CARDS[kind] && CARDS[kind].name) || kind;
}

export function formatOdds(milli) {
  const x = milli / 1000;
  return `${x >= 10 ? x.toFixed(0) : x.toFixed(1)}×`;
}

/** Escape text for HTML built with template strings (names come from other players). */
export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export const QUIBBLE_COLORS = ["#ff5d73", "#ffb400", "#3ddc97", "#4cc9f0", "#b388ff", "#ff8fab", "#90be6d", "#f9844a"];

export function ordinal(n) {
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? "th" : { 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th";
  return `${n}${suffix}`;
}
