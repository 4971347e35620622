package main

import (
	"strings"
	"testing"
)

const atexitLibB = `
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static void say(const char *s) { write(1, s, strlen(s)); }
void b_init(void) { say("b: DT_INIT\n"); }
void b_fini(void) { say("b: DT_FINI\n"); }
__attribute__((constructor(300))) static void c300(void) { say("b: constructor 300\n"); }
__attribute__((constructor(101))) static void c101(void) { say("b: constructor 101\n"); }
__attribute__((constructor)) static void c(void) { say("b: constructor\n"); }
__attribute__((destructor(300))) static void d300(void) { say("b: destructor 300\n"); }
__attribute__((destructor(101))) static void d101(void) { say("b: destructor 101\n"); }
__attribute__((destructor)) static void d(void) { say("b: destructor\n"); }
static void from_ctor(void) { say("b: atexit handler registered by a constructor\n"); }
__attribute__((constructor(200))) static void reg(void) { atexit(from_ctor); say("b: constructor 200 registers an atexit handler\n"); }
static void from_call(void) { say("b: atexit handler registered from main\n"); }
void b_register(void) { atexit(from_call); }
void b_exit(int status) { say("b: exit\n"); exit(status); }
`

const atexitLibA = `
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static void say(const char *s) { write(1, s, strlen(s)); }
void b_register(void);
void a_init(void) { say("a: DT_INIT\n"); }
void a_fini(void) { say("a: DT_FINI\n"); }
__attribute__((constructor(150))) static void c150(void) { say("a: constructor 150\n"); }
__attribute__((constructor)) static void c(void) { say("a: constructor\n"); }
__attribute__((destructor(150))) static void d150(void) { say("a: destructor 150\n"); }
__attribute__((destructor)) static void d(void) { say("a: destructor\n"); }
static void from_ctor(void) { say("a: atexit handler registered by a constructor\n"); }
__attribute__((constructor(120))) static void reg(void) { atexit(from_ctor); say("a: constructor 120 registers an atexit handler\n"); }
void a_work(void) { say("a: work\n"); b_register(); }
`

const atexitProg = `
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static void say(const char *s) { write(1, s, strlen(s)); }
void a_work(void);
void b_exit(int);
void prog_init(void) { say("prog: DT_INIT\n"); }
void prog_fini(void) { say("prog: DT_FINI\n"); }
static void pre(int argc, char **argv, char **envp) { say("prog: preinit_array\n"); }
__attribute__((section(".preinit_array"), used)) static void (*pre_p)(int, char **, char **) = pre;
static void init_entry(int argc, char **argv, char **envp) {
	char buf[64];
	snprintf(buf, sizeof buf, "prog: init_array entry, argc %d, argv[1] %s\n", argc, argc > 1 ? argv[1] : "-");
	say(buf);
}
__attribute__((section(".init_array"), used)) static void (*init_p)(int, char **, char **) = init_entry;
static void fini_entry(void) { say("prog: fini_array entry\n"); }
__attribute__((section(".fini_array"), used)) static void (*fini_p)(void) = fini_entry;
__attribute__((constructor(500))) static void c500(void) { say("prog: constructor 500\n"); }
__attribute__((constructor(102))) static void c102(void) { say("prog: constructor 102\n"); }
__attribute__((constructor)) static void c(void) { say("prog: constructor\n"); }
__attribute__((destructor(500))) static void d500(void) { say("prog: destructor 500\n"); }
__attribute__((destructor(102))) static void d102(void) { say("prog: destructor 102\n"); }
__attribute__((destructor)) static void d(void) { say("prog: destructor\n"); }
static void first(void) { say("prog: first atexit handler\n"); }
static void second(void) { say("prog: second atexit handler\n"); }
int main(int argc, char **argv) {
	atexit(first);
	a_work();
	atexit(second);
	say("prog: main\n");
#ifdef EXIT_FROM_LIBRARY
	b_exit(3);
#endif
	return 4;
}
`

// TestRunAtexitOrder checks the order of everything that runs before and
// after main: DT_INIT, init and fini arrays with constructor and
// destructor priorities, in the program and two libraries, and atexit
// handlers registered by the program and by libraries, from a constructor
// and from a call. Output is written with write(2), so that the order is
// the order of the calls.
func TestRunAtexitOrder(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	for _, link := range abiLinks {
		dir := link.name
		f.lib(dir+"/libb.so", atexitLibB, append([]string{"-Wl,-init,b_init", "-Wl,-fini,b_fini"}, link.flags...)...)
		f.lib(dir+"/liba.so", atexitLibA, append([]string{"-Wl,-init,a_init", "-Wl,-fini,a_fini", "-L" + dir, "-lb", "-Wl,-rpath," + f.path(dir)}, link.flags...)...)
		for _, exit := range []struct {
			name  string
			flags []string
		}{
			{"return", nil},
			{"exit", []string{"-DEXIT_FROM_LIBRARY"}},
		} {
			what := link.name + "/" + exit.name
			flags := append([]string{"-Wl,-init,prog_init", "-Wl,-fini,prog_fini", "-L" + dir, "-la", "-lb", "-Wl,-rpath," + f.path(dir)}, link.flags...)
			prog := f.prog(dir+"/"+exit.name, atexitProg, append(flags, exit.flags...)...)
			want := abiCompare(t, bin, what, prog, "arg")
			if !strings.Contains(want.stdout, "prog: main\n") || !strings.Contains(want.stdout, "b: DT_FINI\n") {
				t.Fatalf("%s: the fixture did not run natively: %+v", what, want)
			}
		}
	}
}

