package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ldgo's own work runs beside the program's interposers: a preloaded
// malloc, open or constructor that calls back into the dynamic linker
// (dlsym(RTLD_NEXT), as every leak checker and profiler does) must find it
// free, and ldgo must not call the program's interposers for its own
// needs, nor free what they allocated. Every run has a deadline: a run
// that does not end is reported as a deadlock.

const interposeDeadline = 10 * time.Second

// runWithin runs a command as runCmd does, killed at the deadline.
func runWithin(t *testing.T, env []string, stdin, name string, args ...string) (result, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), interposeDeadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	cmd.WaitDelay = time.Second
	r := runCommand(t, cmd)
	if ctx.Err() != nil {
		t.Errorf("%s %s: deadlock: still running after %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), interposeDeadline, r.stdout, r.stderr)
		return r, false
	}
	return r, true
}

// partialMalloc is the interposer of leak checkers and profilers: malloc,
// free, calloc and realloc of its own that count and forward to the next
// definition, found with dlsym(RTLD_NEXT). dlsym may allocate, so calls
// made while it runs are served from a static buffer, as real ones do.
const partialMalloc = `
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void *(*next_malloc)(size_t);
static void (*next_free)(void *);
static void *(*next_calloc)(size_t, size_t);
static void *(*next_realloc)(void *, size_t);
static __thread int finding __attribute__((tls_model("initial-exec")));
static long calls;

static char boot[1 << 16] __attribute__((aligned(16)));
static size_t boot_used;

static void *boot_alloc(size_t n) {
	n = (n + 15) & ~(size_t)15;
	size_t at = __atomic_fetch_add(&boot_used, n, __ATOMIC_RELAXED);
	return at + n <= sizeof boot ? boot + at : NULL;
}

static int from_boot(const void *p) { return (const char *)p >= boot && (const char *)p < boot + sizeof boot; }

static void find_next(void) {
	finding++;
	next_malloc = dlsym(RTLD_NEXT, "malloc");
	next_free = dlsym(RTLD_NEXT, "free");
	next_calloc = dlsym(RTLD_NEXT, "calloc");
	next_realloc = dlsym(RTLD_NEXT, "realloc");
	finding--;
}

#define COUNT __atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED)

void *malloc(size_t n) {
	if (finding)
		return boot_alloc(n);
	if (!next_realloc)
		find_next();
	COUNT;
	return next_malloc(n);
}

void free(void *p) {
	if (!p || from_boot(p))
		return;
	if (!next_realloc)
		find_next();
	COUNT;
	next_free(p);
}

void *calloc(size_t n, size_t size) {
	if (finding) {
		void *p = boot_alloc(n * size);
		if (p)
			memset(p, 0, n * size);
		return p;
	}
	if (!next_realloc)
		find_next();
	COUNT;
	return next_calloc(n, size);
}

void *realloc(void *p, size_t n) {
	if (finding || from_boot(p)) {
		void *q = finding ? boot_alloc(n) : malloc(n);
		if (q && p)
			memcpy(q, p, n); // the bootstrap buffer holds n bytes past p
		return q;
	}
	if (!next_realloc)
		find_next();
	COUNT;
	return next_realloc(p, n);
}

__attribute__((destructor)) static void report(void) {
	char line[64];
	int n = snprintf(line, sizeof line, "pmalloc: %s\n", calls > 0 ? "calls counted" : "no calls");
	write(2, line, n);
}
`

// forwardingOpen interposes open and openat the same way.
const forwardingOpen = `
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <unistd.h>

static long opens;

static int mode_of(int flags, va_list ap) { return (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, int) : 0; }

#define OPEN(name) \
	static int (*next_##name)(const char *, int, ...); \
	int name(const char *path, int flags, ...) { \
		va_list ap; \
		va_start(ap, flags); \
		int mode = mode_of(flags, ap); \
		va_end(ap); \
		if (!next_##name) \
			next_##name = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, #name); \
		__atomic_fetch_add(&opens, 1, __ATOMIC_RELAXED); \
		return next_##name(path, flags, mode); \
	}

#define OPENAT(name) \
	static int (*next_##name)(int, const char *, int, ...); \
	int name(int dir, const char *path, int flags, ...) { \
		va_list ap; \
		va_start(ap, flags); \
		int mode = mode_of(flags, ap); \
		va_end(ap); \
		if (!next_##name) \
			next_##name = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, #name); \
		__atomic_fetch_add(&opens, 1, __ATOMIC_RELAXED); \
		return next_##name(dir, path, flags, mode); \
	}

OPEN(open)
OPEN(open64)
OPENAT(openat)
OPENAT(openat64)

__attribute__((destructor)) static void report(void) {
	const char *line = opens > 0 ? "popen: opens counted\n" : "popen: no opens\n";
	size_t n = 0;
	while (line[n])
		n++;
	write(2, line, n);
}
`

