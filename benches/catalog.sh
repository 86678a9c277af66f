#!/usr/bin/env bash
# Benchmark of the catalog at scale: 500 clients, 1,000 targets, 50,000 runs.
#
#   benches/catalog.sh [requests]      (default 30 requests per page)
#
# Prints:
#  1. the median latency of the fleet page (`GET /`, with the API token) and of
#     `GET /metrics` served by the real daemon (goal: at most 100 ms each), and the
#     daemon's resident memory while serving them (goal: at most 64 MiB);
#  2. start-up (daemon launch to its first healthy answer) and `backproof status` with
#     100,000 stored runs against the same with 1 stored run (goal: ratio at most 1.2),
#     and against the same fleet after its first run (500 runs, one per job);
#  3. the catalog's size before and after retention (`keep_runs = "30d"`), and after
#     `backproof compact`.
# The runs are copies of one real run's evidence recorded through the catalog's own
# transactions (examples/seed_catalog.rs): a mix of pass, warn, fail and could-not-verify,
# one client in ten with an open corruption problem, the newest report of each in the
# outbox.
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=${1:-30}
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time)"; exit 2; }
for tool in curl bc python3; do command -v $tool >/dev/null || { echo "needs $tool"; exit 2; }; done

cargo build --release --quiet --bin backproof --example seed_catalog
BIN=$PWD/target/release/backproof
SEED=$PWD/target/release/examples/seed_catalog
WORK=$(mktemp -d /var/tmp/backproof-catalog.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$WORK/backups"
head -c 100000 /dev/urandom > "$WORK/backups/a.tar"

# config DIR JOBS: 500 clients (2 targets each), none due in the next hours.
config() {
  mkdir -p "$1/jobs.d"
  printf 'data_dir = "data"\n[policy]\nmax_age = "off"\n[daemon]\nlisten = "127.0.0.1:%s"\ncatch_up = false\n' "$port" > "$1/backproof.toml"
  hour=$(( ($(date -u +%H) + 12) % 24 ))
  for i in $(seq -f '%03g' 1 "$2"); do
    printf 'client = "Client %s"\ntechnicians = ["noc@msp.example"]\nschedule = "%d %d * * *"\n[[targets]]\nname = "nas"\nurl = "file://%s/backups"\n[[targets]]\nname = "cloud"\nurl = "file://%s/backups"\n' \
      "$i" $(( 10#$i % 60 )) "$hour" "$WORK" "$WORK" > "$1/jobs.d/client-$i.toml"
  done
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
now() { date +%s.%N; }

# The template: one real run of one client.
config "$WORK/tpl" 1
"$BIN" --config "$WORK/tpl/backproof.toml" run client-001 >/dev/null || true
TEMPLATE=$(ls "$WORK"/tpl/data/evidence/client-001/*.json | head -1)

config "$WORK/fleet" 500
config "$WORK/one" 500
echo "seeding 50,000 runs..."
"$SEED" "$WORK/fleet/data" "$TEMPLATE" 500 100 0
"$SEED" "$WORK/one/data" "$TEMPLATE" 1 1 0 >/dev/null
# The same fleet after its first run: one run of each of the 500 jobs.
config "$WORK/first" 500
"$SEED" "$WORK/first/data" "$TEMPLATE" 500 1 0 >/dev/null

# start DIR: launches the daemon, prints seconds until its first healthy answer.
start() {
  local t0; t0=$(now)
  "$BIN" --config "$1/backproof.toml" daemon 2>>"$WORK/daemon.log" &
  pid=$!
  until curl -sf -o /dev/null "http://127.0.0.1:$port/v1/health"; do sleep 0.01; done
  echo "$(now) - $t0" | bc -l
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }
rss() { awk "/$1/ {print \$2}" "/proc/$pid/status"; }

echo "== 1. Fleet page and /metrics: 500 clients, 1,000 targets, 50,000 runs =="
# The first start after seeding records every job's schedule slot and replays sled's
# whole log: its memory is printed apart, and the figures below are of the next start.
start "$WORK/fleet" >/dev/null
for path in / /metrics; do curl -s -o /dev/null -H "Authorization: Bearer $(cat "$WORK/fleet/data/api.token")" "http://127.0.0.1:$port$path"; done
first_hwm=$(rss VmHWM)
stop
start "$WORK/fleet" >/dev/null
started_rss=$(rss VmRSS)
token=$(cat "$WORK/fleet/data/api.token")
peak=0
sample_rss() { r=$(rss VmRSS); [ "$r" -gt "$peak" ] && peak=$r; true; }
get() { curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -H "Authorization: Bearer $token" "http://127.0.0.1:$port$1"; }
for path in / /metrics; do
  code=$(get "$path" | cut -d' ' -f1)
  [ "$code" = 200 ] || { echo "GET $path answered $code"; exit 1; }
  for _ in $(seq "$REQUESTS"); do get "$path" | cut -d' ' -f2; sample_rss; done > "$WORK/times"
  printf 'GET %-8s median %6.1f ms over %s requests (goal <= 100 ms)\n' "$path" "$(median < "$WORK/times" | awk '{print $1 * 1000}')" "$REQUESTS"
done
printf 'daemon RSS: %.1f MiB once started, %.1f MiB now, peak while serving %.1f MiB, high-water mark since start %.1f MiB (goal <= 64 MiB)\n' \
  "$(echo "$started_rss/1024" | bc -l)" "$(echo "$(rss VmRSS)/1024" | bc -l)" "$(echo "$peak/1024" | bc -l)" "$(echo "$(rss VmHWM)/1024" | bc -l)"
printf 'daemon RSS high-water mark at its first start after seeding, one request each: %.1f MiB\n' "$(echo "$first_hwm/1024" | bc -l)"
stop
# The starts above follow a bulk load of 50,000 runs written in a minute (a real catalog
# takes months), which sled is still rewriting. The same requests on the catalog at rest:
start "$WORK/fleet" >/dev/null
peak=0
for path in / /metrics; do
  for _ in $(seq "$REQUESTS"); do get "$path" >/dev/null; sample_rss; done
done
printf 'daemon RSS at rest (third start), %s requests each: peak %.1f MiB, high-water mark %.1f MiB (goal <= 64 MiB)\n' \
  "$REQUESTS" "$(echo "$peak/1024" | bc -l)" "$(echo "$(rss VmHWM)/1024" | bc -l)"
stop

echo "== 2. Start-up and status: 100,000 stored runs against 1 =="
echo "seeding 50,000 older runs..."
"$SEED" "$WORK/fleet/data" "$TEMPLATE" 500 100 100 >/dev/null
# Alternating rounds (fleet, one, first, fleet, ...): this machine's load drifts, and a
# drift would otherwise land on one side of the ratio. Medians of 15 rounds (status) and
# 9 rounds (start-up); each status prints its wall time and CPU time (user + system).
for _ in $(seq 15); do
  for d in fleet one first; do
    t0=$(now)
    /usr/bin/time -f '%U %S' -o "$WORK/t" "$BIN" --config "$WORK/$d/backproof.toml" status >/dev/null || true
    t1=$(now)
    # The wall time to the nanosecond (GNU time's is to 10 ms), then GNU time's CPU times
    # (its last line: it puts "Command exited with non-zero status" before).
    echo "$(echo "$t1 - $t0" | bc -l) $(tail -1 "$WORK/t")" >> "$WORK/status-$d"
  done
done
for _ in $(seq 9); do
  for d in fleet one first; do start "$WORK/$d" >> "$WORK/start-$d"; stop; done
done
wall() { cut -d' ' -f1 "$WORK/status-$1" | median; }
cpu() { awk '{print $2 + $3}' "$WORK/status-$1" | median; }
s_many=$(wall fleet); s_one=$(wall one); s_first=$(wall first)
c_many=$(cpu fleet); c_one=$(cpu one); c_first=$(cpu first)
u_many=$(median < "$WORK/start-fleet"); u_one=$(median < "$WORK/start-one"); u_first=$(median < "$WORK/start-first")
printf 'status:   %.3f s with 100,000 runs, %.3f s with 1: ratio %.2f (goal <= 1.2)\n' "$s_many" "$s_one" "$(echo "$s_many / $s_one" | bc -l)"
printf 'status CPU (user + system, less disturbed by other load): %.3f s against %.3f s: ratio %.2f\n' "$c_many" "$c_one" "$(echo "$c_many / $c_one" | bc -l)"
printf 'start-up: %.3f s with 100,000 runs, %.3f s with 1: ratio %.2f (goal <= 1.2)\n' "$u_many" "$u_one" "$(echo "$u_many / $u_one" | bc -l)"
printf 'the same fleet after its first run (500 runs, one per job): status %.3f s, 100,000 runs against it %.2f (CPU %.2f); start-up %.3f s, ratio %.2f\n' \
  "$s_first" "$(echo "$s_many / $s_first" | bc -l)" "$(echo "$c_many / $c_first" | bc -l)" "$u_first" "$(echo "$u_many / $u_first" | bc -l)"

echo "== 3. Retention =="
before=$(du -sk "$WORK/fleet/data/catalog" | cut -f1)
sed -i 's/^\[daemon\]$/[daemon]\nkeep_runs = "30d"/' "$WORK/fleet/backproof.toml"
t0=$(now); "$SEED" prune "$WORK/fleet/backproof.toml"; t1=$(now)
# sled reclaims the freed space as it rewrites its segments: start the daemon once so it does.
start "$WORK/fleet" >/dev/null; stop
after=$(du -sk "$WORK/fleet/data/catalog" | cut -f1)
# sled gives no space back to the file system: `backproof compact` rewrites the catalog.
t2=$(now); "$BIN" --config "$WORK/fleet/backproof.toml" compact; t3=$(now)
compacted=$(du -sk "$WORK/fleet/data/catalog" | cut -f1)
printf 'catalog: %.1f MiB with 100,000 runs, %.1f MiB after keeping 30 days (pruning took %.1f s), %.1f MiB after backproof compact (%.1f s)\n' \
  "$(echo "$before/1024" | bc -l)" "$(echo "$after/1024" | bc -l)" "$(echo "$t1 - $t0" | bc -l)" \
  "$(echo "$compacted/1024" | bc -l)" "$(echo "$t3 - $t2" | bc -l)"
