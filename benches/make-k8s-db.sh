#!/usr/bin/env bash
# Makes benches/data/k8s.db, a Kubernetes-like etcd 3.4 db of about 1.1 GiB (not committed).
# Usage: benches/make-k8s-db.sh [SIZE_MIB]
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p benches/data
cargo run --release -q -p etcd-autopsy-benches --bin make-k8s-db -- benches/data/k8s.db "${1:-1100}"
