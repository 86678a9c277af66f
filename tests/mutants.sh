#!/usr/bin/env bash
# Mutation testing of the verdict core: would the tests notice if the code that decides
# pass / warn / fail / error were wrong? cargo-mutants changes that code one small way at a
# time (`>` becomes `>=`, a function returns a default, a guard becomes `true`...) and runs
# the tests; a change no test notices ("missed") is a gap in the tests.
#
#   tests/mutants.sh list          the mutants of the core, counted per file
#   tests/mutants.sh run K/N       shard K of N (K from 0 to N-1): both tiers below
#   tests/mutants.sh unit K/N      only the first tier of shard K/N
#   tests/mutants.sh integration K/N
#                                  only the second tier (after `unit K/N`)
#   tests/mutants.sh recheck       after adding tests: both tiers again on what every shard
#                                  run so far left
#   tests/mutants.sh summary       caught / missed / timeout / unviable over the shards run,
#                                  and every missed mutant with file:line
#
# Two tiers, to fit in a working session on 2 cores:
#   1. every mutant of the shard against the library's unit tests (`cargo test --lib`;
#      an incremental build of one crate, about 5 to 20 s a mutant);
#   2. the ones tier 1 missed (or that timed out) against the integration tests that
#      exercise the core (INTEGRATION below: the real binary on real folders, a real SMTP
#      server; about a minute a mutant, most of it linking).
# A mutant counts as caught when either tier catches it. About 780 mutants: 8 shards of
# ~100 take 20 to 40 minutes each on an idle machine (`run 0/8` ... `run 7/8`). Shards are
# dealt round-robin (mutant i goes to shard i % N), so any one shard is a fair sample of
# every file: when time is short, one shard's figure estimates the whole.
#
# Survivors judged equivalent (no observable difference) are listed in
# tests/mutants-accepted.txt, one per line: the mutant's name as printed, ` # `, and why.
#
# The mutations are made in place, in this working tree (its target/ holds the compiled
# dependencies; a copy would build them again): do not edit files while it runs. cargo-mutants
# puts every file back when it ends or is interrupted; after a hard kill, `git diff` shows
# a leftover line marked `~ changed by cargo-mutants ~`. Results go to target/mutants/.
# Not part of tests/run.sh; see README "Development" for when to run it.
set -euo pipefail
cd "$(dirname "$0")/.."

MUTANTS_VERSION=27.1.0
# The verdict core: what decides verdicts and exit codes (evidence, target runs, jobs,
# status), the evidence chain, sampling, baselines, drift and the inventory it compares
# with, freshness, the egress budget, findings, open problems and their acknowledgement,
# and run documents as the catalog stores them (the evidence chain hashes their bytes).
FILES=(
  src/evidence/mod.rs
  src/evidence/verdict.rs
  src/evidence/run.rs
  src/evidence/target.rs
  src/evidence/file.rs
  src/evidence/problem.rs
  src/chain.rs
  src/ack.rs
  src/status.rs
  src/verify/mod.rs
  src/verify/target_run.rs
  src/verify/conclude.rs
  src/verify/restore_sample.rs
  src/verify/restore_file.rs
  src/verify/expect.rs
  src/verify/sample.rs
  src/verify/findings.rs
  src/verify/problems.rs
  src/verify/checks/mod.rs
  src/verify/checks/access.rs
  src/verify/checks/inventory.rs
  src/verify/checks/freshness.rs
  src/verify/checks/drift.rs
  src/verify/checks/coverage.rs
  src/verify/checks/restore.rs
  src/verify/checks/canary.rs
  src/verify/checks/budget.rs
  src/catalog/inventory.rs
  src/catalog/packed.rs
)
# The integration tests that exercise the core (tier 2).
INTEGRATION=(local_runs open_problems deeper evidence_chain email truth verdicts report_snapshots restic)
OUT=target/mutants
ACCEPTED=tests/mutants-accepted.txt

if ! cargo mutants --version 2>/dev/null | grep -qx "cargo-mutants $MUTANTS_VERSION"; then
  echo "tests/mutants.sh: installing cargo-mutants $MUTANTS_VERSION (once, a few minutes)" >&2
  cargo install "cargo-mutants@$MUTANTS_VERSION" --locked --quiet
fi
if grep -rqs "changed by cargo-mutants" src; then
  echo "tests/mutants.sh: src/ still holds a mutation from an interrupted run (git diff src/)" >&2
  exit 2
fi
export BACKPROOF_TEST_GARAGE=${BACKPROOF_TEST_GARAGE:-$HOME/.cache/backproof-tools/bin/garage}

file_args=()
for f in "${FILES[@]}"; do file_args+=(-f "$f"); done
# No debug info for backproof itself and none linked into its test binaries (dependencies
# are not rebuilt): builds and links a lot faster, binaries of a few MB instead of ~280.
# (No --cap-lints: it changes RUSTFLAGS and so rebuilds every dependency.) Niced: the
# machine is shared.
common=(--in-place --no-shuffle -C=--config=profile.dev.package.backproof.debug=0
  "-C=--config=profile.dev.package.backproof.strip=\"debuginfo\"")

shard_dir() { echo "$OUT/shard-${1%/*}-of-${1#*/}"; }

check_shard() {
  [[ "${1:-}" =~ ^[0-9]+/[0-9]+$ ]] && (( ${1%/*} < ${1#*/} )) || {
    echo "tests/mutants.sh: give the shard as K/N with 0 <= K < N, e.g. 0/8" >&2
    exit 2
  }
}

