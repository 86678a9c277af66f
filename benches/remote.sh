#!/usr/bin/env bash
# Benchmark of S3 and SMB targets, side by side with reference tools in one run, against
# the same servers the tests use (Garage and smbd on 127.0.0.1), on the same objects.
#
#   benches/remote.sh      (run tests/run.sh once first: it provisions Garage and Samba)
#
# Prints:
#  - S3: backproof's verification throughput for 1 GiB of objects (one of 512 MiB) against
#    `rclone cat` of the same objects from the same server (goal: ratio >= 1.0);
#  - SMB: the same against `smbclient get` of the same files (goal: ratio >= 1.0);
#  - peak RSS while verifying a 2 GiB object on each (goal: at most 64 MiB).
# Ratio = backproof throughput / reference throughput, each the best of 3 runs, after a
# warm-up run that brings the data into the servers' page cache. Client, servers and both
# contenders share this machine's cores: backproof also hashes every byte twice and writes
# it to the scratch disk, where the references only download.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }; }
need rclone rclone
need smbclient smbclient
need bc bc
[ -x /usr/bin/time ] || need /usr/bin/time time
export PATH="$PATH:/usr/sbin"
GARAGE=${BACKPROOF_TEST_GARAGE:-${BACKPROOF_TOOLS:-$HOME/.cache/backproof-tools}/bin/garage}
[ -x "$GARAGE" ] || { echo "Garage not found at $GARAGE: run tests/run.sh first" >&2; exit 2; }

