#!/usr/bin/env bash
# One entry point for a fresh machine: installs the project into .venv from its own files, then runs
#   ./dev.sh demo      the whole drift -> alert -> retrain -> deploy loop on the embedded default
#   ./dev.sh test      the test suite (extra args go to pytest)
#   ./dev.sh lint      ruff and mypy
#   ./dev.sh bench     the speed benchmarks, W1, W100, WM (loadtests/README.md); extra args go to the harness
#   ./dev.sh quality   the detection-quality benchmark (loadtests/README.md)
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
# The Kafka TLS tests put Debian's stunnel4 in front of the embedded broker; install it as root where missing.
ensure_stunnel() {
  if command -v stunnel4 >/dev/null || command -v stunnel >/dev/null; then return; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's stunnel4 for the Kafka TLS tests" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq stunnel4) >/dev/null 2>&1 \
      || echo "could not install stunnel4: the Kafka TLS tests will be skipped" >&2
  fi
}
# The alerting rules test runs Prometheus's promtool (Debian's prometheus package); install it as root where missing.
ensure_promtool() {
  if command -v promtool >/dev/null; then return; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's prometheus (promtool) for the alerting rules test" >&2
    (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus \
      || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus)) \
      >/dev/null 2>&1 || echo "could not install prometheus: the promtool test will be skipped" >&2
  fi
}
# The report and dashboard tests open the pages in Debian's chromium through chromium-driver.
ensure_chromium() {
  if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then return; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's chromium and chromium-driver for the page tests" >&2
    (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver \
      || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
          chromium chromium-driver)) >/dev/null 2>&1 || echo "could not install chromium: the page tests will be skipped" >&2
  fi
}
cmd=${1:-test}
shift || true
case "$cmd" in
  test) ensure_stunnel; ensure_promtool; ensure_chromium; exec .venv/bin/python -m pytest "$@" ;;
  lint) .venv/bin/ruff check . && exec .venv/bin/mypy ;;
  bench) exec .venv/bin/python -m loadtests.harness "$@" ;;
  quality) exec .venv/bin/python -m loadtests.quality "$@" ;;
  *) exec .venv/bin/driftline "$cmd" "$@" ;;
esac