// constructorDlsym asks the dynamic linker from its constructor, before
// the program's own initializers, and prints through what it found.
const constructorDlsym = `
#define _GNU_SOURCE
#include <dlfcn.h>
__attribute__((constructor)) static void greet(void) {
	int (*say)(const char *) = (int (*)(const char *))dlsym(RTLD_DEFAULT, "puts");
	if (say)
		say("pctor: puts found by dlsym");
}
`

// interposers builds the preloadable libraries.
func interposers(t *testing.T) *fixture {
	f := newFixture(t)
	f.lib("libpmalloc.so", partialMalloc)
	f.lib("libpopen.so", forwardingOpen)
	f.lib("libpctor.so", constructorDlsym)
	return f
}

// interposed is a program run with interposers preloaded.
type interposed struct {
	name  string
	argv  []string
	stdin string
	// want is a line the native run must print (on stdout or stderr),
	// so that the fixture is known to take effect.
	want string
}

// compareInterposed runs p natively with LD_PRELOAD=preload and under
// ldgo, with LD_PRELOAD and with --preload, each with a cold and a warm
// bind cache, and compares every run with the native one.
func compareInterposed(t *testing.T, bin, preload string, p interposed) {
	t.Helper()
	if _, err := os.Stat(p.argv[0]); err != nil {
		t.Skipf("%s not installed", p.argv[0])
	}
	want, ok := runWithin(t, baseEnv("LD_PRELOAD="+preload), p.stdin, p.argv[0], p.argv[1:]...)
	if !ok {
		t.Fatal("the native run did not end")
	}
	if !strings.Contains(want.stdout+want.stderr, p.want) {
		t.Fatalf("native run does not show %q: %+v", p.want, want)
	}
	for _, how := range []string{"LD_PRELOAD", "--preload"} {
		cache := t.TempDir()
		env := baseEnv("XDG_CACHE_HOME=" + cache)
		args := append([]string{"run"}, p.argv...)
		if how == "LD_PRELOAD" {
			env = append(env, "LD_PRELOAD="+preload)
		} else {
			args = append([]string{"run", "--preload", preload}, p.argv...)
		}
		for _, cacheState := range []string{"cold", "warm"} {
			what := p.name + " with " + how + ", " + cacheState + " bind cache"
			if cacheState == "warm" && !hasEntries(t, cache) {
				t.Errorf("%s: the cold run left no bind cache entry in %s", what, cache)
			}
			got, ok := runWithin(t, env, p.stdin, bin, args...)
			if !ok {
				return
			}
			sameResult(t, what, want, got)
		}
	}
}

// compareEachInterposed runs compareInterposed for each program, as a
// subtest.
func compareEachInterposed(t *testing.T, bin, preload string, programs []interposed) {
	t.Helper()
	for _, p := range programs {
		t.Run(p.name, func(t *testing.T) { compareInterposed(t, bin, preload, p) })
	}
}

// hasEntries reports whether dir holds a file: a bind cache entry.
func hasEntries(t *testing.T, dir string) bool {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n > 0
}

// A partial malloc interposer deadlocked ldgo's start: its first call,
// made from inside libc by ldgo's own listing of its threads, asked
// dlsym; the dl* server, a thread created by C entering Go for the first
// time, called it again and waited for the lock the first caller held.
func TestRunPartialMallocInterposer(t *testing.T) {
	bin := buildLdgo(t)
	f := interposers(t)
	lib := f.path("libpmalloc.so")
	compareEachInterposed(t, bin, lib, []interposed{
		// true allocates nothing natively: nothing ldgo does may reach
		// the interposer either.
		{name: "true", argv: []string{"/usr/bin/true"}, want: "pmalloc: no calls"},
		// ls closes standard error before the destructor runs.
		{name: "ls", argv: []string{"/usr/bin/ls", "/"}, want: "usr\n"},
		{name: "sort", argv: []string{"/usr/bin/sort"}, stdin: "pear\napple\nfig\n", want: "apple\nfig\npear\n"},
		{name: "python3", argv: []string{"/usr/bin/python3", "-c", "pass"}, want: "pmalloc: calls counted"},
	})
}

func TestRunOpenInterposer(t *testing.T) {
	bin := buildLdgo(t)
	f := interposers(t)
	lib := f.path("libpopen.so")
	compareEachInterposed(t, bin, lib, []interposed{
		// ls closes standard error before the destructor runs.
		{name: "ls", argv: []string{"/usr/bin/ls", "/"}, want: "usr\n"},
		{name: "cat", argv: []string{"/usr/bin/cat", lib}, want: "popen: opens counted"},
		{name: "python3", argv: []string{"/usr/bin/python3", "-c", "open('/etc/hostname').close()"}, want: "popen: opens counted"},
	})
}