cargo build --release --quiet
BIN=$PWD/target/release/backproof
WORK=$(mktemp -d /var/tmp/backproof-remote.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; pkill -f "$WORK/smb.conf" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- servers ---
S3_PORT=$(port); RPC_PORT=$(port); SMB_PORT=$(port)
KEY=GK$(openssl rand -hex 12); SECRET=$(openssl rand -hex 32)
cat > "$WORK/garage.toml" <<CONF
metadata_dir = "$WORK/garage/meta"
data_dir = "$WORK/garage/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$RPC_PORT"
rpc_public_addr = "127.0.0.1:$RPC_PORT"
[s3_api]
s3_region = "us-east-1"
api_bind_addr = "127.0.0.1:$S3_PORT"
CONF
GARAGE_RPC_SECRET=$(openssl rand -hex 32) GARAGE_DEFAULT_ACCESS_KEY=$KEY GARAGE_DEFAULT_SECRET_KEY=$SECRET \
  GARAGE_DEFAULT_BUCKET=backups RUST_LOG=warn "$GARAGE" -c "$WORK/garage.toml" server --single-node --default-bucket \
  >"$WORK/garage.log" 2>&1 &
pids+=($!)

mkdir -p "$WORK"/smb/{private,lock,state,cache,pid,ncalrpc,share}
cat > "$WORK/smb.conf" <<CONF
[global]
server role = standalone server
smb ports = $SMB_PORT
interfaces = lo
bind interfaces only = yes
disable netbios = yes
server min protocol = SMB2_10
load printers = no
printcap name = /dev/null
disable spoolss = yes
private dir = $WORK/smb/private
lock directory = $WORK/smb/lock
state directory = $WORK/smb/state
cache directory = $WORK/smb/cache
pid directory = $WORK/smb/pid
ncalrpc dir = $WORK/smb/ncalrpc
log file = $WORK/smb/log.%m
passdb backend = tdbsam:$WORK/smb/private/passdb.tdb
[backups]
path = $WORK/smb/share
read only = yes
valid users = bptest
force user = root
CONF
id bptest >/dev/null 2>&1 || useradd --no-create-home --shell /usr/sbin/nologin bptest
SMB_PW=$(openssl rand -hex 12)
printf '%s\n%s\n' "$SMB_PW" "$SMB_PW" | smbpasswd -c "$WORK/smb.conf" -s -a bptest >/dev/null
smbd --foreground --no-process-group -s "$WORK/smb.conf" >"$WORK/smbd.log" 2>&1 &
pids+=($!)

# rclone's S3 client cannot use a custom CA bundle over plain HTTP; none is needed here.
unset AWS_CA_BUNDLE
export RCLONE_CONFIG="$WORK/rclone.conf"
cat > "$RCLONE_CONFIG" <<CONF
[garage]
type = s3
provider = Other
access_key_id = $KEY
secret_access_key = $SECRET
endpoint = http://127.0.0.1:$S3_PORT
region = us-east-1
force_path_style = true
CONF
for _ in $(seq 100); do rclone lsd garage: >/dev/null 2>&1 && break; sleep 0.2; done

# --- data: 512 MiB + 4 x 128 MiB, and a 2 GiB object for the memory figure ---
mkdir -p "$WORK/data/set" "$WORK/data/big"
head -c $((512 << 20)) /dev/urandom > "$WORK/data/set/full-512m.bin"
for i in 1 2 3 4; do head -c $((128 << 20)) /dev/urandom > "$WORK/data/set/incr-$i.bin"; done
head -c $((2 << 30)) /dev/urandom > "$WORK/data/big/huge-2g.bin"
rclone copy "$WORK/data/set" garage:backups/set
rclone copy "$WORK/data/big" garage:backups/big
cp -r "$WORK/data/set" "$WORK/smb/share/set"
cp -r "$WORK/data/big" "$WORK/smb/share/big"
SET_BYTES=$(du -cb "$WORK"/data/set/* | tail -1 | cut -f1)
rm -rf "$WORK/data"

printf '%s' "$SECRET" > "$WORK/s3.secret"
printf '%s' "$SMB_PW" > "$WORK/smb.secret"
job() { # name url extra-lines
  mkdir -p "$WORK/cfg-$1/jobs.d"
  printf 'data_dir = "data"\n[policy]\nmax_age = "off"\nsample_files = 100\nsample_bytes = "100GB"\n' > "$WORK/cfg-$1/backproof.toml"
  printf 'client = "Bench"\nschedule = "0 3 * * *"\n[[targets]]\nname = "t"\nurl = "%s"\n%b\n' "$2" "$3" > "$WORK/cfg-$1/jobs.d/bench.toml"
}
S3_OPTS="endpoint = \"http://127.0.0.1:$S3_PORT\"\nregion = \"us-east-1\"\npath_style = true\naccess_key_id = \"$KEY\"\nsecret_access_key_file = \"$WORK/s3.secret\""
SMB_OPTS="username = \"bptest\"\npassword_file = \"$WORK/smb.secret\""
job s3set "s3://backups/set" "$S3_OPTS"
job s3big "s3://backups/big" "$S3_OPTS"
job smbset "smb://127.0.0.1:$SMB_PORT/backups/set" "$SMB_OPTS\nencryption = \"off\""
job smbenc "smb://127.0.0.1:$SMB_PORT/backups/set" "$SMB_OPTS\nencryption = \"required\""
job smbbig "smb://127.0.0.1:$SMB_PORT/backups/big" "$SMB_OPTS"

best_of_3() { # command...: prints the best wall time in seconds
  local best=""
  for _ in 1 2 3; do
    local s e t
    s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N)
    t=$(echo "$e - $s" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
  done
  echo "$best"
}
verify() { rm -rf "$WORK/cfg-$1/data"; "$BIN" --config "$WORK/cfg-$1/backproof.toml" run bench; }
rclone_cat() { for f in full-512m.bin incr-1.bin incr-2.bin incr-3.bin incr-4.bin; do rclone cat "garage:backups/set/$f"; done; }
smb_get() { # [--client-protection=encrypt]
  smbclient "$@" -p "$SMB_PORT" //127.0.0.1/backups -U "bptest%$SMB_PW" -c "cd set; get full-512m.bin /dev/null; get incr-1.bin /dev/null; get incr-2.bin /dev/null; get incr-3.bin /dev/null; get incr-4.bin /dev/null" 2>&1
}
mbps() { echo "$SET_BYTES / $1 / 1000000" | bc -l; }
rss() { /usr/bin/time -f '%M' -o "$WORK/rss" "$BIN" --config "$WORK/cfg-$1/backproof.toml" run bench >/dev/null 2>&1 || true; echo "$(cat "$WORK/rss") / 1024" | bc -l; }

verify s3set >/dev/null; rclone_cat >/dev/null   # warm-up
verify smbset >/dev/null; smb_get >/dev/null; verify smbenc >/dev/null
printf 'Set: %s objects, %.0f MiB\n\n' 5 "$(echo "$SET_BYTES / 1048576" | bc -l)"

bp=$(best_of_3 verify s3set); rc=$(best_of_3 rclone_cat)
echo "== S3 (Garage on 127.0.0.1) =="
printf 'backproof run (download, 2x BLAKE3, scratch write): %.2f s  %.0f MB/s\n' "$bp" "$(mbps "$bp")"
printf 'rclone cat (download only):                        %.2f s  %.0f MB/s\n' "$rc" "$(mbps "$rc")"
printf 'ratio (goal >= 1.0): %.2f\n' "$(echo "$rc / $bp" | bc -l)"
printf 'peak RSS verifying a 2 GiB object: %.1f MiB (goal <= 64 MiB)\n\n' "$(rss s3big)"

bp=$(best_of_3 verify smbset); sc=$(best_of_3 smb_get)
echo "== SMB (smbd on 127.0.0.1), unencrypted =="
printf 'backproof run (download, 2x BLAKE3, scratch write): %.2f s  %.0f MB/s\n' "$bp" "$(mbps "$bp")"
printf 'smbclient get (download only):                     %.2f s  %.0f MB/s\n' "$sc" "$(mbps "$sc")"
printf 'ratio (goal >= 1.0): %.2f\n\n' "$(echo "$sc / $bp" | bc -l)"
bp=$(best_of_3 verify smbenc); sc=$(best_of_3 smb_get --client-protection=encrypt)
echo "== SMB, SMB3 encryption on both sides =="
printf 'backproof run (encryption = "required"):           %.2f s  %.0f MB/s\n' "$bp" "$(mbps "$bp")"
printf 'smbclient --client-protection=encrypt get:         %.2f s  %.0f MB/s\n' "$sc" "$(mbps "$sc")"
printf 'ratio: %.2f\n' "$(echo "$sc / $bp" | bc -l)"
printf 'peak RSS verifying a 2 GiB object: %.1f MiB (goal <= 64 MiB)\n' "$(rss smbbig)"
