#!/usr/bin/env bash
# cargo deny: licences, bans and sources always (offline); advisories against
# the RustSec database when it can be fetched, else against a copy already on
# this machine, else skipped with a note (it lives outside the package
# registries this project may reach).
set -uo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo-deny >/dev/null; then
  if [ -n "${HLS_REQUIRE_E2E:-}" ]; then echo "cargo-deny is required here" >&2; exit 1; fi
  echo "note: cargo-deny not installed (scripts/tools.sh); dependency checks skipped"
  exit 0
fi
cargo-deny --offline check licenses bans sources || exit 1
if timeout 60 cargo-deny fetch db >/dev/null 2>&1; then
  cargo-deny --offline check advisories
elif ls -d "${CARGO_HOME:-$HOME/.cargo}"/advisory-dbs/*/ >/dev/null 2>&1; then
  echo "note: advisory database not reachable; checking against the copy on this machine"
  cargo-deny --offline check advisories
else
  echo "note: advisory database not reachable and not on this machine; advisories not checked"
fi
