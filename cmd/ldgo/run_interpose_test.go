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
