#!/bin/bash
# guest.sh: runs inside the booted guest (as init, after tests/kernels/init.sh):
# sets up what a Debian 12 machine has (proc, sys, cgroups as the host mounts
# them, loopback, a scratch ext4 disk on /tmp and /var/tmp), runs the BPF tests
# named in the results share's params file, writes their logs and summary
# there, and powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/pts /dev/shm
# what udev would make: bash's process substitution needs /dev/fd
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
# the host's cgroup layout: v1 controllers, cgroup2 under unified
mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup
for c in cpu cpuacct cpuset memory devices freezer blkio pids; do
	mkdir -p /sys/fs/cgroup/$c && mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c
done
mkdir -p /sys/fs/cgroup/unified && mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified
ip link set lo up
mkdir -p /results
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 results /results
. /results/params
# a repository under /tmp or /var/tmp (a CI clone) would be hidden by the
# scratch disk: keep it reachable elsewhere first
case $REPO in
/tmp/* | /var/tmp/*)
	mkdir -p /run/stalltrap-repo && mount --bind "$REPO" /run/stalltrap-repo && REPO=/run/stalltrap-repo ;;
esac
# the scratch disk (virtio, 254:0 as the host's), for tests that throttle I/O
mount -t ext4 /dev/vda /tmp && chmod 1777 /tmp && mkdir -p /tmp/.var-tmp && chmod 1777 /tmp/.var-tmp &&
	mount --bind /tmp/.var-tmp /var/tmp
cd "$REPO" || { echo "guest: no repository at $REPO"; echo o >/proc/sysrq-trigger; sleep 10; }
echo "guest: $(uname -r), $(nproc) CPUs, booted in $(cut -d' ' -f1 /proc/uptime) s"
start=$(date +%s)
if [ -n "$GUEST_CMD" ]; then
	bash -c "$GUEST_CMD" >/results/run.out 2>&1
	echo "guest: command exited $?"
else
TEST_LOG_DIR=/results/logs T="$GUEST_T" ./tests/run.sh bpf 2>&1 | tee /results/run.out
fi
echo "guest: tests took $(( $(date +%s) - start )) s"
sync
echo o >/proc/sysrq-trigger
sleep 10
