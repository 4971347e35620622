package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// planFixture builds a program whose libraries have initializers and
// finalizers in a dependency order: prog needs liba and libc2, liba needs
// libb. libc2 has an IFUNC, thread-local variables the program reads
// (static TLS, and global dynamic in the library) and data the program
// copies (a COPY relocation).
func planFixture(t *testing.T) (*fixture, string) {
	f := newFixture(t)
	ctor := func(name string) string {
		return `#include <stdio.h>
__attribute__((constructor)) static void init_` + name + `(void) { puts("init ` + name + `"); }
__attribute__((destructor)) static void fini_` + name + `(void) { puts("fini ` + name + `"); }
`
	}
	f.lib("libb.so", libB, "-Wl,--build-id=0x00112233445566778899aabbccddeeff")
	f.lib("liba.so", ctor("a")+`int b(void); int a(void) { return b() + 1; }`, "-L.", "-lb", "-Wl,-rpath,"+f.dir)
	f.lib("libc2.so", ctor("c2")+`
static int five(void) { return 5; }
static void *pick(void) { return (void *)five; }
int c2(void) __attribute__((ifunc("pick")));
__thread int c2_tls = 30;
int *c2_tls_addr(void) { return &c2_tls; }
const char *c2_names[] = {"zero", "one", "two"};
`)
	prog := f.prog("prog", ctor("prog")+`
int a(void); int c2(void); int *c2_tls_addr(void);
extern __thread int c2_tls;
extern const char *c2_names[];
int main(void) {
	printf("%d %d %d %s\n", a(), c2(), c2_tls + *c2_tls_addr(), c2_names[2]);
	return a() + c2() == 8 ? 0 : 1;
}`, "-L.", "-la", "-lc2", "-Wl,-rpath,"+f.dir)
	return f, prog
}

// libB is planFixture's libb.so, built with one build-id and another.
const libB = `#include <stdio.h>
__attribute__((constructor)) static void init_b(void) { puts("init b"); }
__attribute__((destructor)) static void fini_b(void) { puts("fini b"); }
int b(void) { return 2; }`

// planShow is ldgo plan --show --json's document.
type planShow struct {
	Program string `json:"program"`
	Kept    string `json:"kept"`
	Objects []struct {
		Kind     string         `json:"kind"`
		Path     string         `json:"path"`
		Writes   map[string]int `json:"writes_by_kind"`
		Lazy     int            `json:"lazy_slots"`
		Segments []struct {
			Prot                         string
			Offset, Vaddr, Filesz, Memsz uint64
		} `json:"segments"`
	} `json:"objects"`
	Init []struct {
		Object int `json:"object"`
	} `json:"init"`
	Fini []struct {
		Object int `json:"object"`
	} `json:"fini"`
	Entry uint64 `json:"entry"`
}

func showPlan(t *testing.T, env []string, prog string) planShow {
	t.Helper()
	r := ldgoStreams(t, env, "plan", "--show", "--json", prog)
	if r.status != 0 {
		t.Fatalf("ldgo plan --show --json %s: status %d\n%s", prog, r.status, r.stderr)
	}
	var doc planShow
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("ldgo plan --show --json: %v\n%s", err, r.stdout)
	}
	return doc
}

