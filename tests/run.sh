#!/usr/bin/env bash
# The whole test suite, in one command: provisions what the tests need, then runs them.
#
#   tests/run.sh [extra cargo test arguments]
#
# Unit tests and integration tests drive the real `backproof` binary against real
# folders on this machine. Nothing is reached beyond 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || { echo "tests/run.sh: cargo is required (https://rustup.rs)" >&2; exit 2; }

cargo test --locked "$@"