const signalProg = `
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void say(const char *s) { write(2, s, strlen(s)); }

static void reraise(int sig) {
	say(sig == SIGSEGV ? "handler: SIGSEGV, raising it again with SIG_DFL\n" : "handler: unexpected signal\n");
	signal(sig, SIG_DFL);
	raise(sig);
}

// For a real fault, returning runs the faulting instruction again, now
// with the default action.
static void fault(int sig, siginfo_t *si, void *uc) {
	say(si->si_addr == (void *)16 && si->si_code == SEGV_MAPERR ? "handler: fault at 16\n" : "handler: other fault\n");
	signal(sig, SIG_DFL);
}

static volatile sig_atomic_t got_usr1;
static void usr1(int sig) { got_usr1 = gettid() == getpid() ? 1 : 2; }

int main(int argc, char **argv) {
	const char *how = argc > 1 ? argv[1] : "";
	// A signal that goes astray ends the wait for it.
	alarm(10);
	printf("start %s\n", how);
	if (!strcmp(how, "exit")) exit(atoi(argv[2]));
	if (!strcmp(how, "return")) return atoi(argv[2]);
	if (!strcmp(how, "_exit")) _exit(atoi(argv[2]));
	if (!strcmp(how, "abort")) {
		say("aborting\n");
		abort();
	}
	if (!strcmp(how, "raise-segv")) {
		fflush(stdout);
		signal(SIGSEGV, reraise);
		raise(SIGSEGV);
		say("still alive after SIGSEGV\n");
		return 1;
	}
	if (!strcmp(how, "fault")) {
		fflush(stdout);
		struct sigaction sa = {0};
		sa.sa_sigaction = fault;
		sa.sa_flags = SA_SIGINFO;
		sigaction(SIGSEGV, &sa, 0);
		*(volatile int *)16 = 1;
		say("still alive after the fault\n");
		return 1;
	}
	if (!strcmp(how, "kill-term")) {
		fflush(stdout);
		kill(getpid(), SIGTERM);
		pause();
		return 1;
	}
	// A signal sent to the process is handled by the program's thread,
	// the process's main thread.
	if (!strcmp(how, "kill-usr1")) {
		sigset_t usr, old;
		sigemptyset(&usr);
		sigaddset(&usr, SIGUSR1);
		signal(SIGUSR1, usr1);
		sigprocmask(SIG_BLOCK, &usr, &old);
		kill(getpid(), SIGUSR1);
		while (!got_usr1) sigsuspend(&old);
		printf("SIGUSR1 handled on the %s thread\n", got_usr1 == 1 ? "main" : "another");
		return 0;
	}
	// What the program starts with: blocked and ignored signals.
	if (!strcmp(how, "state")) {
		sigset_t set;
		sigprocmask(SIG_BLOCK, 0, &set);
		for (int s = 1; s < NSIG; s++) {
			struct sigaction sa;
			if (sigismember(&set, s) == 1) printf("blocked %d\n", s);
			if (sigaction(s, 0, &sa) == 0 && sa.sa_handler != SIG_DFL) printf("disposition of %d not default\n", s);
		}
		stack_t ss;
		sigaltstack(0, &ss);
		printf("alternate stack %s\n", ss.ss_flags & SS_DISABLE ? "disabled" : "enabled");
		return 0;
	}
	say("unknown case\n");
	return 99;
}
`

// TestRunSignalsAndStatus checks how programs end: exit statuses by
// exit, _exit and return, and deaths by signal, raised, sent or from a
// fault, with and without a handler, and the signal state a program
// starts with.
func TestRunSignalsAndStatus(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	prog := f.prog("signals", signalProg)
	cases := [][]string{{"state"}}
	for _, n := range []string{"0", "1", "2", "42", "127", "128", "200", "255", "256"} {
		cases = append(cases, []string{"exit", n}, []string{"return", n})
	}
	cases = append(cases, []string{"_exit", "77"}, []string{"abort"}, []string{"raise-segv"}, []string{"fault"}, []string{"kill-term"}, []string{"kill-usr1"})
	for _, args := range cases {
		want := abiCompare(t, bin, strings.Join(args, " "), prog, args...)
		if strings.Contains(want.stderr, "unknown case") {
			t.Errorf("%s: the fixture does not know this case", strings.Join(args, " "))
		}
	}
}