// The plan's objects, segments, entry point and init and fini order are
// those readelf and glibc's ld.so give.
func TestPlanShowsWhatGlibcDoes(t *testing.T) {
	_, prog := planFixture(t)
	env := []string{"XDG_CACHE_HOME=" + t.TempDir()}
	for _, p := range []string{prog, "/usr/bin/ls"} {
		doc := showPlan(t, env, p)
		// The objects are ldd's, and the vDSO and ld.so.
		var paths []string
		for _, o := range doc.Objects {
			if o.Kind != "vdso" && o.Kind != "program" {
				paths = append(paths, o.Path)
			}
		}
		var ldd []string
		for _, l := range listLines(glibc(t, nil, "ldd", p)) {
			if fs := strings.Fields(l); len(fs) >= 3 && fs[1] == "=>" {
				ldd = append(ldd, fs[2])
			} else if len(fs) == 1 && strings.HasPrefix(fs[0], "/") {
				ldd = append(ldd, fs[0])
			}
		}
		slices.Sort(paths)
		slices.Sort(ldd)
		if !slices.Equal(paths, ldd) {
			t.Errorf("%s: plan's objects %q, ldd's %q", p, paths, ldd)
		}
		for _, o := range doc.Objects {
			if o.Kind == "vdso" {
				continue
			}
			path := o.Path
			var want []string
			for _, l := range strings.Split(glibc(t, nil, "readelf", "-lW", path), "\n") {
				if fs := strings.Fields(l); len(fs) >= 7 && fs[0] == "LOAD" {
					want = append(want, strings.Join(fs[1:4], " ")+" "+fs[4]+" "+fs[5])
				}
			}
			var got []string
			for _, s := range o.Segments {
				got = append(got, "0x"+hex6(s.Offset)+" 0x"+hex16(s.Vaddr)+" 0x"+hex16(s.Vaddr)+" 0x"+hex6(s.Filesz)+" 0x"+hex6(s.Memsz))
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: segments %q, readelf %q", path, got, want)
			}
		}
		entry := regexp.MustCompile(`Entry point address:\s+0x([0-9a-f]+)`).FindStringSubmatch(glibc(t, nil, "readelf", "-hW", p))
		if e, _ := strconv.ParseUint(entry[1], 16, 64); e != doc.Entry {
			t.Errorf("%s: entry %#x, readelf %#x", p, doc.Entry, e)
		}
		// glibc's order of init and fini calls, less ld.so's (the
		// system's ld.so in the process runs its own).
		debug := glibc(t, []string{"LD_DEBUG=libs"}, p, "--version")
		for _, which := range []string{"init", "fini"} {
			var want []string
			for _, m := range regexp.MustCompile(`calling `+which+`: (\S*)`).FindAllStringSubmatch(debug, -1) {
				// glibc names every object it finalizes, with
				// finalizers or not: readelf says which have.
				file := m[1]
				if file == "" {
					file = p
				}
				if strings.Contains(file, "ld-linux") || which == "fini" && !regexp.MustCompile(`\((FINI|FINI_ARRAY)\)`).MatchString(glibc(t, nil, "readelf", "-dW", file)) {
					continue
				}
				want = append(want, m[1])
			}
			fns := doc.Init
			if which == "fini" {
				fns = doc.Fini
			}
			var got []string
			for _, fn := range fns {
				o := doc.Objects[fn.Object]
				name := o.Path
				if o.Kind == "program" {
					if which == "init" {
						continue // the program's own: __libc_start_main's
					}
					name = "[0]"
				}
				if len(got) == 0 || got[len(got)-1] != name {
					got = append(got, name)
				}
			}
			if which == "fini" && len(want) > 0 && want[0] == "" {
				want[0] = "[0]"
			}
			if which == "fini" && !strings.Contains(debug, "calling fini") {
				continue // the program exits without them (ls)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: %s order %q, glibc's %q", p, which, got, want)
			}
		}
		var lazy int
		for _, o := range doc.Objects {
			lazy += o.Lazy
		}
		if lazy == 0 {
			t.Errorf("%s: no lazy slots", p)
		}
	}
}

// thePlanFile is the one plan file kept below the cache directory, and
// its bytes.
func thePlanFile(t *testing.T, cache string) (string, []byte) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(cache, "ldgo", "plans", "*"))
	if len(files) != 1 {
		t.Fatalf("plan files %q", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	return files[0], b
}

// replaceLibB replaces planFixture's libb.so by a build with another
// build-id, of the same size and modification time, as a package manager
// or cp -p may leave it, and returns its path.
func replaceLibB(t *testing.T, f *fixture) string {
	t.Helper()
	lib := f.path("libb.so")
	st, err := os.Stat(lib)
	if err != nil {
		t.Fatal(err)
	}
	f.lib("new/libb.so", libB, "-Wl,--build-id=0xffeeddccbbaa99887766554433221100")
	if nst, err := os.Stat(f.path("new/libb.so")); err != nil || nst.Size() != st.Size() {
		t.Fatalf("the rebuilt library: %v, %d bytes for %d", err, nst.Size(), st.Size())
	}
	if err := os.Chtimes(f.path("new/libb.so"), time.Time{}, st.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(f.path("new/libb.so"), lib); err != nil {
		t.Fatal(err)
	}
	return lib
}

func hex6(v uint64) string {
	s := strconv.FormatUint(v, 16)
	return strings.Repeat("0", max(0, 6-len(s))) + s
}

func hex16(v uint64) string {
	s := strconv.FormatUint(v, 16)
	return strings.Repeat("0", max(0, 16-len(s))) + s
}

// A plan written is found valid, and out of date, with the reason, once a
// library is replaced by one of the same size and modification time, once
// LD_LIBRARY_PATH changes, once ldgo itself is rebuilt; a damaged plan
// file is refused with a clear error.
func TestPlanInvalidation(t *testing.T) {
	f, prog := planFixture(t)
	cache := t.TempDir()
	env := []string{"XDG_CACHE_HOME=" + cache}
	check := func(extra ...string) result {
		t.Helper()
		return ldgoStreams(t, append(env, extra...), "plan", "--check", prog)
	}
	if r := ldgoStreams(t, env, "plan", prog, "-x", "args"); r.status != 0 || !strings.Contains(r.stdout, "launch plan written to "+cache) {
		t.Fatalf("ldgo plan: %+v", r)
	}
	if r := check(); r.status != 0 || !strings.Contains(r.stdout, "launch plan valid") {
		t.Fatalf("ldgo plan --check after writing it: %+v", r)
	}
	if r := check("LD_LIBRARY_PATH=/nowhere"); r.status != 1 || !strings.Contains(r.stdout, `search settings changed: "library-path=", now "library-path=/nowhere"`) {
		t.Errorf("ldgo plan --check with LD_LIBRARY_PATH changed: %+v", r)
	}

	lib := replaceLibB(t, f)
	if r := check(); r.status != 1 || !strings.Contains(r.stdout, "launch plan out of date: "+lib+": file status changed") {
		t.Errorf("ldgo plan --check after libb.so was replaced: %+v", r)
	}

	// Made again, then damaged.
	ldgoStreams(t, env, "plan", prog)
	file, b := thePlanFile(t, cache)
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"truncated", b[:len(b)/3], "checksum mismatch"},
		{"a byte changed", append(append(append([]byte(nil), b[:100]...), b[100]^0x40), b[101:]...), "checksum mismatch"},
		{"empty", nil, "no magic"},
	} {
		if err := os.WriteFile(file, tc.b, 0o600); err != nil {
			t.Fatal(err)
		}
		if r := check(); r.status != 1 || !strings.Contains(r.stdout, "no usable launch plan: ") || !strings.Contains(r.stdout, tc.want) || r.stderr != "" {
			t.Errorf("ldgo plan --check of a %s plan: %+v", tc.name, r)
		}
		// --show makes a new one instead.
		if doc := showPlan(t, env, prog); doc.Kept != "" || len(doc.Objects) == 0 {
			t.Errorf("ldgo plan --show with a %s plan kept: %+v", tc.name, doc)
		}
	}
	if err := os.Chmod(file, 0o666); err != nil {
		t.Fatal(err)
	}
	ldgoStreams(t, env, "plan", prog)
	if err := os.Chmod(file, 0o622); err != nil {
		t.Fatal(err)
	}
	if r := check(); r.status != 1 || !strings.Contains(r.stdout, "writable by others") {
		t.Errorf("ldgo plan --check of a plan others may write: %+v", r)
	}
}

