package main

import (
	"context"
	"flag"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

var raceRuns = flag.Int("race-runs", 100, "how many times TestRunFirstCallRace repeats the hosted run")

const (
	raceFuncs   = 500 // functions in each of the two libraries
	raceThreads = 16
	raceTimeout = 60 * time.Second // a hosted run taking longer is a hang
)

// raceLib is a library of n functions name_N, each a distinct function of x.
func raceLib(name string, mul, add int) string {
	var b strings.Builder
	for n := 0; n < raceFuncs; n++ {
		fmt.Fprintf(&b, "int %s_%d(int x) { return x * %d + %d; }\n", name, n, n*mul+1, n*add+7)
	}
	return b.String()
}

// raceProg calls every fa_ and fb_ function from 16 threads at once, each
// thread in its own order, twice, and calls a few libc functions for the
// first time from all threads at once. The sums do not depend on the
// scheduling.
func raceProg() string {
	var b strings.Builder
	b.WriteString(`#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
`)
	for n := 0; n < raceFuncs; n++ {
		fmt.Fprintf(&b, "int fa_%d(int);\nint fb_%d(int);\n", n, n)
	}
	// Direct calls, through the program's PLT: a table of the functions'
	// addresses would bypass it.
	b.WriteString("static int call(int i, int x) {\n\tswitch (i) {\n")
	for n := 0; n < raceFuncs; n++ {
		fmt.Fprintf(&b, "\tcase %d: return fa_%d(x);\n\tcase %d: return fb_%d(x);\n", 2*n, n, 2*n+1, n)
	}
	b.WriteString("\t}\n\treturn -1;\n}\n")
	fmt.Fprintf(&b, `
#define NTHREADS %d
#define NFUNCS %d
static pthread_barrier_t barrier;
/* Strides prime to NFUNCS, so that each thread visits every function. */
static const int strides[NTHREADS] = {1, 3, 7, 9, 11, 13, 17, 19, 21, 23, 27, 29, 31, 33, 37, 39};
static long sums[NTHREADS];
static char notes[NTHREADS][64];

static int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

static void *worker(void *arg) {
	int k = (int)(long)arg;
	pthread_barrier_wait(&barrier);
	/* First calls of libc functions, from every thread at once. */
	char buf[32];
	snprintf(buf, sizeof buf, "%%d-%%x", k * 1000 + 17, k);
	char *end;
	long base = strtol(buf, &end, 10);
	unsigned long hex = strtoul(end + 1, NULL, 16);
	int v[4] = {k %% 3, k, -k, 7};
	qsort(v, 4, sizeof v[0], cmp);
	const char *dash = memchr(buf, '-', strlen(buf));
	int start = (k * 61) %% NFUNCS;
	long sum = 0;
	for (int round = 0; round < 2; round++) {
		/* Forwards in the first round, backwards in the second. */
		int step = round == 0 ? strides[k] : NFUNCS - strides[k];
		for (int j = 0; j < NFUNCS; j++) {
			int i = (start + j * step) %% NFUNCS;
			sum += call(i, (int)(base %% 1000) + round * 3 + j %% 7);
		}
	}
	sums[k] = sum;
	snprintf(notes[k], sizeof notes[k], "%%s %%ld %%lu [%%d %%d %%d %%d] %%ld", buf, base, hex, v[0], v[1], v[2], v[3], (long)(dash - buf));
	return NULL;
}

int main(void) {
	pthread_t th[NTHREADS];
	pthread_barrier_init(&barrier, NULL, NTHREADS);
	for (long k = 0; k < NTHREADS; k++)
		if (pthread_create(&th[k], NULL, worker, (void *)k) != 0) {
			fprintf(stderr, "pthread_create failed\n");
			return 1;
		}
	long total = 0;
	for (int k = 0; k < NTHREADS; k++) {
		pthread_join(th[k], NULL);
		printf("thread %%2d: start %%3d stride %%2d sum %%ld (%%s)\n", k, (k * 61) %% NFUNCS, strides[k], sums[k], notes[k]);
		total += sums[k];
	}
	printf("total %%ld\n", total);
	fprintf(stderr, "done\n");
	return (int)(total & 63);
}
`, raceThreads, 2*raceFuncs)
	return b.String()
}

// raceHosted is hosted with a time limit, so that a hang fails the test
// instead of stalling it.
func raceHosted(t *testing.T, bin string, env []string, prog string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), raceTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "run", prog)
	cmd.Env = env
	r := runCommand(t, cmd)
	if ctx.Err() != nil {
		t.Fatalf("ldgo run %s: still running after %v (hang), killed\nstdout:\n%s\nstderr:\n%s", prog, raceTimeout, r.stdout, r.stderr)
	}
	return r
}

