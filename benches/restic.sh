#!/usr/bin/env bash
# Benchmark of a restic repository check, side by side with restic itself in one run.
#
#   benches/restic.sh         (needs restic, GNU time; installed when missing)
#
# A local restic repository holding one backup of 1 GiB of random data, with `sample_bytes`
# covering all of it, against `restic check --read-data` (reads, decrypts and checks
# every pack): backproof without the password (every pack file read and checked against
# its SHA-256 name, as the issue measured), and with it (keyed mode: also every indexed
# pack present, every tree resolved, and the newest snapshot's file restored blob by blob,
# decrypted, and hashed). Medians of ROUNDS=5 alternating runs; goal: stay ahead of
# restic (ratio < 1.0).
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/measure.sh

need restic restic
[ -x /usr/bin/time ] || need /usr/bin/time time

if [ -z "${BIN:-}" ]; then cargo build --release --quiet; BIN=$PWD/target/release/backproof; fi
WORK=$(mktemp -d /var/tmp/backproof-restic.XXXXXX)
trap 'rm -rf "$WORK"; measure_cleanup' EXIT

mkdir -p "$WORK/data" "$WORK/cfg/jobs.d"
head -c $((1 << 30)) /dev/urandom > "$WORK/data/backup-1g.bin"
echo "bench-password" > "$WORK/password"
chmod 600 "$WORK/password"
export RESTIC_PASSWORD_FILE=$WORK/password RESTIC_REPOSITORY=$WORK/repo RESTIC_CACHE_DIR=$WORK/cache
restic init --quiet >/dev/null
restic backup --quiet "$WORK/data" >/dev/null
rm -rf "$WORK/data"
printf 'data_dir = "data"\n[policy]\nmax_age = "off"\nsample_bytes = "2GB"\nsample_files = 100000\n' > "$WORK/cfg/backproof.toml"
cp -r "$WORK/cfg" "$WORK/keyed"
printf 'client = "Bench"\nschedule = "0 3 * * *"\n[[targets]]\nname = "r"\nurl = "file://%s/repo"\nformat = "restic"\n' \
  "$WORK" > "$WORK/cfg/jobs.d/bench.toml"
printf 'password_file = "%s/password"\n' "$WORK" | cat "$WORK/cfg/jobs.d/bench.toml" - > "$WORK/keyed/jobs.d/bench.toml"
for c in cfg keyed; do "$BIN" --config "$WORK/$c/backproof.toml" run bench >/dev/null; done   # baselines, page cache
alternate "restic repository, 1 GiB" 1 \
  "backproof run (no password)||$BIN --config $WORK/cfg/backproof.toml run bench" \
  "backproof run (password)||$BIN --config $WORK/keyed/backproof.toml run bench" \
  "restic check --read-data||restic check --read-data --no-cache"
table
