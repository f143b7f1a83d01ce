// SPDX-License-Identifier: GPL-2.0-only
/*
 * Hostile driver, system calls, signals and memory: its init runs one attack, chosen by the parameter `attack`
 * (tests/hostile/attacks.json lists them with the verdict each must get). Each attack is a function of its own,
 * so that the fault's location names it. Run only in a sandboxed domain process.
 */
#include <linux/module.h>
#include <linux/string.h>

#include "side_raw_syscall.h"

static char *attack = "";
module_param(attack, charp, 0444);

static const char marker[] = "/tmp/side-hostile-marker";
static const char sh[] = "/bin/sh";
static char buf[256] __aligned(64);

/* Files */
static noinline long attack_openat(void) { return sys4(257, -100, marker, 0101, 0644); }
static noinline long attack_open_read(void) { return sys4(257, -100, "/etc/shadow", 0, 0); }
static noinline long attack_unlink(void) { return sys3(263, -100, marker, 0); }
static noinline long attack_mknod(void) { return sys4(259, -100, marker, 0020644, 0x0103); }
static noinline long attack_chdir(void) { return sys1(80, "/"); }
static noinline long attack_open_by_handle(void) { return sys3(304, -100, buf, 0); }
/* Programs and processes */
static noinline long attack_execve(void)
{
	const char *argv[] = { sh, NULL };
	return sys3(59, sh, argv, 0);
}
static noinline long attack_execveat(void) { return sys6(322, -100, (long)sh, (long)buf, 0, 0, 0); }
static noinline long attack_fork(void) { return sys0(57); }
static noinline long attack_vfork(void) { return sys0(58); }
static noinline long attack_clone_thread(void) { return sys6(56, 0x10f00 /* CLONE_VM|FS|FILES|SIGHAND|THREAD */, (long)(buf + 128), 0, 0, 0, 0); }
static noinline long attack_clone3(void) { return sys2(435, buf, 88); }
static noinline long attack_ptrace(void) { return sys4(101, 0, 0, 0, 0); }
static noinline long attack_ptrace_attach(void) { return sys4(101, 16 /* PTRACE_ATTACH */, 1, 0, 0); }
static noinline long attack_process_vm_writev(void) { return sys6(311, 1, (long)buf, 1, (long)buf, 1, 0); }
static noinline long attack_kill_init(void) { return sys2(62, 1, 0); }
static noinline long attack_kill_all(void) { return sys2(62, -1, 15); }
static noinline long attack_setpriority(void) { return sys3(141, 0, 0, -20); }
static noinline long attack_setrlimit(void) { return sys2(160, 7 /* RLIMIT_NOFILE */, buf); }
/* Network */
static noinline long attack_socket_inet(void) { return sys3(41, 2, 1, 0); }
static noinline long attack_socket_netlink(void) { return sys3(41, 16, 3, 0); }
static noinline long attack_socket_unix(void) { return sys3(41, 1, 1, 0); }
/* Memory */
static noinline long attack_mmap_wx(void) { return sys6(9, 0, 4096, 7, 0x22, -1, 0); }
static noinline long attack_mmap_huge(void) { return sys6(9, 0, 1L << 40, 3, 0x4022 /* NORESERVE */, -1, 0); }
/*
 * side's own text: side is a PIE at a random address; the return address of this module's init lies in it (set
 * by the init below before any attack runs).
 */
