#!/bin/bash
# run.sh: boots other kernels in qemu and runs the root BPF tests inside them
# (make test-kernels). usage: tests/kernels/run.sh [--tests "NAME..."] [--shell]
#
# The kernel is Debian 12's own (the newest linux-image-6.1.0-N-amd64 that
# linux-image-amd64 depends on, or $KERNEL_PKG): `apt-get download` + `dpkg -x`
# into $KERNEL_CACHE (/var/cache/stalltrap-kernels), never installed as this
# machine's kernel; reruns use the cached copy. The guest boots from a small
# initramfs built from that kernel's own modules (9p, virtio, overlay, ext4;
# tests/kernels/init.sh), runs this machine's root file system read-only over
# 9p under a RAM overlay, and gets an empty ext4 scratch disk for /tmp (the
# I/O tests throttle it). qemu runs in single-threaded TCG: nested KVM does not
# work on these machines, and multi-threaded TCG froze guests.
# Inside, tests/kernels/guest.sh runs `tests/run.sh bpf` for the tests named by
# --tests (default: all of tests/bpf/) with the binaries built here (make all);
# their logs come back in build/kernels/KVER/logs/, the serial console in
# build/kernels/KVER/console.log. Ends with the guest's "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
CACHE=${KERNEL_CACHE:-/var/cache/stalltrap-kernels}
TESTS=""
CMD=""
SHELL_ONLY=0
MEM=${GUEST_MEM:-4G}
SMP=${GUEST_SMP:-2}
while [ $# -gt 0 ]; do
	case $1 in
	--tests) TESTS=$2; shift 2 ;;
	--cmd) CMD=$2; shift 2 ;;
	--shell) SHELL_ONLY=1; shift ;;
	*) echo "usage: tests/kernels/run.sh [--tests \"NAME...\"] [--cmd \"CMD\"] [--shell]" >&2; exit 2 ;;
	esac
done
die() { echo "test-kernels: $*" >&2; exit 1; }
for b in qemu-system-x86_64 busybox cpio mkfs.ext4 apt-get dpkg; do
	command -v "$b" >/dev/null || die "$b is missing: run scripts/install-deps.sh"
done
[ -n "$CMD" ] || [ -x build/stalltrap ] || die "build/stalltrap is missing: run make"

