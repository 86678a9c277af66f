# Shared by the benchmarks (sourced): alternating runs, medians, ratios, CPU per GiB.
#
#   ROUNDS=5                                  runs of each contender (default 5)
#   alternate ROW GIB 'name|prep|command' ... runs every contender once per round, in
#                                             turn; `prep` (not timed, may be empty) runs
#                                             before each run of `command`, then `sync`
#   table                                     prints every row measured so far (not when
#                                             BENCH_COMBINED is set: benches/run.sh prints
#                                             one table of every script at the end)
#   ONLY=regex                                measures only the rows it matches
#
# Wall time, CPU (user + system, children included) and peak RSS (of the largest process
# of the command) come from GNU time. Contenders
# named `backproof...` are ours, the others peers; the ratio is backproof's median wall
# time over the peer's (above 1.0: backproof is slower); CPU is
# per GiB verified (or copied, for the peer). The spread (max/min wall time of a
# contender's runs) says how noisy the machine was.
ROUNDS=${ROUNDS:-5}
MEASURE_LOG=${MEASURE_LOG:-$(mktemp /var/tmp/backproof-measure.XXXXXX)}

# need COMMAND PACKAGE: installs the Debian package when the command is missing.
need() { command -v "$1" >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }; }

# Removes the measurements when the script ends (kept for benches/run.sh's table).
measure_cleanup() {
  rm -f "$MEASURE_LOG".t "$MEASURE_LOG".err
  [ -n "${BENCH_COMBINED:-}" ] || rm -f "$MEASURE_LOG"
}

alternate() { # row gib spec...
  local row=$1 gib=$2; shift 2
  local round spec name prep cmd
  if [ -n "${ONLY:-}" ] && ! [[ $row =~ $ONLY ]]; then return 0; fi
  for round in $(seq "$ROUNDS"); do
    for spec in "$@"; do
      IFS='|' read -r name prep cmd <<<"$spec"
      [ -n "$prep" ] && bash -c "$prep" >/dev/null 2>&1
      sync   # no write-back of an earlier contender's copy runs during this one
      /usr/bin/time -f '%e %U %S %M' -o "$MEASURE_LOG.t" bash -c "$cmd" >/dev/null 2>"$MEASURE_LOG.err" \
        || { echo "FAILED ($row, $name): $cmd" >&2; tail -5 "$MEASURE_LOG.err" >&2; }
      printf '%s\t%s\t%s\t%s\n' "$row" "$name" "$gib" "$(tail -1 "$MEASURE_LOG.t")" >>"$MEASURE_LOG"
    done
  done
}

table() {
  [ -n "${BENCH_COMBINED:-}" ] && return 0
  python3 - "$MEASURE_LOG" <<'PY'
import sys, statistics
from collections import OrderedDict
rows = OrderedDict()
for line in open(sys.argv[1]):
    row, name, gib, times = line.rstrip("\n").split("\t")
    t = [float(x) for x in times.split()]
    wall, user, sys_ = t[:3]
    rss = t[3] / 1024 if len(t) > 3 else float("nan")
    rows.setdefault(row, OrderedDict()).setdefault(name, []).append((wall, user + sys_, float(gib), rss))
counts = set()
print(f"{'row':<26} {'contender':<30} {'wall s':>7} {'spread':>6} {'CPU s/GiB':>9} {'peak MiB':>8}  ratio backproof/peer")
for row, contenders in rows.items():
    ours = OrderedDict()
    for name, runs in contenders.items():
        counts.add(len(runs))
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs) / runs[0][2] if runs[0][2] else float("nan")
        rss = statistics.median(r[3] for r in runs)
        spread = max(r[0] for r in runs) / max(min(r[0] for r in runs), 1e-9)
        ratios = ""
        if name.startswith("backproof"):
            ours[name] = wall
        else:
            ratios = ", ".join(f"{o}: {w / wall:.2f}" for o, w in ours.items())
        print(f"{row:<26} {name:<30} {wall:>7.2f} {spread:>6.2f} {cpu:>9.2f} {rss:>8.1f}  {ratios}")
lo, hi = min(counts, default=0), max(counts, default=0)
n = f"{lo}" if lo == hi else f"{lo} to {hi}"
print(f"(medians of {n} alternating runs; ratio = backproof's wall time / the peer's, goal <= 1.0;")
print(" spread = slowest / fastest run of a contender: how noisy the machine was)")
PY
}