// A constructor calling dlsym, alone and after a malloc interposer that
// calls it too.
func TestRunConstructorDlsym(t *testing.T) {
	bin := buildLdgo(t)
	f := interposers(t)
	ctor := f.path("libpctor.so")
	both := f.path("libpmalloc.so") + ":" + ctor
	for _, c := range []struct{ name, preload string }{{"alone", ctor}, {"after a malloc interposer", both}} {
		t.Run(c.name, func(t *testing.T) {
			compareEachInterposed(t, bin, c.preload, []interposed{
				{name: "true", argv: []string{"/usr/bin/true"}, want: "pctor: puts found by dlsym"},
				{name: "ls", argv: []string{"/usr/bin/ls", "/"}, want: "pctor: puts found by dlsym"},
			})
		})
	}
}

// wholeMalloc replaces the allocator outright, forwarding nothing (as a
// program linked with its own allocator does): a pointer it did not
// allocate, given to its free or realloc, ends the program.
const wholeMalloc = `
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static char *arena, *next, *end;

static void *bump(size_t n, size_t align) {
	if (align < 16)
		align = 16;
	if (!__atomic_load_n(&arena, __ATOMIC_ACQUIRE)) {
		size_t size = (size_t)1 << 32;
		char *a = mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		char *none = NULL;
		if (__atomic_compare_exchange_n(&arena, &none, a, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			end = a + size;
			__atomic_store_n(&next, a, __ATOMIC_RELEASE);
		} else
			munmap(a, size);
	}
	for (;;) {
		char *old = __atomic_load_n(&next, __ATOMIC_ACQUIRE);
		if (!old)
			continue;
		char *p = (char *)(((uintptr_t)old + 16 + align - 1) & ~(uintptr_t)(align - 1));
		if (p + n > end)
			return NULL;
		if (__atomic_compare_exchange_n(&next, &old, p + n, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
			((size_t *)p)[-1] = n;
			return p;
		}
	}
}

static void check(void *p) {
	if (p && !((char *)p >= arena && (char *)p < end)) {
		static const char msg[] = "wmalloc: not my pointer\n";
		write(2, msg, sizeof msg - 1);
		_exit(99);
	}
}

void *malloc(size_t n) { return bump(n, 16); }
void free(void *p) { check(p); }
void *calloc(size_t n, size_t size) { return bump(n * size, 16); } // fresh pages are zero
void *realloc(void *p, size_t n) {
	check(p);
	void *q = bump(n, 16);
	if (p && q) {
		size_t old = ((size_t *)p)[-1];
		memcpy(q, p, old < n ? old : n);
	}
	return q;
}
void *memalign(size_t align, size_t n) { return bump(n, align); }
void *aligned_alloc(size_t align, size_t n) { return bump(n, align); }
int posix_memalign(void **out, size_t align, size_t n) { return (*out = bump(n, align)) ? 0 : 12; }
void *valloc(size_t n) { return bump(n, 4096); }
void *pvalloc(size_t n) { return bump((n + 4095) & ~(size_t)4095, 4096); }
size_t malloc_usable_size(void *p) { return p ? ((size_t *)p)[-1] : 0; }
`

// dlerrors makes dlopen, dlsym and dlinfo fail, and reads the messages.
const dlerrors = `
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
int main(void) {
	void *self = dlopen(NULL, RTLD_NOW);
	long x;
	for (int i = 0; i < 3; i++) {
		int r = dlinfo(self, 12345, &x);
		const char *e = dlerror();
		printf("dlinfo %d: %s\n", r, e ? e : "no error");
	}
	printf("dlopen: %s\n", dlopen("libnonexistent.so", RTLD_NOW) ? "opened" : dlerror());
	printf("dlsym: %s\n", dlsym(self, "no_such_symbol") ? "found" : "not found");
	printf("dlerror again: %s\n", dlerror() ? "set" : "clear");
	return 0;
}
`

// Messages ldgo made with strdup (libc's, whose malloc is the program's)
// were freed with glibc's free: the program's allocator must see only
// what it allocated.
func TestRunWholeMallocReplacement(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	f.lib("libwmalloc.so", wholeMalloc)
	lib := f.path("libwmalloc.so")
	prog := f.prog("dlerrors", dlerrors)
	compareEachInterposed(t, bin, lib, []interposed{
		{name: "dl errors", argv: []string{prog}, want: "dlinfo -1: unsupported dlinfo request\n"},
		{name: "ls", argv: []string{"/usr/bin/ls", "/"}, want: "usr\n"},
		{name: "python3", argv: []string{"/usr/bin/python3", "-c", "import json; print(json.dumps([1]))"}, want: "[1]\n"},
	})
}

