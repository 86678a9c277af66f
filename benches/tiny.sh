#!/usr/bin/env bash
# Benchmark of a tiny job's fixed cost: `backproof run` in text mode (with the progress
# follower) against the same run with --json (no follower). Goal: ratio at most 1.0 +
# noise: the text mode must not wait for anything once the run is over.
#
#   benches/tiny.sh [runs]      (default 20; needs hyperfine, installed when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-20}
command -v hyperfine >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null; }
cargo build --release --quiet
BIN=$PWD/target/release/backproof
WORK=$(mktemp -d /var/tmp/backproof-tiny.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/jobs.d" "$WORK/backups"
head -c 1000 /dev/urandom > "$WORK/backups/a.bin"
printf 'data_dir = "data"\nscratch_dir = "scratch"\n' > "$WORK/backproof.toml"
printf 'client = "Tiny"\nschedule = "0 3 * * *"\n[[targets]]\nname = "b"\nurl = "file://%s/backups"\n' "$WORK" > "$WORK/jobs.d/tiny.toml"
"$BIN" --config "$WORK/backproof.toml" run tiny >/dev/null 2>&1
hyperfine -N -w 3 -r "$RUNS" --export-json "$WORK/h.json" \
  "$BIN --config $WORK/backproof.toml run tiny" \
  "$BIN --config $WORK/backproof.toml run tiny --json" >/dev/null
python3 - "$WORK/h.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
text, js = (x["median"] for x in r)
print(f"tiny job, text mode: {text*1000:.1f} ms; --json: {js*1000:.1f} ms; ratio {text/js:.2f} (goal <= 1.0 + noise)")
PY
