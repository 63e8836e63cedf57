#!/usr/bin/env bash
# Captures what every db and WAL command prints on every fixture (committed and derived
# damaged ones), text and --json, with the exit status, into OUT_DIR: one file per
# (fixture, command). Run it before and after a change and `diff -r` the two directories to
# prove outputs byte-identical.
#
# Usage: scripts/capture-outputs.sh OUT_DIR [ETCD_AUTOPSY_BINARY]
#   (default binary: target/release/etcd-autopsy, built if missing; run
#   fixtures/make-damaged.sh first to include the damaged variants)
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: capture-outputs.sh OUT_DIR [BINARY]}
bin=${2:-target/release/etcd-autopsy}
if [[ ! -x $bin ]]; then cargo build --release -q -p analyzer-cli || exit 2; fi
mkdir -p "$out"

dbs=()
while IFS= read -r f; do dbs+=("$f"); done < <(
    find fixtures -path '*/member/snap/db' | sort
    ls fixtures/snapshot/*.db fixtures/damaged/bbolt/*.db 2>/dev/null | sort
)
dirs=()
while IFS= read -r d; do dirs+=("$d"); done < <(
    find fixtures -maxdepth 3 -type d -name data | sort
    find fixtures/damaged/wal -mindepth 1 -maxdepth 1 -type d 2>/dev/null | sort
)

run() { # name, args...
    local name=$1
    shift
    # Both streams and the status: progress bars are off (stderr is not a terminal).
    "$bin" "$@" >"$out/$name.out" 2>"$out/$name.err"
    echo "exit $?" >>"$out/$name.out"
}

for db in "${dbs[@]}"; do
    n=${db//\//_}
    for j in "" --json; do
        run "$n.prefixes$j" prefixes $j "$db"
        run "$n.prefixes-d2$j" prefixes --depth 2 --top 5 $j "$db"
        run "$n.report$j" report $j "$db"
        run "$n.space$j" space $j "$db"
        run "$n.hash$j" hash $j "$db"
        run "$n.hashdb$j" hash --db $j "$db"
        run "$n.status$j" status $j "$db"
        run "$n.stats$j" stats $j "$db"
        run "$n.check$j" check $j "$db"
    done
    run "$n.export" export "$db"
    run "$n.export-text" export --text "$db"
    run "$n.export-secrets" export --show-secrets "$db"
    run "$n.space-rev" space --rev 10 "$db"
    run "$n.hash-rev" hash --rev 10 "$db"
    run "$n.ncdu" prefixes --format ncdu "$db"
    run "$n.report-html" report --html "$out/$n.report.html" "$db"
done
for d in "${dirs[@]}"; do
    n=${d//\//_}
    for j in "" --json; do
        run "$n.wal$j" wal $j "$d"
        run "$n.walsum$j" wal --summary $j "$d"
        run "$n.report$j" report $j "$d"
        run "$n.check$j" check $j "$d"
    done
    run "$n.export-replay" export --replay-wal "$d"
done
echo "captured $(find "$out" -name '*.out' | wc -l) outputs in $out" >&2