# The stages of a shard, in order; each after the first tries only the mutants the stage
# before it left (missed or timed out). `recheck` runs the last two again after tests
# were added.
STAGES=(unit integration recheck-unit recheck-integration)

# The last stage of shard directory $1 that was run before stage $2 (or at all).
last_stage() {
  local last="" s
  for s in "${STAGES[@]}"; do
    [ "$s" = "${2:-}" ] && break
    [ -f "$1/$s/mutants.out/outcomes.json" ] && last=$s
  done
  echo "$last"
}

# Runs stage $2 of shard $1: `unit` on every mutant of the shard, the others on what the
# stage before left.
stage() {
  local dir; dir=$(shard_dir "$1")
  mkdir -p "$dir"
  local s found=0
  for s in "${STAGES[@]}"; do
    [ "$s" = "$2" ] && found=1
    ((found)) && rm -rf "${dir:?}/$s"
  done
  local select=(--shard "$1" --sharding round-robin "${file_args[@]}") timeout=120
  if [ "$2" != unit ]; then
    local from; from=$(last_stage "$dir" "$2")
    [ -n "$from" ] || { echo "tests/mutants.sh: run \`unit $1\` first" >&2; exit 2; }
    local survivors
    survivors=$(cat "$dir/$from/mutants.out/missed.txt" "$dir/$from/mutants.out/timeout.txt")
    if [ -z "$survivors" ]; then
      echo "tests/mutants.sh: shard $1: no mutant left for $2"
      return
    fi
    # Exactly those mutants: their names, as regular expressions, in their files.
    # (cargo-mutants 27.1 applies no --re to its "delete field" mutants: only the files
    # of the survivors are examined, and the summary counts only the survivors.)
    printf '%s\n' "$survivors" > "$dir/$2.input"
    local re
    re=$(printf '%s\n' "$survivors" | sed 's/[][\\.*^$()+?{}|]/\\&/g; s/^/^/; s/$/$/' | paste -sd'|')
    select=(--re "$re")
    local f
    for f in $(printf '%s\n' "$survivors" | cut -d: -f1 | sort -u); do select+=(-f "$f"); done
  fi
  local tests=()
  case "$2" in
    *unit) tests=(-C --lib) ;;
    *) for t in "${INTEGRATION[@]}"; do tests+=(-C "--test=$t"); done; timeout=600 ;;
  esac
  nice cargo mutants "${common[@]}" "${select[@]}" \
    --timeout "$timeout" --build-timeout 900 -o "$dir/$2" "${tests[@]}" || true
}

# The mutants of outcome $3 (caught, missed, timeout, unviable) in stage $2 of shard
# directory $1: for the stages after the first, only those it was run for.
of() {
  local list="$1/$2/mutants.out/$3.txt"
  if [ -f "$1/$2.input" ]; then
    grep -xFf "$1/$2.input" "$list" || true
  else
    cat "$list"
  fi
}

summary() {
  local caught=0 missed=0 timeout=0 unviable=0 accepted=0 shards=0
  local missed_list="" accepted_list=""
  for dir in "$OUT"/shard-*; do
    [ -f "$dir/unit/mutants.out/outcomes.json" ] || continue
    shards=$((shards + 1))
    local s o last
    for s in "${STAGES[@]}"; do
      o="$dir/$s/mutants.out"
      [ -f "$o/outcomes.json" ] || continue
      caught=$((caught + $(of "$dir" "$s" caught | wc -l)))
      unviable=$((unviable + $(of "$dir" "$s" unviable | wc -l)))
    done
    # What the last stage left stands.
    last=$(last_stage "$dir")
    timeout=$((timeout + $(of "$dir" "$last" timeout | wc -l)))
    while IFS= read -r m; do
      [ -n "$m" ] || continue
      if [ -f "$ACCEPTED" ] && grep -qF -- "$m #" "$ACCEPTED"; then
        accepted=$((accepted + 1))
        accepted_list+="  $m"$'\n'
      else
        missed=$((missed + 1))
        missed_list+="  $m"$'\n'
      fi
    done < <(of "$dir" "$last" missed)
  done
  local viable=$((caught + missed + accepted + timeout))
  echo "mutants of the verdict core, $shards shard(s) run:"
  echo "  caught $caught, missed $missed, accepted $accepted, timeout $timeout, unviable $unviable"
  if ((viable > 0)); then
    echo "  caught or accepted: $(( (caught + accepted) * 1000 / viable / 10 )).$(( (caught + accepted) * 1000 / viable % 10 ))% of $viable viable"
  fi
  [ -z "$missed_list" ] || printf 'missed (file:line:column):\n%s' "$missed_list"
  [ -z "$accepted_list" ] || printf 'accepted (see %s):\n%s' "$ACCEPTED" "$accepted_list"
}

case "${1:-}" in
  list)
    cargo mutants --list "${file_args[@]}" | tee "$OUT.list" | cut -d: -f1 | sort | uniq -c
    echo "$(wc -l < "$OUT.list") mutants"
    ;;
  run) check_shard "${2:-}"; stage "$2" unit; stage "$2" integration; summary ;;
  unit | integration) check_shard "${2:-}"; stage "$2" "$1"; summary ;;
  recheck)
    for dir in "$OUT"/shard-*; do
      [ -f "$dir/unit/mutants.out/outcomes.json" ] || continue
      k=${dir##*/shard-}
      stage "${k%-of-*}/${k#*-of-}" recheck-unit
      stage "${k%-of-*}/${k#*-of-}" recheck-integration
    done
    summary
    ;;
  summary) summary ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 2
    ;;
esac
