/* syscalls.h: x86_64 syscall numbers and names, for the syscalls a stall is diagnosed or shown in.
 *
 * One table for the whole program: diagnose's rules and summaries and the
 * renderers' labels name a syscall the same way. The numbers are the x86_64
 * ABI's (capture records the raw number of the traced task's syscall); a
 * number not listed here has no name, and callers print "syscall N".
 */
#ifndef STALLTRAP_SYSCALLS_H
#define STALLTRAP_SYSCALLS_H

#include <stdbool.h>
#include <stdint.h>

enum {
	NR_read = 0, NR_write = 1, NR_open = 2, NR_close = 3, NR_poll = 7, NR_mmap = 9,
	NR_mprotect = 10, NR_munmap = 11, NR_brk = 12, NR_pread64 = 17, NR_pwrite64 = 18,
	NR_readv = 19, NR_writev = 20, NR_select = 23, NR_sched_yield = 24, NR_mremap = 25,
	NR_msync = 26, NR_mincore = 27, NR_madvise = 28, NR_pause = 34, NR_nanosleep = 35,
	NR_sendfile = 40, NR_connect = 42, NR_accept = 43, NR_sendto = 44, NR_recvfrom = 45,
	NR_sendmsg = 46, NR_recvmsg = 47, NR_clone = 56, NR_fork = 57, NR_vfork = 58,
	NR_execve = 59, NR_exit = 60, NR_wait4 = 61, NR_semop = 65, NR_msgrcv = 70,
	NR_fsync = 74, NR_fdatasync = 75, NR_truncate = 76, NR_ftruncate = 77, NR_rename = 82,
	NR_mkdir = 83, NR_rmdir = 84, NR_creat = 85, NR_unlink = 87, NR_rt_sigtimedwait = 128,
	NR_rt_sigsuspend = 130, NR_mlock = 149, NR_munlock = 150, NR_mlockall = 151,
	NR_munlockall = 152, NR_prctl = 157, NR_sync = 162, NR_futex = 202,
	NR_io_getevents = 208, NR_io_submit = 209, NR_semtimedop = 220,
	NR_clock_nanosleep = 230, NR_exit_group = 231, NR_epoll_wait = 232, NR_mbind = 237,
	NR_mq_timedreceive = 243, NR_waitid = 247, NR_openat = 257, NR_unlinkat = 263,
	NR_renameat = 264, NR_pselect6 = 270, NR_ppoll = 271, NR_splice = 275,
	NR_sync_file_range = 277, NR_move_pages = 279, NR_epoll_pwait = 281,
	NR_fallocate = 285, NR_accept4 = 288, NR_preadv = 295, NR_pwritev = 296,
	NR_recvmmsg = 299, NR_syncfs = 306, NR_sendmmsg = 307, NR_process_vm_readv = 310,
	NR_process_vm_writev = 311, NR_renameat2 = 316, NR_mlock2 = 325,
	NR_copy_file_range = 326, NR_preadv2 = 327, NR_pwritev2 = 328, NR_pkey_mprotect = 329,
	NR_io_pgetevents = 333, NR_io_uring_enter = 426, NR_clone3 = 435, NR_faccessat2 = 439,
	NR_process_madvise = 440, NR_epoll_pwait2 = 441, NR_futex_waitv = 449,
};

/* The syscall's name ("mmap"), or NULL for a number not in the table. */
const char *syscall_name(int32_t nr);

/* clone, fork, vfork, clone3: the syscalls that copy an address space. */
static inline bool syscall_is_fork(int32_t nr)
{
	return nr == NR_clone || nr == NR_fork || nr == NR_vfork || nr == NR_clone3;
}

#endif /* STALLTRAP_SYSCALLS_H */
