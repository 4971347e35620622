package main

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// `ldgo run` is tested on the built binary: it takes over the process.
// Every expectation is the same program run natively by glibc's ld.so.

func TestMain(m *testing.M) {
	code := m.Run()
	if ldgoBinary.path != "" {
		os.RemoveAll(filepath.Dir(ldgoBinary.path))
	}
	os.Exit(code)
}

var ldgoBinary struct {
	once sync.Once
	path string
	err  error
}

// buildLdgo builds the ldgo binary, as the README says (position
// independent, so that programs with fixed addresses can be loaded), once
// for all the tests of the package.
func buildLdgo(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go command not available to build ldgo")
	}
	b := &ldgoBinary
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "ldgo-test-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, "ldgo")
		cmd := exec.Command("go", "build", "-buildmode=pie", "-o", b.path, ".")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// result is what a process did, to compare byte for byte.
type result struct {
	stdout, stderr string
	status         int // exit status, or 128+signal
}

func runCmd(t *testing.T, env []string, stdin string, name string, args ...string) result {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	return runCommand(t, cmd)
}

// runCommand runs cmd, its output captured, and returns what it did.
func runCommand(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		ws := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			r.status = 128 + int(ws.Signal())
		} else {
			r.status = ws.ExitStatus()
		}
	default:
		t.Fatalf("%s: %v", cmd.Path, err)
	}
	return r
}

// native and hosted run a program natively and under `ldgo run`.
func native(t *testing.T, env []string, stdin, prog string, args ...string) result {
	t.Helper()
	return runCmd(t, env, stdin, prog, args...)
}

func hosted(t *testing.T, ldgoBin string, env []string, stdin, prog string, args ...string) result {
	t.Helper()
	return runCmd(t, env, stdin, ldgoBin, append([]string{"run", prog}, args...)...)
}

func sameResult(t *testing.T, what string, want, got result) {
	t.Helper()
	if want != got {
		t.Errorf("%s differs from native\nnative: status %d\nstdout:\n%s\nstderr:\n%s\nldgo run: status %d\nstdout:\n%s\nstderr:\n%s",
			what, want.status, want.stdout, want.stderr, got.status, got.stdout, got.stderr)
	}
}

// baseEnv is a small fixed environment for the programs.
func baseEnv(extra ...string) []string {
	env := []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "TZ=UTC", "HOME=/nonexistent"}
	// LDGO_TEST_PLAN=exec runs the tests' ldgo run through the launch
	// plan's executor (LDGO_PLAN=exec): the run suite both ways.
	if v := os.Getenv("LDGO_TEST_PLAN"); v != "" {
		env = append(env, "LDGO_PLAN="+v)
	}
	return append(env, extra...)
}

// engineEnv is baseEnv for the tests of what only the engine's own
// start keeps — the bind cache, the lookups made ahead — which run it
// whatever LDGO_TEST_PLAN says.
func engineEnv(extra ...string) []string {
	return append([]string{"PATH=/usr/bin:/bin", "LC_ALL=C", "TZ=UTC", "HOME=/nonexistent"}, extra...)
}

const countLib = `
#include <stdio.h>
int calls; // threads call add at once: counted atomically
#define COUNT __atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED)
int add(int a, int b) { COUNT; return a + b; }
int mul(int a, int b) { COUNT; return a * b; }
double scale(double x, double y, float z) { COUNT; return x * y + z; }
void report(void) { printf("library counted %d calls\n", calls); }
`

const countProg = `
#include <stdio.h>
#include <pthread.h>
int add(int, int);
int mul(int, int);
double scale(double, double, float);
void report(void);
static void *worker(void *arg) { long n = (long)arg; return (void *)(long)add((int)n, 1); }
int main(void) {
	int s = 0;
	for (int i = 0; i < 5; i++) s = add(s, i);
	for (int i = 1; i < 4; i++) s = mul(s, i);
	double d = scale(1.5, 2.25, 0.125);
	d = scale(d, 2.0, 1.0f);
	pthread_t th[8];
	for (long i = 0; i < 8; i++) pthread_create(&th[i], 0, worker, (void *)i);
	long sum = 0;
	for (int i = 0; i < 8; i++) { void *r; pthread_join(th[i], &r); sum += (long)r; }
	printf("s=%d d=%g threads=%ld\n", s, d, sum);
	report();
	return 7;
}
`

