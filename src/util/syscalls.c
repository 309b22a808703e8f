/* syscalls.c: the x86_64 syscall name table (see syscalls.h). */
#include <stddef.h>

#include "util/syscalls.h"

const char *syscall_name(int32_t nr)
{
	/* sorted by number: looked up by bisection */
	static const struct {
		int32_t nr;
		const char *name;
	} names[] = {
		{ NR_read, "read" }, { NR_write, "write" }, { NR_open, "open" }, { NR_close, "close" },
		{ NR_poll, "poll" }, { NR_mmap, "mmap" }, { NR_mprotect, "mprotect" },
		{ NR_munmap, "munmap" }, { NR_brk, "brk" }, { NR_pread64, "pread64" },
		{ NR_pwrite64, "pwrite64" }, { NR_readv, "readv" }, { NR_writev, "writev" },
		{ NR_select, "select" }, { NR_sched_yield, "sched_yield" }, { NR_mremap, "mremap" },
		{ NR_msync, "msync" }, { NR_mincore, "mincore" }, { NR_madvise, "madvise" },
		{ NR_pause, "pause" }, { NR_nanosleep, "nanosleep" }, { NR_sendfile, "sendfile" },
		{ NR_connect, "connect" }, { NR_accept, "accept" }, { NR_sendto, "sendto" },
		{ NR_recvfrom, "recvfrom" }, { NR_sendmsg, "sendmsg" }, { NR_recvmsg, "recvmsg" },
		{ NR_clone, "clone" }, { NR_fork, "fork" }, { NR_vfork, "vfork" },
		{ NR_execve, "execve" }, { NR_exit, "exit" }, { NR_wait4, "wait4" },
		{ NR_semop, "semop" }, { NR_msgrcv, "msgrcv" }, { NR_fsync, "fsync" },
		{ NR_fdatasync, "fdatasync" }, { NR_truncate, "truncate" },
		{ NR_ftruncate, "ftruncate" }, { NR_rename, "rename" }, { NR_mkdir, "mkdir" },
		{ NR_rmdir, "rmdir" }, { NR_creat, "creat" }, { NR_unlink, "unlink" },
		{ NR_rt_sigtimedwait, "rt_sigtimedwait" }, { NR_rt_sigsuspend, "rt_sigsuspend" },
		{ NR_mlock, "mlock" }, { NR_munlock, "munlock" }, { NR_mlockall, "mlockall" },
		{ NR_munlockall, "munlockall" }, { NR_prctl, "prctl" }, { NR_sync, "sync" },
		{ NR_futex, "futex" }, { NR_io_getevents, "io_getevents" },
		{ NR_io_submit, "io_submit" }, { NR_semtimedop, "semtimedop" },
		{ NR_clock_nanosleep, "clock_nanosleep" }, { NR_exit_group, "exit_group" },
		{ NR_epoll_wait, "epoll_wait" }, { NR_mbind, "mbind" },
		{ NR_mq_timedreceive, "mq_timedreceive" }, { NR_waitid, "waitid" },
		{ NR_openat, "openat" }, { NR_unlinkat, "unlinkat" }, { NR_renameat, "renameat" },
		{ NR_pselect6, "pselect6" }, { NR_ppoll, "ppoll" }, { NR_splice, "splice" },
		{ NR_sync_file_range, "sync_file_range" }, { NR_move_pages, "move_pages" },
		{ NR_epoll_pwait, "epoll_pwait" }, { NR_fallocate, "fallocate" },
		{ NR_accept4, "accept4" }, { NR_preadv, "preadv" }, { NR_pwritev, "pwritev" },
		{ NR_recvmmsg, "recvmmsg" }, { NR_syncfs, "syncfs" }, { NR_sendmmsg, "sendmmsg" },
		{ NR_process_vm_readv, "process_vm_readv" },
		{ NR_process_vm_writev, "process_vm_writev" }, { NR_renameat2, "renameat2" },
		{ NR_mlock2, "mlock2" }, { NR_copy_file_range, "copy_file_range" },
		{ NR_preadv2, "preadv2" }, { NR_pwritev2, "pwritev2" },
		{ NR_pkey_mprotect, "pkey_mprotect" }, { NR_io_pgetevents, "io_pgetevents" },
		{ NR_io_uring_enter, "io_uring_enter" }, { NR_clone3, "clone3" },
		{ NR_faccessat2, "faccessat2" }, { NR_process_madvise, "process_madvise" },
		{ NR_epoll_pwait2, "epoll_pwait2" }, { NR_futex_waitv, "futex_waitv" },
	};
	size_t lo = 0, hi = sizeof(names) / sizeof(names[0]);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (names[mid].nr == nr)
			return names[mid].name;
		if (names[mid].nr < nr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