// TestRunFirstCallRace has many threads make the first calls through
// many PLT slots at once: each slot must be resolved once, to the right
// function, whichever thread gets there first, and the others must see a
// complete binding.
func TestRunFirstCallRace(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	f.lib("libracea.so", raceLib("fa", 3, 5))
	f.lib("libraceb.so", raceLib("fb", 7, 11))
	src := raceProg()
	link := []string{"-L.", "-lracea", "-lraceb", "-pthread", "-Wl,-rpath," + f.dir}
	prog := f.prog("race", src, link...)
	env := baseEnv()

	want := native(t, env, "", prog)
	if want.stderr != "done\n" || strings.Count(want.stdout, "\n") != raceThreads+1 || !strings.Contains(want.stdout, "total ") {
		t.Fatalf("unexpected native result: %+v", want)
	}
	sameResult(t, "lazy binding", want, raceHosted(t, bin, env, prog))

	t.Run("Trace", func(t *testing.T) {
		traced := raceHosted(t, bin, baseEnv("LDGO_DEBUG=lazy"), prog)
		if traced.stdout != want.stdout || traced.status != want.status {
			t.Errorf("LDGO_DEBUG=lazy changed the result\nnative: status %d\n%s\ntraced: status %d\n%s", want.status, want.stdout, traced.status, traced.stdout)
		}
		firsts := map[string]int{}
		defs := map[string]string{}
		for _, m := range lazyLine.FindAllStringSubmatch(traced.stderr, -1) {
			if m[1] == prog {
				firsts[m[2]]++
				defs[m[2]] = m[3]
			}
		}
		for sym, n := range firsts {
			if n != 1 {
				t.Errorf("%s: PLT slot of %s resolved %d times, want once", prog, sym, n)
			}
		}
		missing := 0
		for _, lib := range []struct{ prefix, file string }{{"fa", "/libracea.so"}, {"fb", "/libraceb.so"}} {
			for n := 0; n < raceFuncs; n++ {
				sym := fmt.Sprintf("%s_%d", lib.prefix, n)
				if firsts[sym] == 0 {
					missing++
					if missing <= 5 {
						t.Errorf("%s: no lazy line for %s", prog, sym)
					}
				} else if !strings.HasSuffix(defs[sym], lib.file) {
					t.Errorf("%s: %s bound to %s, want %s", prog, sym, defs[sym], lib.file)
				}
			}
		}
		if missing > 0 {
			t.Errorf("%d of the %d fa_/fb_ slots have no lazy line", missing, 2*raceFuncs)
		}
		for _, sym := range []string{"pthread_barrier_wait", "snprintf", "strtol", "strtoul", "qsort", "memchr", "strlen"} {
			if firsts[sym] != 1 {
				t.Errorf("%s: %s resolved %d times, want once", prog, sym, firsts[sym])
			}
		}
		if t.Failed() {
			t.Logf("LDGO_DEBUG=lazy stderr:\n%s", traced.stderr)
		}
	})

	t.Run("Repeat", func(t *testing.T) {
		passed, shown := 0, 0
		start := time.Now()
		for i := 0; i < *raceRuns; i++ {
			got := raceHosted(t, bin, env, prog)
			if got == want {
				passed++
				continue
			}
			if shown++; shown <= 3 {
				sameResult(t, fmt.Sprintf("run %d", i+1), want, got)
			}
		}
		elapsed := time.Since(start)
		t.Logf("%d of %d hosted runs matched the native run, in %v", passed, *raceRuns, elapsed.Round(time.Millisecond))
		if passed != *raceRuns {
			t.Errorf("%d of %d hosted runs differed from the native run", *raceRuns-passed, *raceRuns)
		}
	})

	t.Run("BindNow", func(t *testing.T) {
		now := f.prog("racenow", src, append(link, "-Wl,-z,now")...)
		wantNow := native(t, env, "", now)
		if wantNow.stdout != want.stdout || wantNow.status != want.status {
			t.Errorf("-z now changed the native result: %+v", wantNow)
		}
		sameResult(t, "-z now", wantNow, raceHosted(t, bin, env, now))
	})
}
