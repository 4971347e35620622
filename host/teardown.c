// Leaving the teardown of this process's address space to another
// process, so that whoever waits for this one (a build, gcc's collect2)
// goes on as soon as its work is done. A link editor ends with hundreds
// of megabytes mapped, and the kernel frees them all before the exit is
// reported: tens of milliseconds of a large link. mold forks for it.
//
// The holder is a process sharing this address space (CLONE_VM, not a
// thread of ours): while it lives, this process's exit drops only a
// reference to the address space, and the holder, which waits for that
// exit, frees it when it exits in turn.
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "host.h"

enum { holder_stack_size = 64 << 10 };

// The holder's two pipes: it waits for EOF on hold, which this process
// holds open until it exits; it closes ready once it holds no other file.
struct holder_pipes {
	int hold, ready;
};

// close_all_but closes every file but a and b (a < b).
static void close_all_but(int a, int b) {
	if (a > 0)
		syscall(SYS_close_range, 0u, (unsigned)a - 1, 0u);
	if (b > a + 1)
		syscall(SYS_close_range, (unsigned)a + 1, (unsigned)b - 1, 0u);
	syscall(SYS_close_range, (unsigned)b + 1, ~0u, 0u);
}

// holder runs on its own stack, outside the Go runtime, with every
// signal blocked.
static int holder(void *arg) {
	struct holder_pipes *p = arg;
	int hold = p->hold, ready = p->ready;
	// Hold nothing but the pipe: not this process's output files, not
	// the pipes its parent reads to their end.
	if (hold < ready)
		close_all_but(hold, ready);
	else
		close_all_but(ready, hold);
	close(ready);
	char c;
	while (read(hold, &c, 1) != 0) {
	}
	syscall(SYS_exit, 0);
	return 0;
}

// ldgo_leave_teardown starts the holder and returns its process id, or
// -1. It returns once the holder holds no file of this process's.
int ldgo_leave_teardown(void) {
	int hold[2], ready[2];
	if (pipe2(hold, O_CLOEXEC) != 0)
		return -1;
	if (pipe2(ready, O_CLOEXEC) != 0) {
		close(hold[0]);
		close(hold[1]);
		return -1;
	}
	static struct holder_pipes pipes;
	pipes.hold = hold[0];
	pipes.ready = ready[1];
	char *stack = malloc(holder_stack_size);
	pid_t pid = -1;
	if (stack != NULL) {
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		pid = clone(holder, stack + holder_stack_size, CLONE_VM | SIGCHLD, &pipes);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	close(hold[0]);
	close(ready[1]);
	if (pid < 0) {
		close(hold[1]);
		close(ready[0]);
		free(stack);
		return -1;
	}
	char c;
	while (read(ready[0], &c, 1) < 0) {
	}
	close(ready[0]);
	// hold[1] stays open until this process exits.
	return pid;
}