static unsigned long side_text;
static noinline long attack_mmap_fixed_side(void)
{
	return sys6(9, side_text & ~4095UL, 4096, 3, 0x32 /* FIXED */, -1, 0);
}
static noinline long attack_mprotect_side(void) { return sys3(10, side_text & ~4095UL, 4096, 7); }
static noinline long attack_mprotect_self_exec(void) { return sys3(10, (long)buf & ~4095L, 4096, 7); }
static noinline long attack_madvise_remove(void) { return sys3(28, 0x10000000, 4096, 9 /* MADV_REMOVE */); }
static noinline long attack_store_side_text(void)
{
	*(volatile unsigned long *)side_text = 0xdeadbeef;
	return 0;
}
static noinline long attack_memfd(void) { return sys2(319, "x", 0); }
static noinline long attack_userfaultfd(void) { return sys1(323, 0); }
/* IPC */
static noinline long attack_shmget(void) { return sys3(29, 0, 4096, 01000 | 0600); }
static noinline long attack_msgget(void) { return sys2(68, 0, 01000 | 0600); }
static noinline long attack_futex_pi(void) { return sys6(202, (long)buf, 6 /* FUTEX_LOCK_PI */, 0, 0, 0, 0); }
static noinline long attack_futex_requeue(void) { return sys6(202, (long)buf, 3 /* FUTEX_REQUEUE */, 1, 1, (long)(buf + 4), 0); }
/* Time */
static noinline long attack_clock_settime(void) { return sys2(227, 0, buf); }
static noinline long attack_settimeofday(void) { return sys2(164, buf, 0); }
static noinline long attack_adjtimex(void) { return sys1(159, buf); }
/* Mounts, namespaces, the system */
static noinline long attack_mount(void) { return sys6(165, (long)"none", (long)"/tmp", (long)"tmpfs", 0, 0, 0); }
static noinline long attack_unshare(void) { return sys1(272, 0x10000000 /* CLONE_NEWUSER */); }
static noinline long attack_setns(void) { return sys2(308, 3, 0); }
static noinline long attack_chroot(void) { return sys1(161, "/tmp"); }
static noinline long attack_reboot(void) { return sys4(169, 0xfee1dead, 672274793, 0x4321fedc, 0); }
static noinline long attack_init_module(void) { return sys3(175, buf, sizeof(buf), ""); }
static noinline long attack_finit_module(void) { return sys3(313, 3, "", 0); }
static noinline long attack_delete_module(void) { return sys2(176, "e1000", 0); }
static noinline long attack_io_uring(void) { return sys2(425, 8, buf); }
static noinline long attack_bpf(void) { return sys3(321, 0 /* BPF_MAP_CREATE */, buf, 72); }
static noinline long attack_perf_event_open(void) { return sys6(298, (long)buf, 0, -1, -1, 0, 0); }
static noinline long attack_personality(void) { return sys1(135, 0x0400000 /* READ_IMPLIES_EXEC */); }
static noinline long attack_prctl_dumpable(void) { return sys2(157, 4 /* PR_SET_DUMPABLE */, 1); }
static noinline long attack_prctl_seccomp(void) { return sys2(157, 22 /* PR_SET_SECCOMP */, 0); }
static noinline long attack_keyctl(void) { return sys2(250, 0, -3); }
static noinline long attack_setuid(void) { return sys1(105, 0); }
/* Descriptors the domain holds: the terminal, the arena */
static noinline long attack_ioctl_tiocsti(void) { return sys3(16, 0, 0x5412 /* TIOCSTI */, "x"); }
static noinline long attack_ioctl_fd4(void) { return sys3(16, 4, 0x5401 /* TCGETS */, buf); }
static noinline long attack_ftruncate_arena(void) { return sys2(77, 4, 0); }
static noinline long attack_fcntl_seal(void) { return sys3(72, 4, 1033 /* F_ADD_SEALS */, 8); }
static noinline long attack_dup_high(void) { return sys2(33, 4, 1000); }
/* Signals */
static noinline long attack_sigaction_sigsys(void)
{
	/* struct kernel_sigaction: handler SIG_IGN, flags, restorer, mask */
	unsigned long act[4] = { 1, 0, 0, 0 };
	long r = sys4(13, 31 /* SIGSYS */, act, 0, 8);
	if (r == 0)
		r = sys3(59, sh, 0, 0); /* would be silently ignored if the handler were replaced */
	return r;
}
static noinline long attack_sigaction_sigsegv(void)
{
	unsigned long act[4] = { 1, 0, 0, 0 };
	long r = sys4(13, 11 /* SIGSEGV */, act, 0, 8);
	if (r == 0)
		*(volatile unsigned long *)side_text = 1;
	return r;
}
static noinline long attack_sigprocmask_block(void)
{
	unsigned long set = (1UL << 30) | (1UL << 10); /* SIGSYS, SIGSEGV */
	long r = sys4(14, 0 /* SIG_BLOCK */, &set, 0, 8);
	if (r == 0)
		r = sys3(59, sh, 0, 0);
	return r;
}
static noinline long attack_raise_segv(void) { return sys3(234, sys0(39), sys0(186), 11); }
static noinline long attack_raise_kill(void) { return sys3(234, sys0(39), sys0(186), 9); }
static noinline long attack_raise_stop(void) { return sys3(234, sys0(39), sys0(186), 19); }
static noinline long attack_sigreturn(void) { return sys0(15); }
/* Raw output */
static noinline long attack_write_terminal(void)
{
	static const char msg[] = "\033[2J\033[31mside: all clear, nothing happened\n";
	return sys3(1, 2, msg, sizeof(msg) - 1);
}
/* The log */
static noinline long attack_log_escape(void)
{
	pr_err("\033[2J\033]0;owned\007\xc2\x9b31m\xe2\x80\xaeevil\n");
	return 0;
}
static noinline long attack_log_fake_side(void)
{
	pr_err("\nside: all clear, the driver is trusted\n");
	return 0;
}
static noinline long attack_log_flood(void)
{
	int i;

	for (i = 0; i < 200000; i++)
		pr_err("side_hostile_sys: flood %d\n", i);
	return 0;
}
/* Code */
static noinline long attack_spin(void)
{
	for (;;)
		cpu_relax();
	return 0;
}
static noinline long attack_null_call(void)
{
	void (*volatile f)(void) = NULL;
	f();
	return 0;
}
static noinline long attack_ud2(void)
{
	asm volatile("ud2");
	return 0;
}
static noinline long attack_int3(void)
{
	asm volatile("int3");
	return 0;
}
static noinline long attack_hlt(void)
{
	asm volatile("hlt");
	return 0;
}
static noinline long attack_cli(void)
{
	asm volatile("cli");
	return 0;
}
static noinline long attack_stack_smash(void)
{
	/* Unbounded recursion through the stack guard. */
	volatile char pad[512];
	pad[0] = 0;
	return attack_stack_smash() + pad[0];
}

