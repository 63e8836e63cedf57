#!/usr/bin/env bash
# time-report-html.sh BIN DB THREADS [ROUNDS]: `report` against `report --html` on DB,
# alternating runs; prints the medians of CPU (user + sys) and wall seconds, their CPU
# ratio, the load average before and after, and the page's size. Outputs go to a temp
# file that is removed.
#   scripts/time-report-html.sh target/release/etcd-autopsy benches/data/k8s.db 1 7
set -euo pipefail
bin=$1; db=$2; th=$3; n=${4:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat "$db" > /dev/null
r=(); h=(); rw=(); hw=()
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$n"); do
  /usr/bin/time -f "%e %U %S" -o "$tmp/t1" "$bin" report --threads "$th" "$db" > /dev/null
  /usr/bin/time -f "%e %U %S" -o "$tmp/t2" "$bin" report --threads "$th" --html "$tmp/p.html" "$db" > /dev/null
  read -r w u s < "$tmp/t1"; r+=("$(echo "$u + $s" | bc)"); rw+=("$w")
  read -r w u s < "$tmp/t2"; h+=("$(echo "$u + $s" | bc)"); hw+=("$w")
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$(basename "$db") threads=$th rounds=$n: report cpu $(med "${r[@]}") wall $(med "${rw[@]}");" \
  "--html cpu $(med "${h[@]}") wall $(med "${hw[@]}"); cpu ratio $(echo "scale=3; $(med "${h[@]}") / $(med "${r[@]}")" | bc)"
echo "page bytes $(stat -c %s "$tmp/p.html")"
