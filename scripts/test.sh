#!/usr/bin/env bash
# The whole test suite, from a fresh machine: Debian packages, a virtualenv, lint, types, tests.
# Pytest runs inside a fresh network namespace (unshare -n), so no test packet can leave
# this machine; extra arguments go to pytest (e.g. scripts/test.sh -k engine).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-system-deps.sh
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
echo "== ruff"
.venv/bin/ruff check .
echo "== mypy (game/ and the protocol modules)"
.venv/bin/mypy game $(ls peer/protocol.py signaling/protocol.py 2>/dev/null)
echo "== pytest (inside a new network namespace)"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
exec $sudo unshare --net -- scripts/in-test-netns.sh .venv/bin/python -m pytest "$@"