var lazyLine = regexp.MustCompile(`(?m)^ldgo: lazy: (\S+): (\S+) => (\S+) \(slot \d+, GOT 0x[0-9a-f]+, target 0x[0-9a-f]+\)$`)

func TestRunLazyBinding(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	f.lib("libcount.so", countLib)
	for _, now := range []bool{false, true} {
		flags := []string{"-L.", "-lcount", "-Wl,-rpath," + f.dir, "-pthread"}
		name := "lazy"
		if now {
			flags = append(flags, "-Wl,-z,now")
			name = "now"
		}
		prog := f.prog(name, countProg, flags...)
		want := native(t, baseEnv(), "", prog)
		got := hosted(t, bin, baseEnv(), "", prog)
		sameResult(t, name, want, got)
		if want.status != 7 || !strings.Contains(want.stdout, "library counted 18 calls") {
			t.Errorf("%s: unexpected native result %+v", name, want)
		}

		traced := hosted(t, bin, baseEnv("LDGO_DEBUG=lazy"), "", prog)
		if traced.stdout != want.stdout || traced.status != want.status {
			t.Errorf("%s: LDGO_DEBUG=lazy changed the result: %+v", name, traced)
		}
		firsts := map[string]int{}
		for _, m := range lazyLine.FindAllStringSubmatch(traced.stderr, -1) {
			if m[1] == prog {
				firsts[m[2]]++
			}
		}
		for _, sym := range []string{"add", "mul", "scale", "report", "printf", "pthread_create"} {
			n := firsts[sym]
			if now && n != 0 {
				t.Errorf("%s: %s went through the resolver %d times under -z now", name, sym, n)
			}
			if !now && n != 1 {
				t.Errorf("%s: %s went through the resolver %d times, want exactly 1\n%s", name, sym, n, traced.stderr)
			}
		}
	}
}

func TestRunCopyRelocations(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	prog := f.prog("getopt", `
#include <stdio.h>
#include <unistd.h>
#include <errno.h>
extern char **environ;
extern char *program_invocation_short_name;
int main(int argc, char **argv) {
	int c;
	while ((c = getopt(argc, argv, "ab:")) != -1)
		printf("opt %c arg %s optind %d\n", c, optarg ? optarg : "-", optind);
	printf("first operand %s (optind %d of %d)\n", optind < argc ? argv[optind] : "-", optind, argc);
	fprintf(stdout, "name %s env0 %s\n", program_invocation_short_name, environ[0]);
	fprintf(stderr, "to stderr\n");
	errno = 0;
	return optind;
}
`)
	if !hasCopyReloc(t, prog) {
		t.Log("gcc produced no COPY relocation; the test still compares outputs")
	}
	args := []string{"-a", "-b", "val", "operand", "-x"}
	sameResult(t, "getopt", native(t, baseEnv(), "", prog, args...), hosted(t, bin, baseEnv(), "", prog, args...))
}

func TestRunInitFiniOrder(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	f.lib("libb.so", `
#include <stdio.h>
__attribute__((constructor)) static void ib(void) { printf("init b\n"); }
__attribute__((destructor)) static void fb(void) { printf("fini b\n"); }
void b(void) { printf("b\n"); }
`)
	f.lib("liba.so", `
#include <stdio.h>
void b(void);
__attribute__((constructor)) static void ia(void) { printf("init a\n"); b(); }
__attribute__((destructor)) static void fa(void) { printf("fini a\n"); }
void a(void) { printf("a\n"); }
`, "-L.", "-lb")
	prog := f.prog("order", `
#include <stdio.h>
#include <stdlib.h>
void a(void);
static void pre(int argc, char **argv, char **env) { printf("preinit %d\n", argc); }
__attribute__((section(".preinit_array"))) void (*pre_p)(int, char **, char **) = pre;
__attribute__((constructor)) static void im(void) { printf("init main\n"); }
__attribute__((destructor)) static void fm(void) { printf("fini main\n"); }
static void ax(void) { printf("atexit\n"); }
int main(void) { atexit(ax); a(); return 0; }
`, "-L.", "-la", "-lb", "-Wl,-rpath,"+f.dir)
	sameResult(t, "init/fini", native(t, baseEnv(), "", prog), hosted(t, bin, baseEnv(), "", prog))
}

