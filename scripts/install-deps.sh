#!/bin/sh
# Installs the Debian 12 packages stalltrap needs to build, test and demo; quiet and idempotent.
set -eu

# Build: the BPF toolchain and the user-space libraries; protoc-c turns pprof's
# profile.proto (shipped by golang-github-google-pprof-dev) into C at build time.
PKGS_BUILD="make gcc clang llvm libbpf-dev bpftool libelf-dev libdw-dev zlib1g-dev
  libjansson-dev libcap-dev libiberty-dev pkg-config
  protobuf-c-compiler libprotobuf-c-dev golang-github-google-pprof-dev
  libcurl4-openssl-dev libmicrohttpd-dev libssl-dev libsystemd-dev libdebuginfod-dev"
# Test: unit-test runner, the peers the benchmarks compare against, and the
# report tests' readers: go tool pprof, headless Chromium driven from Node;
# the real servers the server tests freeze (each test runs its own instance
# on loopback in a temporary directory, never the packaged service); qemu and
# what builds its initramfs, to boot Debian 12's own 6.1 (tests/kernels/run.sh).
PKGS_TEST="libcmocka-dev libc6-dbg bpftrace jq libclang-rt-14-dev python3 python3-yaml procps util-linux bc openssl
  golang-go chromium
  prometheus prometheus-alertmanager
  mariadb-server mariadb-client postgresql postgresql-client redis-server redis-tools
  nginx php-fpm php-redis curl
  debuginfod xz-utils binutils time gdb
  qemu-system-x86 busybox-static cpio e2fsprogs"

missing=""
for p in $PKGS_BUILD $PKGS_TEST; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
# Node and npm by command, not by package: a machine may have them from
# elsewhere (Debian's npm conflicts with other nodejs builds).
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
