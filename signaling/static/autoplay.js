// A tiny in-page bot for tests and demos: it plays through the REAL interface, clicking the
// same buttons a person would (data-testid hooks), once per phase, at a human-ish pace.

function rand(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 2 ** 32;
  };
}

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const q = (sel) => document.querySelector(sel);
const all = (sel) => [...document.querySelectorAll(sel)];

function click(el) {
  if (el && !el.disabled) {
    el.click();
    return true;
  }
  return false;
}

function fill(testid, value) {
  const el = q(`[data-testid="${testid}"]`);
  if (!el) return false;
  el.value = String(value);
  el.dispatchEvent(new Event("input", { bubbles: true }));
  return true;
}

function playable(phase) {
  return all(`#hand .card.playable [data-action="play"]`).filter((b) => b && b.closest(".card")?.dataset.kind && document.body.dataset.phase === phase);
}

export function startAutoplay(ui, { start = 0, pace = 120 } = {}) {
  let done = null;
  let running = false;
  let seed = 0;
  for (const ch of ui.view?.name || String(Math.random())) seed = (seed * 31 + ch.charCodeAt(0)) >>> 0;
  const random = rand(seed + Date.now());
  const readyUp = async () => {
    await wait(pace);
    if (document.body.dataset.ready !== "true") click(q('[data-testid="ready"]'));
  };

  const plans = {
    lobby: async (v) => {
      if (start && v.players.length >= start) click(q('[data-testid="start-game"]'));
    },
    betting: async (v) => {
      const k = Math.floor(random() * v.quibbles.length);
      click(q(`[data-testid="quibble-${k}"]`));
      await wait(pace);
      fill("bet-amount", Math.max(1, Math.min(100, v.coins)));
      await wait(pace);
      click(q('[data-testid="place-bet"]'));
      if (v.round === 1 && v.debt === 0 && v.loan_cap > 0) {
        await wait(pace);
        fill("borrow-amount", 50);
        click(q('[data-testid="borrow"]'));
      }
      for (const b of playable("betting")) {
        await wait(pace);
        click(q(`[data-testid="${b.dataset.testid}"]`));
      }
      await readyUp();
    },
    item: async (v) => {
      for (let n = 0; n < v.items_per_round; n++) {
        const [b] = playable("item");
        if (!b) break;
        click(b);
        await wait(pace);
        click(q(`[data-testid="target-quibble-${Math.floor(random() * v.quibbles.length)}"]`));
        await wait(pace * 3);
      }
      await readyUp();
    },
    discussion: async () => {
      const [b] = playable("discussion");
      if (b) {
        click(b);
        await wait(pace);
        const targets = all('[data-testid^="target-seat-"]');
        if (!click(targets[Math.floor(random() * targets.length)])) click(q('[data-testid="cancel-play"]'));
      }
      await readyUp();
    },
    reveal: async (v) => {
      const [b] = playable("reveal");
      if (b && v.quibbles.length >= 2) {
        click(b);
        await wait(pace);
        click(q('[data-testid="target-quibble-0"]'));
        await wait(pace);
        click(q('[data-testid="target-quibble-1"]'));
      }
      await readyUp();
    },
    race: async () => {
      // Watch the race like a person would, then move on.
      for (let i = 0; i < 100 && !q("#race[data-finished]"); i++) await wait(100);
      await readyUp();
    },
    payout: async () => {
      const [b] = playable("payout");
      if (b) click(b);
      await readyUp();
    },
    purchase: async (v) => {
      const cheapest = [...v.shop].sort((a, b) => a.price - b.price)[0];
      if (cheapest && v.coins - cheapest.price >= 400 && v.hand.length < v.hand_limit) {
        click(q(`[data-testid="buy-${cheapest.id}"]`));
        await wait(pace * 2);
      }
      const [shovel] = playable("purchase");
      if (shovel && v.discard.length) {
        click(shovel);
        await wait(pace);
        if (!click(q('[data-testid^="target-kind-"]'))) click(q('[data-testid="cancel-play"]'));
      }
      await readyUp();
    },
  };

  let latest = null;
  const keyOf = (v) => `${v.round}:${v.phase}:${v.phase === "lobby" ? v.players.length : ""}`;
  const pump = async () => {
    if (running) return;
    running = true;
    try {
      while (latest) {
        const v = latest;
        const key = keyOf(v);
        if (key === done) {
          // Already played this phase; a reconnect may have lost our Ready: press it again.
          if (!v.ready && plans[v.phase] && v.phase !== "lobby") await readyUp();
          break;
        }
        done = key;
        const plan = plans[v.phase];
        if (!plan) continue;
        await wait(pace);
        try {
          await plan(v);
        } catch (err) {
          console.warn("autoplay step failed", err);
        }
      }
    } finally {
      running = false;
    }
  };
  document.addEventListener("rendered", (e) => {
    latest = e.detail;
    pump();
  });
}