// The engine calls the IFUNC resolvers of a library dlopen loads; one
// that asks dlsym, as glibc lets it (its lock is recursive), must not
// wait for the lock its own dlopen holds.
func TestRunDlsymFromIFuncResolver(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	f.lib("libpick.so", `
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <string.h>
static size_t twice(const char *s) { return 2 * strlen(s); }
static size_t once(const char *s) { return strlen(s); }
static size_t (*pick(void))(const char *) { return dlsym(RTLD_DEFAULT, "strlen") ? twice : once; }
size_t measure(const char *s) __attribute__((ifunc("pick")));
`)
	prog := f.prog("pick", `
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
	for (int i = 1; i < argc; i++) {
		void *h = dlopen(argv[i], RTLD_NOW);
		if (!h) {
			printf("dlopen: %s\n", dlerror());
			return 1;
		}
		size_t (*measure)(const char *) = (size_t (*)(const char *))dlsym(h, "measure");
		printf("measure(abc) = %zu\n", measure("abc"));
	}
	return 0;
}
`)
	want, ok := runWithin(t, baseEnv(), "", prog, f.path("libpick.so"))
	if !ok || want.stdout != "measure(abc) = 6\n" {
		t.Fatalf("native run: %+v", want)
	}
	for _, env := range [][]string{baseEnv(), baseEnv("LD_BIND_NOW=1")} {
		if got, ok := runWithin(t, env, "", bin, "run", prog, f.path("libpick.so")); ok {
			sameResult(t, "dlsym from the resolver of a dlopened library", want, got)
		}
	}
}

// At exit glibc releases its lock before calling the finalizers, so that
// what they wait for may use the dynamic linker: here a destructor joins
// a thread that calls dlsym.
func TestRunFinalizerWaitsForDlsym(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	prog := f.prog("finijoin", `
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
static pthread_t th;
static int go;
static void *late(void *arg) {
	(void)arg;
	while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
		;
	return dlsym(RTLD_DEFAULT, "puts");
}
__attribute__((destructor)) static void stop(void) {
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	void *found;
	pthread_join(th, &found);
	printf("destructor joined: %s\n", found ? "puts found" : "no puts");
}
int main(void) {
	pthread_create(&th, 0, late, 0);
	puts("main returns");
	return 0;
}
`, "-pthread")
	want, ok := runWithin(t, baseEnv(), "", prog)
	if !ok || want.stdout != "main returns\ndestructor joined: puts found\n" {
		t.Fatalf("native run: %+v", want)
	}
	if got, ok := runWithin(t, baseEnv(), "", bin, "run", prog); ok {
		sameResult(t, "a destructor waiting for dlsym", want, got)
	}
}

// libc calls malloc through its PLT: a program's own malloc, or a
// preloaded one, serves libc's calls too (strdup, fopen), as with
// glibc's ld.so.
func TestRunInterposeLibcFunctions(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	prog := f.prog("ownmalloc", `
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static char pool[1 << 20];
static size_t used;
static int count;
void *malloc(size_t n) { count++; n = (n + 15) & ~15UL; if (used + n > sizeof pool) return 0; void *p = pool + used; used += n; return p; }
void free(void *p) { (void)p; }
void *calloc(size_t a, size_t b) { void *p = malloc(a * b); if (p) memset(p, 0, a * b); return p; }
void *realloc(void *o, size_t n) { void *p = malloc(n); if (p && o) memcpy(p, o, n); return p; }
int main(void) {
	int before = count;
	char *s = strdup("copied");
	int dup = count - before;
	FILE *f = fopen("/proc/self/status", "r");
	fclose(f);
	printf("%s: strdup called malloc %d times; fopen too: %s\n", s, dup, count > before + 1 ? "yes" : "no");
	return 0;
}
`)
	sameResult(t, "program-defined malloc", native(t, baseEnv(), "", prog), hosted(t, bin, baseEnv(), "", prog))

	f.lib("libcount.so", `
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>
extern void *__libc_malloc(size_t);
static int count;
void *malloc(size_t n) { count++; return __libc_malloc(n); }
__attribute__((destructor)) static void done(void) {
	char b[64];
	int k = snprintf(b, sizeof b, "preloaded malloc served libc: %s\n", count > 0 ? "yes" : "no");
	write(2, b, k);
}
`)
	user := f.prog("user", `
#include <stdio.h>
#include <string.h>
int main(void) { puts(strdup("hello")); return 0; }
`)
	lib := f.path("libcount.so")
	want := native(t, baseEnv("LD_PRELOAD="+lib), "", user)
	if !strings.Contains(want.stderr, "yes") {
		t.Fatalf("native run: the preloaded malloc was not used: %+v", want)
	}
	sameResult(t, "LD_PRELOAD malloc", want, hosted(t, bin, baseEnv("LD_PRELOAD="+lib), "", user))
	got := runCmd(t, baseEnv(), "", bin, "run", "--preload", lib, user)
	sameResult(t, "--preload malloc", want, got)
}
