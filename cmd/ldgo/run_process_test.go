package main

import (
	"regexp"
	"strings"
	"testing"
)

func TestRunSecondStart(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	prog := f.prog("execfn", `#include <stdio.h>
#include <sys/auxv.h>
int main(void) { puts((const char *)getauxval(AT_EXECFN)); return 0; }`)
	for _, tc := range []struct {
		env  string
		want string
	}{
		{"FOO=1", bin},
		{"LD_LIBRARY_PATH=/nonexistent/lib:" + f.dir, bin},
		{"LD_BIND_NOW=1", bin},
		{"LD_LIBRARY_PATH=" + f.dir + "::/nonexistent", "/proc/self/exe"}, // the working directory
		{"LD_LIBRARY_PATH=lib", "/proc/self/exe"},
		{"LD_PRELOAD=" + f.path("nothing.so"), "/proc/self/exe"},
		{"LD_DEBUG=statistics", "/proc/self/exe"},
	} {
		got := hosted(t, bin, baseEnv(tc.env), "", prog)
		if got.status != 0 || !strings.HasPrefix(got.stdout, tc.want+"\n") {
			t.Errorf("%s: status %d, stdout %q; want %s first", tc.env, got.status, got.stdout, tc.want)
		}
	}
}

// A GNU C nested function whose address is taken runs a
// trampoline on the stack: gcc marks the program PT_GNU_STACK
// RWE, and the stack must be executable.
// Threads' stacks must be too, those started later and, when a
// library asking for it is opened, those already running.
func TestRunExecutableStack(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	prog := f.prog("nested", `
#include <pthread.h>
#include <stdio.h>
static int apply(int (*f)(int), int x) { return f(x); }
static void *in_thread(void *arg) {
	int base = 30;
	int add(int x) { return x + base; }
	printf("thread: %d\n", apply(add, *(int *)arg));
	return 0;
}
int main(void) {
	int base = 40;
	int add(int x) { return x + base; }
	printf("main: %d\n", apply(add, 2));
	int two = 2;
	pthread_t t;
	pthread_create(&t, 0, in_thread, &two);
	pthread_join(t, 0);
	return 0;
}
`, "-pthread")
	want := native(t, baseEnv(), "", prog)
	if want.stdout != "main: 42\nthread: 32\n" {
		t.Fatalf("native run: %+v", want)
	}
	sameResult(t, "executable stack", want, hosted(t, bin, baseEnv(), "", prog))

	f.lib("libnested.so", `
static int apply(int (*f)(int), int x) { return f(x); }
int nested(int x) {
	int base = 20;
	int add(int y) { return y + base; }
	return apply(add, x);
}
`, "-Wl,-z,execstack")
	opener := f.prog("opener", `
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
static pthread_barrier_t opened;
static int (*nested)(int);
static void *running(void *arg) {
	(void)arg;
	pthread_barrier_wait(&opened);
	printf("running thread: %d\n", nested(2));
	return 0;
}
int main(void) {
	pthread_barrier_init(&opened, 0, 2);
	pthread_t t;
	pthread_create(&t, 0, running, 0);
	void *h = dlopen("`+f.path("libnested.so")+`", RTLD_NOW);
	if (!h) { printf("%s\n", dlerror()); return 1; }
	nested = (int (*)(int))dlsym(h, "nested");
	pthread_barrier_wait(&opened);
	pthread_join(t, 0);
	printf("main: %d\n", nested(1));
	return 0;
}
`, "-pthread", "-ldl", "-Wl,-z,noexecstack")
	want = native(t, baseEnv(), "", opener)
	if want.stdout != "running thread: 22\nmain: 21\n" {
		t.Fatalf("native run: %+v", want)
	}
	sameResult(t, "executable stack after dlopen", want, hosted(t, bin, baseEnv(), "", opener))
}

// Segments are private file mappings: text is shared with every
// process using the file, not copied; nothing is writable and
// executable at once.
func TestRunMappings(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	f.lib("libmapped.so", `
int counter = 1;
static char zeroes[1 << 16];
int work(void) { zeroes[counter] = 1; return counter++; }
`)
	prog := f.prog("maps", `
#include <stdio.h>
int work(void);
int main(void) {
	work();
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	while (fgets(line, sizeof line, f)) fputs(line, stdout);
	return 0;
}
`, "-L.", "-lmapped", "-Wl,-rpath,"+f.dir)
	got := hosted(t, bin, baseEnv(), "", prog)
	if got.status != 0 {
		t.Fatalf("status %d: %s", got.status, got.stderr)
	}
	lib := f.path("libmapped.so")
	var libText, progText int
	for _, line := range strings.Split(strings.TrimSpace(got.stdout), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 5 {
			t.Fatalf("bad maps line %q", line)
		}
		perms := fields[1]
		if strings.Contains(perms, "w") && strings.Contains(perms, "x") {
			t.Errorf("writable and executable: %s", line)
		}
		if !strings.Contains(perms, "x") || len(fields) < 6 {
			continue
		}
		switch fields[5] {
		case lib:
			libText++
		case prog:
			progText++
		}
	}
	if libText != 1 || progText != 1 {
		t.Errorf("want one file-backed text mapping each of %s and %s, got %d and %d:\n%s", lib, prog, libText, progText, got.stdout)
	}
}

// ldgo run --list and --verify answer as ld.so's options do, for
// scripts that call the dynamic linker so.
func TestRunListAndVerify(t *testing.T) {
	bin := buildLdgo(t)
	ldso := "/lib64/ld-linux-x86-64.so.2"
	f := newFixture(t)
	static := f.prog("static", `int main(void) { return 0; }`, "-static")
	text := f.write("notes.txt", "not a program\n")
	for _, path := range []string{"/usr/bin/ls", "/lib/x86_64-linux-gnu/libz.so.1", static, text, f.path("missing")} {
		want := runCmd(t, nil, "", ldso, "--verify", path)
		got := runCmd(t, nil, "", bin, "run", "--verify", path)
		sameResult(t, "--verify "+path, want, got)
	}
	addr := regexp.MustCompile(` \(0x[0-9a-f]+\)`)
	want := runCmd(t, nil, "", ldso, "--list", "/usr/bin/ls")
	got := runCmd(t, nil, "", bin, "run", "--list", "/usr/bin/ls")
	want.stdout, got.stdout = addr.ReplaceAllString(want.stdout, ""), addr.ReplaceAllString(got.stdout, "")
	sameResult(t, "--list /usr/bin/ls", want, got)
}
