#!/usr/bin/env bash
# The project's one test command: installs what the tests need on a fresh Debian machine
# with a Rust toolchain (etcd-server and etcd-client from Debian, for the tests that run a
# real etcd), then builds and runs every test in the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

need_etcd=0
command -v etcd >/dev/null 2>&1 || need_etcd=1
command -v etcdctl >/dev/null 2>&1 || need_etcd=1
if [ "$need_etcd" = 1 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "== installing etcd-server and etcd-client from Debian"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq etcd-server etcd-client >/dev/null
fi
etcd --version | head -1

echo "== cargo test (workspace)"
cargo test --workspace --locked

echo "== library docs (missing docs and broken links are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps -p bbolt-reader -p wal-reader -p bbolt-writer
