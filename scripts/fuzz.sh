#!/usr/bin/env bash
# Bounded fuzzing of every parser of outside bytes (issue 25): each target for
# FUZZ_SECONDS (default 60) on a release build. Inputs that crash or hang are
# kept in tests/fuzz/regressions/<target>/; commit them with the fix, and the
# test suite replays them ever after. Exit status 1 if any was found.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/daftar-target}"
cargo build --release --quiet
"$CARGO_TARGET_DIR/release/daftar" fuzz all --seconds "${FUZZ_SECONDS:-60}" "$@"