# --- the kernel, downloaded once ---
pkg=${KERNEL_PKG:-$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-6/ { print $2; exit }')}
[ -n "$pkg" ] || die "cannot tell the newest linux-image-6.1.0-*-amd64 (apt-cache depends linux-image-amd64; apt-get update?)"
kver=${pkg#linux-image-}
kdir=$CACHE/$kver
if [ ! -f "$kdir/.unpacked" ]; then
	mkdir -p "$CACHE"
	echo "test-kernels: downloading $pkg into $CACHE"
	(cd "$CACHE" && rm -f "${pkg}"_*.deb && apt-get download -q "$pkg" >/dev/null 2>&1) ||
		die "apt-get download $pkg failed"
	rm -rf "$kdir" && mkdir -p "$kdir"
	dpkg -x "$CACHE/${pkg}"_*.deb "$kdir" || die "dpkg -x failed"
	rm -f "$CACHE/${pkg}"_*.deb
	touch "$kdir/.unpacked"
fi
vmlinuz=$kdir/boot/vmlinuz-$kver
moddir=$kdir/lib/modules/$kver/kernel
[ -f "$vmlinuz" ] || die "no $vmlinuz in the package"

out=build/kernels/$kver
rm -rf "$out" && mkdir -p "$out/logs"
work=$(mktemp -d /tmp/stalltrap-kernels.XXXXXX)
trap 'rm -rf "$work"' EXIT

# --- the initramfs: busybox, the modules (dependencies first), init.sh ---
declare -A seen=()
order=()
add_mod() { # NAME: the module and what it depends on, from its .modinfo
	local name=$1 path dep
	[ -n "${seen[$name]:-}" ] && return 0
	seen[$name]=1
	path=$(find "$moddir" -name "$name.ko" -print -quit)
	[ -n "$path" ] || path=$(find "$moddir" -name "${name//_/-}.ko" -print -quit)
	[ -n "$path" ] || die "module $name is not in $pkg"
	for dep in $(strings -a "$path" | sed -n 's/^depends=//p' | tr ',' ' '); do
		add_mod "$dep"
	done
	cp "$path" "$work/initrd/modules/$name.ko"
	order+=("$name")
}
mkdir -p "$work/initrd"/{bin,modules,proc,sys,dev}
cp "$(command -v busybox)" "$work/initrd/bin/busybox"
for a in sh mount umount insmod mkdir switch_root poweroff cat echo; do ln -s busybox "$work/initrd/bin/$a"; done
for m in virtio_pci 9pnet_virtio 9p overlay virtio_blk ext4 crc32c_generic; do add_mod "$m"; done
printf '%s\n' "${order[@]}" >"$work/initrd/modules.list"
cp tests/kernels/init.sh "$work/initrd/init" && chmod 755 "$work/initrd/init"
(cd "$work/initrd" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd.gz"

# --- the scratch disk and the parameters for guest.sh ---
truncate -s 4G "$work/scratch.img"
mkfs.ext4 -q -F -O ^has_journal "$work/scratch.img"
{
	printf 'REPO=%q\n' "$REPO"
	printf 'GUEST_T=%q\n' "$TESTS"
	printf 'GUEST_CMD=%q\n' "$CMD"
	printf 'export TEST_TIMEOUT_SCALE=%q\n' "${TEST_TIMEOUT_SCALE:-4}"
	# what the tests take from the environment (SCENARIOS="mutex busy")
	for v in SCENARIOS STALLTRAP_BPF_DEBUG; do
		[ -n "${!v:-}" ] && printf 'export %s=%q\n' "$v" "${!v}"
	done
} >"$out/params"
[ "$SHELL_ONLY" = 1 ] && echo 'exec /bin/bash -i </dev/console >/dev/console 2>&1' >>"$out/params"

echo "test-kernels: booting $kver (qemu TCG, $SMP CPUs, $MEM) for: ${TESTS:-all BPF tests}"
start=$(date +%s)
qemu=(qemu-system-x86_64 -accel tcg,thread=single -cpu max -smp "$SMP" -m "$MEM"
	-kernel "$vmlinuz" -initrd "$work/initrd.gz"
	-append "console=ttyS0 panic=-1 quiet loglevel=4 st.repo=$REPO"
	-fsdev local,id=root,path=/,security_model=none,readonly=on,multidevs=remap
	-device virtio-9p-pci,fsdev=root,mount_tag=hostroot
	-fsdev local,id=res,path="$PWD/$out",security_model=none,multidevs=remap
	-device virtio-9p-pci,fsdev=res,mount_tag=results
	-drive file="$work/scratch.img",format=raw,if=virtio,cache=unsafe
	-nic none -no-reboot -display none)
if [ "$SHELL_ONLY" = 1 ]; then
	exec "${qemu[@]}" -serial mon:stdio
fi
rc=0
timeout "${GUEST_TIMEOUT:-3600}" "${qemu[@]}" -serial file:"$out/console.log" || rc=$?
echo "test-kernels: guest ran $(( $(date +%s) - start )) s (qemu exit $rc)"
grep -E '^guest:' "$out/console.log" || true
if [ -n "$CMD" ]; then
	cat "$out/run.out" 2>/dev/null
	exit 0
fi
if [ ! -s "$out/run.out" ]; then
	tail -30 "$out/console.log" >&2
	die "the guest wrote no results (console: $out/console.log)"
fi
grep -vE '^[a-z]+ +test_' "$out/run.out" | sed '/passed, .* failed/d' || true
grep -E '^[a-z]+ +test_' "$out/run.out" | sed "s/^/$kver: /"
summary=$(tail -1 "$out/run.out")
echo "$summary"
[[ $summary =~ ^[0-9]+\ passed,\ 0\ failed ]]
