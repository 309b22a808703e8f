#!/bin/sh
# init.sh: /init of the guest's initramfs (busybox sh), built by tests/kernels/run.sh.
# Loads the 9p, virtio and ext4 modules (in dependency order, listed in
# /modules.list), mounts the host's root file system read-only over 9p under
# a RAM overlay, and hands over to tests/kernels/guest.sh in the repository
# (st.repo= on the kernel command line).
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules.list); do
	insmod "/modules/$m.ko" || echo "init: insmod $m failed"
done
repo=
for a in $(cat /proc/cmdline); do
	case $a in st.repo=*) repo=${a#st.repo=} ;; esac
done
mkdir -p /lower /ovl /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 hostroot /lower ||
	{ echo "init: cannot mount the host's root over 9p"; poweroff -f; }
mount -t tmpfs -o size=75% tmpfs /ovl
mkdir -p /ovl/upper /ovl/work
mount -t overlay -o lowerdir=/lower,upperdir=/ovl/upper,workdir=/ovl/work overlay /newroot ||
	{ echo "init: cannot mount the overlay"; poweroff -f; }
mkdir -p /newroot/run/stalltrap-lower
mount --move /lower /newroot/run/stalltrap-lower
mount --move /dev /newroot/dev
umount /proc /sys
exec switch_root /newroot /bin/bash "$repo/tests/kernels/guest.sh"
