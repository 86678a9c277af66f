#!/usr/bin/env bash
# Benchmark of a tiny job's fixed cost: `backproof run` in text mode (with the progress
# follower) against the same run with --json (no follower). Goal: ratio at most 1.0 +
# noise: the text mode must not wait for anything once the run is over.
#
#   benches/tiny.sh [runs]      (default 20 alternating runs of each; needs GNU time)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-20}
. benches/measure.sh
[ -x /usr/bin/time ] || need /usr/bin/time time
if [ -z "${BIN:-}" ]; then cargo build --release --quiet; BIN=$PWD/target/release/backproof; fi
WORK=$(mktemp -d /var/tmp/backproof-tiny.XXXXXX)
trap 'rm -rf "$WORK"; measure_cleanup' EXIT
mkdir -p "$WORK/jobs.d" "$WORK/backups"
head -c 1000 /dev/urandom > "$WORK/backups/a.bin"
printf 'data_dir = "data"\nscratch_dir = "scratch"\n' > "$WORK/backproof.toml"
printf 'client = "Tiny"\nschedule = "0 3 * * *"\n[[targets]]\nname = "b"\nurl = "file://%s/backups"\n' "$WORK" > "$WORK/jobs.d/tiny.toml"
"$BIN" --config "$WORK/backproof.toml" run tiny >/dev/null 2>&1
ROUNDS=$RUNS alternate "tiny job" 0 \
  "backproof run (text mode)||$BIN --config $WORK/backproof.toml run tiny" \
  "same with --json||$BIN --config $WORK/backproof.toml run tiny --json"
table
