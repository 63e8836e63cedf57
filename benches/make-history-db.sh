#!/usr/bin/env bash
# Makes the history-heavy bench dbs (not committed; benches/data is gitignored): about 231k
# keys whatever the size, revisions growing with it (node Leases renewed all the time,
# node status rewritten, events on leases, pods), written in etcd 3.4's layout by
# make-k8s-db's `history` shape with bbolt-writer.
#
# Usage:
#   benches/make-history-db.sh [SIZE_MIB...]   default 2048: benches/data/history-2048.db
#   benches/make-history-db.sh --scaling       512 1024 2048 4096 8192 (the scaling table)
#   benches/make-history-db.sh --validate [SIZE_MIB]
#       makes a small instance (default 512 MiB; every size holds all 231k keys, ~400 MB) of the same generator under a temp dir,
#       restores it with `etcdctl snapshot restore`, starts etcd 3.4 on it (127.0.0.1,
#       ports $VALIDATE_PORT and $VALIDATE_PORT+1, default 25310), and checks that etcd
#       agrees with etcd-autopsy: the number of live keys (`etcdctl get --prefix --limit 1`, its count field,
#       against `prefixes` totals.live_keys; a range limited to 1 key still gives the count) and HashKV (`etcdctl endpoint hashkv`
#       against `hash`), on the restored member's db. etcd is stopped by its PID.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
mkdir -p "$HERE/data"
cd "$ROOT"
cargo build --release -q -p etcd-autopsy-benches --bin make-k8s-db -p analyzer-cli
GEN=$ROOT/target/release/make-k8s-db
AUTOPSY=$ROOT/target/release/etcd-autopsy

make_one() {
    local mib=$1 out=$2
    "$GEN" "$out" "$mib" history
}

if [[ ${1:-} == --validate ]]; then
    mib=${2:-512}
    port=${VALIDATE_PORT:-25310}
    # shellcheck source=../fixtures/lib/etcd.sh
    source "$ROOT/fixtures/lib/etcd.sh"
    tmp=$(mktemp -d)
    ETCD_PID=
    cleanup() {
        if [[ -n $ETCD_PID ]]; then etcd_stop "$ETCD_PID" 30 || true; fi
        rm -rf "$tmp"
    }
    trap cleanup EXIT
    make_one "$mib" "$tmp/gen.db"
    ETCDCTL_API=3 "$ETCDCTL_BIN" snapshot restore "$tmp/gen.db" --skip-hash-check \
        --name v --data-dir "$tmp/data" \
        --initial-cluster "v=http://127.0.0.1:$((port + 1))" \
        --initial-advertise-peer-urls "http://127.0.0.1:$((port + 1))" >"$tmp/restore.log" 2>&1
    db=$tmp/data/member/snap/db
    ours_keys=$("$AUTOPSY" prefixes --json "$db" | python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"]["live_keys"])')
    ours_hash=$("$AUTOPSY" hash --json "$db" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["hash"], d["revision"], d["compact_revision"])')
    etcd_start v "$tmp/data" "$port" "$((port + 1))" "$tmp/etcd.log" \
        --quota-backend-bytes 8589934592 --heartbeat-interval 10 --election-timeout 100
    ep=http://127.0.0.1:$port
    etcd_wait_healthy "$ep" "$ETCD_PID" 120
    theirs_keys=$(ectl "$ep" get "" --prefix --keys-only --limit 1 -w json | python3 -c 'import json,sys; print(json.load(sys.stdin).get("count", 0))')
    theirs_hash=$(ectl "$ep" endpoint hashkv -w json | python3 -c 'import json,sys; d=json.load(sys.stdin)[0]["HashKV"]; print(d["hash"], d["header"]["revision"], d.get("compact_revision", 0))')
    etcd_stop "$ETCD_PID" 30
    ETCD_PID=
    echo "generated $mib MiB history db, restored by etcdctl, served by $("$ETCD_BIN" --version | sed -n 1p)"
    echo "live keys: etcd $theirs_keys, etcd-autopsy prefixes $ours_keys"
    echo "hashkv (hash revision compact): etcd $theirs_hash, etcd-autopsy hash $ours_hash"
    if [[ $theirs_keys != "$ours_keys" || $theirs_hash != "$ours_hash" ]]; then
        echo "MISMATCH" >&2
        exit 1
    fi
    echo "etcd agrees"
    exit 0
fi

sizes=("$@")
if [[ ${1:-} == --scaling ]]; then sizes=(512 1024 2048 4096 8192); fi
if [[ ${#sizes[@]} -eq 0 ]]; then sizes=(2048); fi
for mib in "${sizes[@]}"; do
    out=$HERE/data/history-$mib.db
    if [[ -f $out ]]; then
        echo "$out exists" >&2
        continue
    fi
    make_one "$mib" "$out.partial"
    mv "$out.partial" "$out"
done
