#!/usr/bin/env bash
# A LAN party on one laptop: `quibble host` with bots filling seats, plus you as a Python
# player in this terminal. Open the board (printed below) on the big screen; phones join with
# the join URL or the QR code the host prints in host.log.
#
#   examples/lan_party/run.sh                 # 4 bots + you, 3 rounds
#   BOTS=6 ROUNDS=5 examples/lan_party/run.sh
#   PLAYER_BOT=heuristic examples/lan_party/run.sh   # a bot plays your seat too (a demo)
set -euo pipefail
cd "$(dirname "$0")/../.."
QUIBBLE=${QUIBBLE:-.venv/bin/quibble}
BOTS=${BOTS:-4}
ROUNDS=${ROUNDS:-3}
PHASE_SECONDS=${PHASE_SECONDS:-30}
PORT=${PORT:-8080}  # 0 picks a free port
BIND=${BIND:-0.0.0.0}
NAME=${NAME:-You}
work=$(mktemp -d)
trap 'kill "$host_pid" 2>/dev/null || true; wait "$host_pid" 2>/dev/null || true; rm -rf "$work"' EXIT

# The game starts by itself once the bots and you are seated (--autostart).
"$QUIBBLE" host --bind "$BIND" --port "$PORT" --bots "$BOTS" --autostart $((BOTS + 1)) \
    --rounds "$ROUNDS" --phase-seconds "$PHASE_SECONDS" --journal "$work/game.sqlite" \
    --status "$work/status.json" >"$work/host.log" 2>&1 &
host_pid=$!

# The status file appears once the room exists; it names the room and its join URLs.
for _ in $(seq 1 100); do
    [ -s "$work/status.json" ] && break
    kill -0 "$host_pid" 2>/dev/null || { cat "$work/host.log" >&2; exit 1; }
    sleep 0.1
done
[ -s "$work/status.json" ] || { echo "the host did not start; its log:" >&2; cat "$work/host.log" >&2; exit 1; }
field() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(" ".join(v) if isinstance(v, list) else v)' "$work/status.json" "$1"; }
room=$(field room)
signal=$(field signal_url)
echo "Room $room. Board: $signal/board/$room  Phones: $(field join_urls)"

join=("$QUIBBLE" join "$room" --name "$NAME" --signal "$signal")
[ -n "${PLAYER_BOT:-}" ] && join+=(--bot "$PLAYER_BOT")
status=0
"${join[@]}" || status=$?
wait "$host_pid" || true
exit "$status"
