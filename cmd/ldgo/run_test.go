package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
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
	return append(env, extra...)
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

func TestRun(t *testing.T) {
	bin := buildLdgo(t)

	t.Run("LazyBinding", func(t *testing.T) {
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
	})

	t.Run("CopyRelocations", func(t *testing.T) {
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
	})

	t.Run("InitFiniOrder", func(t *testing.T) {
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
	})

	t.Run("LibraryTLS", func(t *testing.T) {
		f := newFixture(t)
		f.lib("libtls.so", `
__thread int counter = 40;
__thread char buf[64];
int bump(void) { buf[0]++; return ++counter + buf[0]; }
`)
		prog := f.prog("tls", `
#include <stdio.h>
#include <pthread.h>
int bump(void);
static void *w(void *a) { bump(); return (void *)(long)bump(); }
int main(void) {
	int x = bump();
	x = bump();
	pthread_t t; void *r;
	pthread_create(&t, 0, w, 0);
	pthread_join(t, &r);
	printf("main %d thread %ld\n", x, (long)r);
	return 0;
}
`, "-L.", "-ltls", "-pthread", "-Wl,-rpath,"+f.dir)
		sameResult(t, "library TLS", native(t, baseEnv(), "", prog), hosted(t, bin, baseEnv(), "", prog))
	})

	t.Run("ExitStatus", func(t *testing.T) {
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
	})

	t.Run("MissingLibrary", func(t *testing.T) {
		f := newFixture(t)
		f.lib("libgone.so", `int gone(void) { return 1; }`)
		prog := f.prog("needsgone", `int gone(void); int main(void) { return gone(); }`, "-L.", "-lgone")
		want := native(t, baseEnv(), "", prog)
		got := hosted(t, bin, baseEnv(), "", prog)
		sameResult(t, "missing library", want, got)
		if !strings.Contains(got.stderr, "error while loading shared libraries: libgone.so: cannot open shared object file: No such file or directory") || got.status != 127 {
			t.Errorf("unexpected message %q status %d", got.stderr, got.status)
		}
	})

	// A damaged library is refused with a message naming it and the
	// cause, where glibc's ld.so dies of a signal: the file is checked
	// before its segments are mapped, and its dynamic section is read
	// with bounds.
	t.Run("DamagedLibrary", func(t *testing.T) {
		f := newFixture(t)
		f.lib("libdamaged.so", `int damaged(void) { return 7; }`)
		prog := f.prog("needsdamaged", `int damaged(void); int main(void) { return damaged(); }`, "-L.", "-ldamaged", "-Wl,-rpath,"+f.dir)
		lib := f.path("libdamaged.so")
		good, err := os.ReadFile(lib)
		if err != nil {
			t.Fatal(err)
		}
		if got := hosted(t, bin, baseEnv(), "", prog); got.status != 7 {
			t.Fatalf("intact library: %+v", got)
		}
		strtabOutside := func() []byte {
			e, err := elf.NewFile(bytes.NewReader(good))
			if err != nil {
				t.Fatal(err)
			}
			d := append([]byte(nil), good...)
			for _, p := range e.Progs {
				if p.Type != elf.PT_DYNAMIC {
					continue
				}
				for off := p.Off; off+16 <= p.Off+p.Filesz; off += 16 {
					if elf.DynTag(binary.LittleEndian.Uint64(d[off:])) == elf.DT_STRTAB {
						binary.LittleEndian.PutUint64(d[off+8:], 0x7fff_0000_0000)
					}
				}
			}
			return d
		}
		for _, tc := range []struct {
			name, cause string
			data        []byte
		}{
			{"truncated", "file too short", good[:len(good)/3]},
			{"string table outside", "string table outside the loaded segments", strtabOutside()},
		} {
			if err := os.WriteFile(lib, tc.data, 0o755); err != nil {
				t.Fatal(err)
			}
			got := hosted(t, bin, baseEnv(), "", prog)
			want := "error while loading shared libraries: " + lib + ": " + tc.cause
			if got.status != 127 || !strings.Contains(got.stderr, want) {
				t.Errorf("%s: status %d, stderr %q; want 127 and %q", tc.name, got.status, got.stderr, want)
			}
		}
	})

	t.Run("Environment", func(t *testing.T) {
		env := baseEnv("LD_LIBRARY_PATH=/nonexistent/lib", "LD_BIND_NOT=1", "FOO=bar baz", "LD_DEBUG_OUTPUT=/nonexistent/x")
		if _, err := os.Stat("/usr/bin/env"); err != nil {
			t.Skip("/usr/bin/env not installed")
		}
		sameResult(t, "env", native(t, env, "", "/usr/bin/env"), hosted(t, bin, env, "", "/usr/bin/env"))
	})

	// ldgo starts a second time, without the LD_* variables, only when
	// they may have changed its own start-up. The kernel names the file it
	// executed in AT_EXECFN, which ldgo passes on: its own path after one
	// start, /proc/self/exe after two.
	t.Run("SecondStart", func(t *testing.T) {
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
	})

	t.Run("SIGPIPE", func(t *testing.T) {
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
	})

	t.Run("Static", func(t *testing.T) {
		f := newFixture(t)
		c := f.write("static.c", `#include <stdio.h>
int main(int argc, char **argv) { printf("static %d\n", argc); return 5; }`)
		cmd := exec.Command("gcc", "-static", "-o", f.path("static"), c)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Skipf("gcc -static does not work here: %v\n%s", err, out)
		}
		prog := f.path("static")
		sameResult(t, "static", native(t, baseEnv(), "", prog, "x"), hosted(t, bin, baseEnv(), "", prog, "x"))
	})

	t.Run("NonPIE", func(t *testing.T) {
		// ldgo is position independent, so a program's fixed addresses
		// are free for it.
		f := newFixture(t)
		prog := f.prog("nopie", `#include <stdio.h>
int main(void) { puts("fixed"); return 0; }`, "-no-pie")
		sameResult(t, "non-PIE program", native(t, baseEnv(), "", prog), hosted(t, bin, baseEnv(), "", prog))
	})

	t.Run("SystemCommands", func(t *testing.T) {
		tmp := t.TempDir()
		data := filepath.Join(tmp, "data.txt")
		if err := os.WriteFile(data, []byte(strings.Repeat("ldgo runs programs\n", 2000)), 0o644); err != nil {
			t.Fatal(err)
		}
		db := filepath.Join(tmp, "db.sqlite")
		if sq, err := exec.LookPath("sqlite3"); err == nil {
			if out, err := exec.Command(sq, db, "create table t(x); insert into t values (1);").CombinedOutput(); err != nil {
				t.Fatalf("sqlite3: %v\n%s", err, out)
			}
		}
		cases := []struct {
			name  string
			stdin string
			args  []string
		}{
			{"true", "", nil},
			{"false", "", nil},
			{"ls", "", []string{"-l", "/usr"}},
			{"ls", "", []string{"-l", "-d", "/tmp", "/usr", "/nonexistent"}},
			{"date", "", []string{"-u", "-d", "@0"}},
			{"sort", "pear\napple\nfig\n", nil},
			{"sort", "3\n10\n2\n", []string{"-n", "-r"}},
			{"grep", "abc123\nxyz\n42\n", []string{"-P", `\d+`}},
			{"grep", "", []string{"--badoption"}},
			{"cat", "some\ntext\n", nil},
			{"echo", "", []string{"hello", "world"}},
			{"tar", "", []string{"-cf", "-", "-C", "/usr/include", "--owner=0", "--group=0", "--mtime=@0", "stdio.h"}},
			{"tar", "", []string{"--version"}},
			{"xz", strings.Repeat("compress me\n", 5000), []string{"-T2", "-c"}},
			{"gzip", strings.Repeat("compress me\n", 5000), []string{"-c", "-n"}},
			{"sha256sum", "", []string{data}},
			{"sqlite3", "create table t(x); insert into t values (6*7), ('ldgo'); select * from t;", []string{":memory:"}},
			{"sqlite3", "", []string{"-readonly", db, "select count(*) from sqlite_master;"}},
			{"git", "", []string{"--version"}},
			{"git", "", []string{"hash-object", data}},
			{"curl", "", []string{"--version"}},
			{"curl", "", []string{"-s", "file://" + data, "-o", "/dev/null", "-w", "%{size_download}\n"}},
			{"openssl", "", []string{"version"}},
			{"openssl", "hello", []string{"dgst", "-sha256"}},
			{"vim", "", []string{"--version"}},
			{"ssh", "", []string{"-V"}},
			{"gdb", "", []string{"--version"}},
			{"gdb", "", []string{"-batch", "-nx", "-ex", "print 6*7"}},
			{"perl", "", []string{"-e", `print join(",", map { $_ * 2 } 1..5), "\n"`}},
			{"gcc", "", []string{"--version"}},
			{"node", "", []string{"-e", "console.log([1,2,3].map(x => x * 7).join())"}},
			{"find", "", []string{"/usr/include/linux", "-maxdepth", "1", "-name", "a*.h"}},
			{"sed", "hello\n", []string{"s/l/L/g"}},
			{"awk", "1 2\n3 4\n", []string{"{print $2+$1}"}},
			{"python3", "", []string{"-c", "print(6*7)"}},
			{"python3", "", []string{"-c", "import ssl, sqlite3, ctypes, decimal; print(ssl.OPENSSL_VERSION[:7], sqlite3.sqlite_version_info[0], ctypes.CDLL(None).strlen(b'four'), decimal.Decimal(1) / 7)"}},
			{"python3", "", []string{"-c", "import multiprocessing as mp\ndef work(n):\n    import json, array\n    return json.dumps(array.array('i', [n, n * n]).tolist())\nif __name__ == '__main__':\n    mp.set_start_method('fork')\n    with mp.Pool(2) as p: print(p.map(work, range(4)))"}},
			{"python3", "", []string{"-c", "import threading, hashlib\nout = []\nts = [threading.Thread(target=lambda i=i: out.append(hashlib.sha256(bytes([i]) * 100000).hexdigest()[:8])) for i in range(8)]\n[t.start() for t in ts]\n[t.join() for t in ts]\nprint(sorted(out))"}},
			{"perl", "", []string{"-MPOSIX", "-MList::Util=sum", "-e", `print floor(2.5) + sum(1..10), "\n"`}},
			{"wc", "one two\nthree\n", []string{"-lwc"}},
			{"diff", "", []string{"/etc/hostname", "/etc/hostname"}},
			{"env", "", nil},
		}
		ran := 0
		for _, c := range cases {
			path := "/usr/bin/" + c.name
			if _, err := os.Stat(path); err != nil {
				t.Logf("skipping %s: not installed", path)
				continue
			}
			what := c.name + " " + strings.Join(c.args, " ")
			want := native(t, baseEnv(), c.stdin, path, c.args...)
			got := hosted(t, bin, baseEnv(), c.stdin, path, c.args...)
			sameResult(t, what, want, got)
			ran++
		}
		t.Logf("%d commands compared with their native runs", ran)
	})

	t.Run("InterposeLibcFunctions", func(t *testing.T) {
		// libc calls malloc through its PLT: a program's own malloc, or a
		// preloaded one, serves libc's calls too (strdup, fopen), as with
		// glibc's ld.so.
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
	})
	t.Run("CplusplusExceptions", func(t *testing.T) {
		// The unwinder finds each frame's tables with _dl_find_object:
		// an exception thrown in one ldgo-loaded library crosses another
		// and is caught in the program. dladdr and dl_iterate_phdr see
		// the objects ldgo loaded, in load order.
		f := newFixture(t)
		f.write("throw.cc", `
#include <stdexcept>
#include <string>
extern "C" int thrower(int n) {
	if (n > 2) throw std::runtime_error("too big: " + std::to_string(n));
	return n;
}
`)
		f.gcc("-x", "c++", "-shared", "-fPIC", "-o", "libthrow.so", "throw.cc", "-x", "none", "-lstdc++")
		f.write("pass.cc", `
#include <cstdio>
extern "C" int thrower(int);
struct Guard { int n; ~Guard() { std::printf("unwound through pass(%d)\n", n); } };
extern "C" int pass(int n) { Guard g{n}; return thrower(n) * 10; }
`)
		f.gcc("-x", "c++", "-shared", "-fPIC", "-o", "libpass.so", "pass.cc", "-x", "none", "-L.", "-lthrow", "-lstdc++", "-Wl,-rpath,"+f.dir)
		f.write("main.cc", `
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <dlfcn.h>
#include <link.h>
extern "C" int pass(int);
extern "C" int thrower(int);
static const char *base(const char *p) { const char *s = std::strrchr(p, '/'); return s ? s + 1 : p; }
static int list(struct dl_phdr_info *info, size_t, void *) {
	std::printf("object %s%s\n", base(info->dlpi_name), info->dlpi_phnum > 0 ? "" : " (no headers)");
	return 0;
}
int main() {
	for (int i = 1; i <= 4; i++) {
		try {
			std::printf("pass(%d) = %d\n", i, pass(i));
		} catch (const std::exception &e) {
			std::printf("caught: %s\n", e.what());
		}
	}
	Dl_info info;
	if (dladdr((void *)&thrower, &info))
		std::printf("dladdr: %s in %s\n", info.dli_sname, base(info.dli_fname));
	if (dladdr((void *)&main, &info))
		std::printf("dladdr: %s in %s\n", info.dli_sname ? info.dli_sname : "(none)", base(info.dli_fname));
	dl_iterate_phdr(list, nullptr);
	return 0;
}
`)
		f.gcc("-x", "c++", "-o", "prog", "main.cc", "-x", "none", "-L.", "-lpass", "-lthrow", "-lstdc++", "-Wl,-rpath,"+f.dir)
		prog := f.path("prog")
		want := native(t, baseEnv(), "", prog)
		if !strings.Contains(want.stdout, "caught: too big: 3") {
			t.Fatalf("native run did not catch: %+v", want)
		}
		sameResult(t, "C++ exceptions across libraries", want, hosted(t, bin, baseEnv(), "", prog))
		sameResult(t, "C++ exceptions, bound at start-up", want, hosted(t, bin, baseEnv("LD_BIND_NOW=1"), "", prog))
	})
	t.Run("CplusplusUniqueAndThreads", func(t *testing.T) {
		// Static locals of inline functions and template members are
		// STB_GNU_UNIQUE: one object for the whole process, whichever
		// library asks. Static constructors run in load order;
		// std::thread and thread_local work in ldgo-loaded libstdc++.
		f := newFixture(t)
		f.write("uniq.h", `
#include <string>
template <typename T> struct Registry { static int &count() { static int c = 0; return c; } };
inline std::string &shared_name() { static std::string s = "init"; return s; }
`)
		f.write("a.cc", `
#include "uniq.h"
#include <atomic>
#include <thread>
#include <vector>
extern "C" int a_bump() { return ++Registry<int>::count(); }
extern "C" void a_set(const char *s) { shared_name() = s; }
extern "C" int a_threads(int n) {
	std::atomic<int> sum{0};
	std::vector<std::thread> ts;
	for (int i = 0; i < n; i++) ts.emplace_back([&sum, i] { thread_local int tl = 10; tl += i; sum += tl; });
	for (auto &t : ts) t.join();
	return sum;
}
struct InitA { InitA() { shared_name() += "+a"; } } init_a;
`)
		f.write("b.cc", `
#include "uniq.h"
extern "C" int b_bump() { return ++Registry<int>::count(); }
extern "C" const char *b_name() { return shared_name().c_str(); }
struct InitB { InitB() { shared_name() += "+b"; } } init_b;
`)
		f.write("main.cc", `
#include <cstdio>
#include <thread>
extern "C" int a_bump();
extern "C" int b_bump();
extern "C" void a_set(const char *);
extern "C" const char *b_name();
extern "C" int a_threads(int);
int main() {
	std::printf("constructed: %s\n", b_name());
	a_bump(); b_bump(); a_bump();
	std::printf("one counter: %d\n", b_bump());
	a_set("changed");
	std::printf("one string: %s\n", b_name());
	std::printf("threads: %d\n", a_threads(8));
	std::thread t([] { std::printf("in std::thread: %d\n", a_bump()); });
	t.join();
	return 0;
}
`)
		f.gcc("-x", "c++", "-shared", "-fPIC", "-o", "liba.so", "a.cc", "-x", "none", "-lstdc++", "-pthread")
		f.gcc("-x", "c++", "-shared", "-fPIC", "-o", "libb.so", "b.cc", "-x", "none", "-lstdc++")
		f.gcc("-x", "c++", "-o", "prog", "main.cc", "-x", "none", "-L.", "-la", "-lb", "-lstdc++", "-pthread", "-Wl,-rpath,"+f.dir)
		prog := f.path("prog")
		want := native(t, baseEnv(), "", prog)
		if !strings.Contains(want.stdout, "one counter: 4") {
			t.Fatalf("native run: %+v", want)
		}
		sameResult(t, "C++ unique symbols and threads", want, hosted(t, bin, baseEnv(), "", prog))
	})
	t.Run("ExecutableStack", func(t *testing.T) {
		// A GNU C nested function whose address is taken runs a
		// trampoline on the stack: gcc marks the program PT_GNU_STACK
		// RWE, and the stack must be executable.
		// Threads' stacks must be too, those started later and, when a
		// library asking for it is opened, those already running.
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
	})
	t.Run("Mappings", func(t *testing.T) {
		// Segments are private file mappings: text is shared with every
		// process using the file, not copied; nothing is writable and
		// executable at once.
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
	})
	t.Run("ListAndVerify", func(t *testing.T) {
		// ldgo run --list and --verify answer as ld.so's options do, for
		// scripts that call the dynamic linker so.
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
	})
	t.Run("ExecutableTLS", func(t *testing.T) {
		// The program's own TLS block (local-exec offsets fixed at link
		// time), a library's initial-exec and TLS-descriptor accesses,
		// and a library reaching the program's variable: in the main
		// thread and in threads started later, each seeing the
		// initial values.
		f := newFixture(t)
		f.lib("libie.so", `
__thread int ie_count = 100;
__thread char ie_tag[8] = "ie";
int ie_bump(void) { return ++ie_count; }
const char *ie_name(void) { return ie_tag; }
`, "-ftls-model=initial-exec")
		f.lib("libdesc.so", `
__thread long desc_val = 7;
extern __thread int prog_tls;
long desc_bump(void) { desc_val *= 3; return desc_val + prog_tls; }
`, "-mtls-dialect=gnu2")
		prog := f.prog("exetls", `
#include <stdio.h>
#include <pthread.h>
__thread int prog_tls = 5;
__thread char prog_buf[256];
static __thread double prog_d = 2.5;
int ie_bump(void); const char *ie_name(void); long desc_bump(void);
static void *worker(void *arg) {
	prog_tls += (int)(long)arg;
	prog_buf[10] += 1;
	prog_d *= 2;
	long r = ie_bump() + desc_bump() + prog_buf[10] + (long)prog_d + prog_tls;
	return (void *)r;
}
int main(void) {
	prog_tls = 9;
	printf("main: %d %s %ld %g\n", ie_bump(), ie_name(), desc_bump(), prog_d);
	pthread_t t[6];
	for (long i = 0; i < 6; i++) pthread_create(&t[i], 0, worker, (void *)i);
	for (int i = 0; i < 6; i++) { void *r; pthread_join(t[i], &r); printf("thread %d: %ld\n", i, (long)r); }
	printf("main again: %d %ld %d\n", ie_bump(), desc_bump(), prog_tls);
	return 0;
}
`, "-L.", "-lie", "-ldesc", "-pthread", "-Wl,-rpath,"+f.dir)
		want := native(t, baseEnv(), "", prog)
		sameResult(t, "TLS of the program and its libraries", want, hosted(t, bin, baseEnv(), "", prog))
		sameResult(t, "TLS with LD_BIND_NOW", want, hosted(t, bin, baseEnv("LD_BIND_NOW=1"), "", prog))
	})
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