func TestRunExitStatus(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	prog := f.prog("status", `
#include <stdlib.h>
#include <string.h>
#include <signal.h>
int main(int argc, char **argv) {
	if (argc > 1 && !strcmp(argv[1], "abort")) abort();
	if (argc > 1 && !strcmp(argv[1], "kill")) raise(SIGTERM);
	if (argc > 1) exit(atoi(argv[1]));
	return 42;
}
`)
	for _, args := range [][]string{nil, {"3"}, {"0"}, {"255"}, {"abort"}, {"kill"}} {
		sameResult(t, "status "+strings.Join(args, " "), native(t, baseEnv(), "", prog, args...), hosted(t, bin, baseEnv(), "", prog, args...))
	}
}

func TestRunEnvironment(t *testing.T) {
	bin := buildLdgo(t)
	env := baseEnv("LD_LIBRARY_PATH=/nonexistent/lib", "LD_BIND_NOT=1", "FOO=bar baz", "LD_DEBUG_OUTPUT=/nonexistent/x")
	if _, err := os.Stat("/usr/bin/env"); err != nil {
		t.Skip("/usr/bin/env not installed")
	}
	sameResult(t, "env", native(t, env, "", "/usr/bin/env"), hosted(t, bin, env, "", "/usr/bin/env"))
}

func TestRunSIGPIPE(t *testing.T) {
	bin := buildLdgo(t)
	sh, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	if _, err := os.Stat("/usr/bin/yes"); err != nil {
		t.Skip("/usr/bin/yes not installed")
	}
	want := runCmd(t, baseEnv(), "", sh, "-c", `yes | head -1; echo "${PIPESTATUS[*]}"`)
	got := runCmd(t, baseEnv(), "", sh, "-c", bin+` run yes | head -1; echo "${PIPESTATUS[*]}"`)
	sameResult(t, "yes | head -1", want, got)
	if got.stdout != "y\n141 0\n" {
		t.Errorf("yes | head -1: got %q, want status 141", got.stdout)
	}
}

func TestRunStatic(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	c := f.write("static.c", `#include <stdio.h>
int main(int argc, char **argv) { printf("static %d\n", argc); return 5; }`)
	cmd := exec.Command("gcc", "-static", "-o", f.path("static"), c)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("gcc -static does not work here: %v\n%s", err, out)
	}
	prog := f.path("static")
	sameResult(t, "static", native(t, baseEnv(), "", prog, "x"), hosted(t, bin, baseEnv(), "", prog, "x"))
}

// ldgo is position independent, so a program's fixed addresses
// are free for it.
func TestRunNonPIE(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	prog := f.prog("nopie", `#include <stdio.h>
int main(void) { puts("fixed"); return 0; }`, "-no-pie")
	sameResult(t, "non-PIE program", native(t, baseEnv(), "", prog), hosted(t, bin, baseEnv(), "", prog))
}

func hasCopyReloc(t *testing.T, path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := f.Section(".rela.dyn")
	if s == nil {
		return false
	}
	data, err := s.Data()
	if err != nil {
		return false
	}
	for i := 0; i+24 <= len(data); i += 24 {
		if elf.R_X86_64(uint32(f.ByteOrder.Uint64(data[i+8:]))) == elf.R_X86_64_COPY {
			return true
		}
	}
	return false
}