// A plan is made by one build of ldgo for that build: a rebuilt ldgo
// finds it out of date.
func TestPlanLdgoRebuilt(t *testing.T) {
	_, prog := planFixture(t)
	bin := filepath.Join(t.TempDir(), "ldgo")
	data, err := os.ReadFile(buildLdgo(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "XDG_CACHE_HOME="+t.TempDir())
	ldgoCmd := func(args ...string) result {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		return runCommand(t, cmd)
	}
	if r := ldgoCmd("plan", prog); r.status != 0 {
		t.Fatalf("ldgo plan: %+v", r)
	}
	if r := ldgoCmd("plan", "--check", prog); r.status != 0 {
		t.Fatalf("ldgo plan --check: %+v", r)
	}
	// Rewritten in place, as a rebuild does.
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if r := ldgoCmd("plan", "--check", prog); r.status != 1 || !strings.Contains(r.stdout, `search settings changed: "ldgo=`) {
		t.Errorf("ldgo plan --check by a rebuilt ldgo: %+v", r)
	}
}

// Set-id programs never get a plan.
func TestPlanSetID(t *testing.T) {
	_, prog := planFixture(t)
	if err := os.Chmod(prog, os.ModeSetgid|0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"XDG_CACHE_HOME=" + t.TempDir()}
	if r := ldgoStreams(t, env, "plan", prog); r.status != 1 || !strings.Contains(r.stderr, "set-id programs never use a launch plan") {
		t.Errorf("ldgo plan of a set-group-ID program: %+v", r)
	}
}

// LDGO_PLAN=exec starts programs by their launch plan, carried out by the
// executor: each gives its native output, dlopen after the planned start
// included, and --debug statistics says the plan ran.
func TestPlanExec(t *testing.T) {
	bin := buildLdgo(t)
	_, prog := planFixture(t)
	for _, args := range [][]string{
		{prog},
		{"/usr/bin/ls", "-l", "/usr/bin"}, // not /, whose /tmp other tests change
		{"/usr/bin/python3", "-c", "import json, hashlib; print(json.dumps([hashlib.sha256(b'x').hexdigest()]))"},
	} {
		if _, err := os.Stat(args[0]); err != nil {
			continue
		}
		native := runCommand(t, withEnv(exec.Command(args[0], args[1:]...), baseEnv()))
		planned := runCommand(t, withEnv(exec.Command(bin, append([]string{"run", "--debug", "statistics"}, args...)...), baseEnv("LDGO_PLAN=exec")))
		if planned.stdout != native.stdout || planned.status != native.status {
			t.Errorf("%s under LDGO_PLAN=exec: %+v, native %+v", args[0], planned, native)
		}
		if !strings.Contains(planned.stderr, "ldgo: launch plan: executed") {
			t.Errorf("%s under LDGO_PLAN=exec: the plan did not run:\n%s", args[0], planned.stderr)
		}
	}
}

// Under LDGO_PLAN=exec a run keeps its plan and the next one carries it
// out; a plan made invalid (a library replaced, LD_LIBRARY_PATH
// changed), damaged or truncated is made again, the program's output as
// ever and nothing said unless --debug statistics asks.
func TestPlanExecKept(t *testing.T) {
	bin := buildLdgo(t)
	f, prog := planFixture(t)
	native := runCommand(t, withEnv(exec.Command(prog), baseEnv()))
	cache := t.TempDir()
	run := func(debug bool, extra ...string) result {
		t.Helper()
		args := []string{"run", prog}
		if debug {
			args = []string{"run", "--debug", "statistics", prog}
		}
		r := runCommand(t, withEnv(exec.Command(bin, args...), baseEnv(append([]string{"LDGO_PLAN=exec", "XDG_CACHE_HOME=" + cache}, extra...)...)))
		if r.stdout != native.stdout || r.status != native.status {
			t.Fatalf("ldgo run %s under LDGO_PLAN=exec: %+v, native %+v", prog, r, native)
		}
		return r
	}
	says := func(r result, want string) {
		t.Helper()
		if !strings.Contains(r.stderr, "ldgo: launch plan: executed ("+want) {
			t.Errorf("want %q in\n%s", want, r.stderr)
		}
	}
	says(run(true), "made: ")
	says(run(true), "kept)")
	says(run(true, "LD_LIBRARY_PATH=/nowhere"), `made: launch plan out of date: search settings changed: "library-path=", now "library-path=/nowhere"`)
	says(run(true), `made: launch plan out of date: search settings changed: "library-path=/nowhere", now "library-path="`)

	lib := replaceLibB(t, f)
	says(run(true), "made: launch plan out of date: "+lib+": file status changed")
	says(run(true), "kept)")

	file, b := thePlanFile(t, cache)
	for _, damaged := range [][]byte{b[:len(b)/2], append(append([]byte(nil), b[:40]...), b[41:]...)} {
		if err := os.WriteFile(file, damaged, 0o600); err != nil {
			t.Fatal(err)
		}
		if r := run(false); r.stderr != "" {
			t.Errorf("a run over a damaged plan printed %q", r.stderr)
		}
		if err := os.WriteFile(file, damaged, 0o600); err != nil {
			t.Fatal(err)
		}
		says(run(true), "made: "+file+": not a launch plan of this version: ")
	}
}

func withEnv(cmd *exec.Cmd, env []string) *exec.Cmd {
	cmd.Env = env
	return cmd
}

// A lazy slot with no definition fails at its first call, in glibc's
// words, under LDGO_PLAN=exec too, and a kept plan whose message names
// the program otherwise is made again.
func TestPlanExecUnresolvedSlot(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	f.lib("libu.so", `int later(void) { return 1; }`)
	f.lib("libx.so", `int later(void); int x(int n) { return n > 1 ? later() : 0; }`, "-L.", "-lu", "-Wl,-rpath,"+f.dir)
	prog := f.prog("prog", `int x(int); int main(int argc, char **argv) { return x(argc); }`, "-L.", "-lx", "-Wl,-rpath,"+f.dir)
	f.lib("libu.so", `int other(void) { return 1; }`) // later is gone
	cache := t.TempDir()
	run := func(args ...string) result {
		t.Helper()
		return runCommand(t, withEnv(exec.Command(bin, append([]string{"run", "--debug", "statistics"}, args...)...),
			baseEnv("LDGO_PLAN=exec", "XDG_CACHE_HOME="+cache)))
	}
	native := runCommand(t, withEnv(exec.Command(prog, "call"), baseEnv()))
	if native.status != 127 || !strings.Contains(native.stderr, "undefined symbol: later") {
		t.Fatalf("the native run: %+v", native)
	}
	if r := run(prog); r.status != 0 || !strings.Contains(r.stderr, "launch plan: executed (made") {
		t.Fatalf("a run that does not call the slot: %+v", r)
	}
	r := run(prog, "call")
	if r.status != native.status || !strings.Contains(r.stderr, "launch plan: executed (kept)") || !strings.Contains(r.stderr, prog+": symbol lookup error: "+f.path("libx.so")+": undefined symbol: later") {
		t.Errorf("the call through the unresolved slot: %+v, native %+v", r, native)
	}
	r = run("--argv0", "other", prog, "call")
	if !strings.Contains(r.stderr, "made: its messages name the program "+prog) || !strings.Contains(r.stderr, "other: symbol lookup error: ") {
		t.Errorf("run as another argv[0]: %+v", r)
	}
}