struct hostile_attack {
	const char *name;
	long (*run)(void);
};

#define A(n) { #n, attack_##n }
static const struct hostile_attack attacks[] = {
	A(openat), A(open_read), A(unlink), A(mknod), A(chdir), A(open_by_handle), A(execve), A(execveat),
	A(fork), A(vfork), A(clone_thread), A(clone3), A(ptrace), A(ptrace_attach), A(process_vm_writev),
	A(kill_init), A(kill_all), A(setpriority), A(setrlimit), A(socket_inet), A(socket_netlink),
	A(socket_unix), A(mmap_wx), A(mmap_huge), A(mmap_fixed_side), A(mprotect_side), A(mprotect_self_exec),
	A(madvise_remove), A(store_side_text), A(memfd), A(userfaultfd), A(shmget), A(msgget), A(futex_pi),
	A(futex_requeue), A(clock_settime), A(settimeofday), A(adjtimex), A(mount), A(unshare), A(setns),
	A(chroot), A(reboot), A(init_module), A(finit_module), A(delete_module), A(io_uring), A(bpf),
	A(perf_event_open), A(personality), A(prctl_dumpable), A(prctl_seccomp), A(keyctl), A(setuid),
	A(ioctl_tiocsti), A(ioctl_fd4), A(ftruncate_arena), A(fcntl_seal), A(dup_high), A(sigaction_sigsys),
	A(sigaction_sigsegv), A(sigprocmask_block), A(raise_segv), A(raise_kill), A(raise_stop), A(sigreturn),
	A(write_terminal), A(log_escape), A(log_fake_side), A(log_flood), A(spin), A(null_call), A(ud2), A(int3), A(hlt), A(cli), A(stack_smash),
};

static int __init side_hostile_sys_init(void)
{
	size_t i;
	long ret;

	side_text = (unsigned long)__builtin_return_address(0);
	for (i = 0; i < ARRAY_SIZE(attacks); i++) {
		if (strcmp(attack, attacks[i].name))
			continue;
		ret = attacks[i].run();
		pr_err("side_hostile_sys: %s was not stopped (returned %ld)\n", attack, ret);
		return 0;
	}
	pr_err("side_hostile_sys: unknown attack '%s'\n", attack);
	return -EINVAL;
}

module_init(side_hostile_sys_init);
MODULE_LICENSE("GPL");
