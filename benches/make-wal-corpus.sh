#!/usr/bin/env bash
# Makes >= 300 MB of real etcd WAL for `cargo bench -p etcd-autopsy-benches --bench wal`.
#
# Starts etcd 3.4 (/usr/bin/etcd) on 127.0.0.1 ports $PORT/$PORT+1 (default 23850) with its data under
# benches/data/wal-corpus (gitignored), writes through etcdctl first a minute of many small
# concurrent puts (`etcdctl check perf`), then transactions of many puts (values 1-16 KiB,
# as kube-apiserver objects) with single puts, deletes and lease grants in between, until
# the WAL directory holds TARGET_MB of records; then stops etcd by its PID. Run it again to
# start over (takes about 5 minutes).
set -euo pipefail

TARGET_MB=${TARGET_MB:-320}
HERE=$(cd "$(dirname "$0")" && pwd)
DATA="$HERE/data/wal-corpus"
PORT=${PORT:-23850}
CLIENT=http://127.0.0.1:$PORT
PEER=http://127.0.0.1:$((PORT + 1))
ETCD=${ETCD:-/usr/bin/etcd}
ETCDCTL=${ETCDCTL:-/usr/bin/etcdctl}
export ETCDCTL_API=3

rm -rf "$DATA"
mkdir -p "$DATA"
"$ETCD" --name bench --data-dir "$DATA" \
  --listen-client-urls "$CLIENT" --advertise-client-urls "$CLIENT" \
  --listen-peer-urls "$PEER" --initial-advertise-peer-urls "$PEER" \
  --initial-cluster "bench=$PEER" --max-wals 0 --snapshot-count 10000 \
  --quota-backend-bytes 8589934592 --max-request-bytes 4194304 \
  > "$HERE/data/etcd-bench.log" 2>&1 &
ETCD_PID=$!
trap 'kill "$ETCD_PID" 2>/dev/null || true; wait "$ETCD_PID" 2>/dev/null || true' EXIT

# shellcheck source=../fixtures/lib/etcd.sh
source "$HERE/../fixtures/lib/etcd.sh"
ETCDCTL_BIN=$ETCDCTL
etcd_wait_healthy "$CLIENT" "$ETCD_PID" 30

wal_bytes() {
  # Bytes of written records. Segments before the last are cut to their records by etcd;
  # the last is preallocated, so count it up to its zero tail.
  python3 - "$DATA/member/wal" <<'PY'
import os, sys
d = sys.argv[1]
names = sorted(n for n in os.listdir(d) if n.endswith(".wal"))
total = sum(os.path.getsize(os.path.join(d, n)) for n in names[:-1])
with open(os.path.join(d, names[-1]), "rb") as f:
    total += len(f.read().rstrip(b"\0"))
print(total)
PY
}

# Generates one etcdctl txn script: no compares, N puts in success, nothing in failure.
txn_script() {
  python3 - "$1" "$2" <<'PY'
import os, random, string, sys
batch, n = int(sys.argv[1]), int(sys.argv[2])
rnd = random.Random(batch)
kinds = ["pods", "events", "configmaps", "leases", "replicasets", "endpointslices"]
alphabet = string.ascii_letters + string.digits
print()  # no compares
for i in range(n):
    kind = rnd.choice(kinds)
    size = rnd.randint(1024, 16384)
    val = "".join(rnd.choice(alphabet) for _ in range(64)) * (size // 64)
    print('put /registry/%s/ns-%d/obj-%d-%d "%s"' % (kind, rnd.randint(0, 20), batch, i, val))
print()
print()
PY
}

# Phase 1: many small entries. `etcdctl check perf` runs 60 s of concurrent 1 KiB puts
# (up to 8000/s with load l) and deletes its prefix at the end: a few hundred thousand
# entries of ~1.3 KB each, like a busy cluster's stream of small writes.
"$ETCDCTL" --endpoints "$CLIENT" check perf --load=l >&2 || true
echo "after check perf: $(( $(wal_bytes) / 1000000 )) MB of WAL records" >&2

# Phase 2: large transactions (kube-apiserver-sized objects) until the target is reached.
batch=0
while :; do
  have=$(wal_bytes)
  if [ "$have" -ge $((TARGET_MB * 1000 * 1000)) ]; then
    break
  fi
  # Four writers in parallel, each a transaction of 96 puts (about 800 KB).
  writers=()
  for _ in 0 1 2 3; do
    batch=$((batch + 1))
    txn_script "$batch" 96 | "$ETCDCTL" --endpoints "$CLIENT" txn >/dev/null &
    writers+=("$!")
  done
  # Small requests between the big ones: single puts, a delete, a lease.
  "$ETCDCTL" --endpoints "$CLIENT" put "/registry/leases/kube-system/holder-$batch" "v$batch" >/dev/null
  "$ETCDCTL" --endpoints "$CLIENT" del "/registry/events/ns-1/obj-$((batch - 4))-0" >/dev/null
  "$ETCDCTL" --endpoints "$CLIENT" lease grant 60 >/dev/null
  wait "${writers[@]}" || true
  echo "batch $batch: $((have / 1000000)) MB of WAL records" >&2
done
echo "WAL corpus: $(wal_bytes) bytes of records in $DATA/member/wal" >&2
ls -la "$DATA/member/wal" >&2
