#!/usr/bin/env bash
# One entry point for a fresh machine: installs the project into .venv from its own files, then runs
#   ./dev.sh demo      the whole drift -> alert -> retrain -> deploy loop on the embedded default
#   ./dev.sh test      the test suite (extra args go to pytest)
#   ./dev.sh lint      ruff and mypy
#   ./dev.sh bench     the W1 benchmarks (loadtests/README.md); extra args go to the harness
#   ./dev.sh <cmd>     any driftline subcommand, e.g. ./dev.sh up
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.dev-install-stamp
want=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[dev]"
  echo "$want" > "$stamp"
fi
cmd=${1:-test}
shift || true
case "$cmd" in
  test) exec .venv/bin/python -m pytest "$@" ;;
  lint) .venv/bin/ruff check . && exec .venv/bin/mypy ;;
  bench) exec .venv/bin/python -m loadtests.harness "$@" ;;
  *) exec .venv/bin/driftline "$cmd" "$@" ;;
esac
