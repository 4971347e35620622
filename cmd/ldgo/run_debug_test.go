package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// pidColumn is glibc's LD_DEBUG prefix: the pid right-aligned in ten
// places, a colon and a tab.
var pidColumn = regexp.MustCompile(`(?m)^ {0,9}\d+:\t`)

// adoptedWork matches glibc's lines about what its ld.so did for ldgo's
// own process (relocating and initializing the adopted libc and ld.so),
// which ldgo does not do again for the program.
var adoptedWork = regexp.MustCompile(`^(relocation processing|calling init|calling fini): (/lib64/ld-linux-x86-64\.so\.2|/lib/x86_64-linux-gnu/libc\.so\.6)`)

// debugAddress is an address in LD_DEBUG=files lines.
var debugAddress = regexp.MustCompile(`0x[0-9a-f]{16}`)

// debugLines returns the LD_DEBUG lines of out without the pid column,
// addresses masked, blank lines and adoptedWork left out.
func debugLines(out string) []string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if !pidColumn.MatchString(l) {
			continue
		}
		l = debugAddress.ReplaceAllString(pidColumn.ReplaceAllString(l, ""), "ADDR")
		if strings.TrimSpace(l) != "" && !adoptedWork.MatchString(l) {
			keep = append(keep, l)
		}
	}
	return keep
}

// bindingsOf returns the sorted, unique bindings lines of debug output
// whose referencing object is one of refs. ld.so's own lookups of malloc,
// calloc, realloc and free (made in the program's name when it switches to
// libc's allocator) have no counterpart in ldgo and are left out.
func bindingsOf(out string, refs ...string) []string {
	set := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		if !pidColumn.MatchString(line) {
			continue
		}
		line = pidColumn.ReplaceAllString(line, "")
		for _, r := range refs {
			if !strings.HasPrefix(line, "binding file "+r+" [0]") {
				continue
			}
			skip := false
			for _, s := range []string{"malloc", "calloc", "realloc", "free"} {
				skip = skip || strings.Contains(line, "symbol `"+s+"'")
			}
			if !skip {
				set[line] = true
			}
		}
	}
	var lines []string
	for l := range set {
		lines = append(lines, l)
	}
	sort.Strings(lines)
	return lines
}

// LD_DEBUG=bindings prints the bindings glibc prints for the same run —
// the load-time ones and each PLT slot's at its first call; statistics
// has glibc's lines; LD_DEBUG_OUTPUT sends it all to a file per process.
func TestRunDebug(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	f.write("v.map", "LIB_1 { global: *; };\n")
	f.lib("libtalk.so", `
#include <stdio.h>
int said;
int say(const char *s) { said++; return printf("%s\n", s); }
int count(void) { return said; }
`, "-Wl,--version-script="+f.path("v.map"))
	prog := f.prog("talk", `
#include <stdio.h>
int say(const char *);
int count(void);
extern int said;
int main(void) { say("one"); say("two"); printf("%d %d\n", count(), said); return 0; }
`, "-L.", "-ltalk", "-Wl,-rpath,"+f.dir)
	lib := f.path("libtalk.so")

	for _, now := range []string{"", "1"} {
		env := baseEnv("LD_DEBUG=bindings", "LD_BIND_NOW="+now)
		want := native(t, env, "", prog)
		got := hosted(t, bin, env, "", prog)
		if got.stdout != want.stdout || got.status != want.status {
			t.Errorf("LD_BIND_NOW=%q: output differs: native %+v, ldgo %+v", now, want, got)
		}
		w, g := bindingsOf(want.stderr, prog, lib), bindingsOf(got.stderr, prog, lib)
		if len(w) < 4 {
			t.Fatalf("native bindings: too few lines:\n%s", want.stderr)
		}
		sameLines(t, "LD_DEBUG=bindings, LD_BIND_NOW="+now, w, g)
	}

	got := runCmd(t, baseEnv(), "", bin, "run", "--debug", "statistics", prog)
	for _, want := range []string{
		"runtime linker statistics:",
		"  total startup time in dynamic loader: ",
		"            time needed for relocation: ",
		"                 number of relocations: ",
		"           final number of relocations: ",
	} {
		if !regexp.MustCompile(`(?m)^ {0,9}\d+:\t` + regexp.QuoteMeta(want)).MatchString(got.stderr) {
			t.Errorf("statistics: no line %q in\n%s", want, got.stderr)
		}
	}

	out := filepath.Join(t.TempDir(), "trace")
	got = runCmd(t, baseEnv("LD_DEBUG=bindings", "LD_DEBUG_OUTPUT="+out), "", bin, "run", prog)
	if strings.Contains(got.stderr, "binding file") {
		t.Errorf("LD_DEBUG_OUTPUT set, yet bindings on stderr:\n%s", got.stderr)
	}
	files, _ := filepath.Glob(out + ".*")
	if len(files) != 1 {
		t.Fatalf("LD_DEBUG_OUTPUT: want one file %s.PID, got %v", out, files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(bindingsOf(string(b), prog, lib)) < 4 {
		t.Errorf("LD_DEBUG_OUTPUT file holds too few bindings:\n%s", b)
	}
}

// LD_DEBUG=libs prints glibc's lines: each library's search (the paths
// and the files tried), the calls of initializers and finalizers, the
// program's start. The adopted libc's and ld.so's initializers ran when
// ldgo itself started, so their lines are not compared.
func TestRunDebugLibs(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	if err := os.MkdirAll(f.path("sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	f.lib("sub/libdeep.so", `
#include <stdio.h>
__attribute__((constructor)) static void init(void) { puts("deep init"); }
__attribute__((destructor)) static void fini(void) { puts("deep fini"); }
int deep(void) { return 1; }
`)
	f.lib("libmid.so", `int deep(void); int mid(void) { return deep() + 1; }`, "-L"+f.path("sub"), "-ldeep", "-Wl,-rpath,$ORIGIN/sub")
	prog := f.prog("libs", `
#include <stdio.h>
int mid(void);
int main(void) { printf("%d\n", mid()); return 0; }
`, "-L.", "-lmid", "-Wl,--enable-new-dtags,-rpath,"+f.dir+":/nonexistent")
	env := baseEnv("LD_DEBUG=libs", "LD_LIBRARY_PATH=/nonexistent/lib")
	want := native(t, env, "", prog)
	got := hosted(t, bin, env, "", prog)
	if got.stdout != want.stdout || got.status != want.status {
		t.Errorf("output differs: native %+v, ldgo %+v", want, got)
	}
	w := debugLines(want.stderr)
	if len(w) < 8 {
		t.Fatalf("native LD_DEBUG=libs: too few lines:\n%s", want.stderr)
	}
	// ldgo's own start-up under the system ld.so prints lines first (its
	// libc search); the program's start at the first "find library".
	g := debugLines(got.stderr)
	for i, l := range g {
		if strings.HasPrefix(l, "find library=libmid.so") {
			g = g[i:]
			break
		}
	}
	if strings.Join(w, "\n") != strings.Join(g, "\n") {
		t.Errorf("LD_DEBUG=libs differs (< glibc, > ldgo):\n< %s\n> %s", strings.Join(w, "\n< "), strings.Join(g, "\n> "))
	}
}

// LD_DEBUG=versions and reloc: glibc's lines, the same as glibc's for the
// same run but for the relocation of the adopted libc and ld.so, which
// glibc's ld.so did when ldgo started.
func TestRunDebugVersionsAndReloc(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	f.write("v.map", "LIBV_1 { global: old_api; local: *; };\nLIBV_2 { global: new_api; } LIBV_1;\n")
	f.lib("libv.so", `
int old_api(void) { return 1; }
int new_api(void) { return 2; }
`, "-Wl,--version-script="+f.path("v.map"))
	prog := f.prog("vprog", `
#include <stdio.h>
int old_api(void);
int new_api(void);
int main(void) { printf("%d\n", old_api() + new_api()); return 0; }
`, "-L.", "-lv", "-Wl,-rpath,"+f.dir)
	want := native(t, baseEnv("LD_DEBUG=versions,reloc"), "", prog)
	got := runCmd(t, baseEnv(), "", bin, "run", "--debug", "versions,reloc", prog)
	if got.stdout != want.stdout {
		t.Errorf("output differs: native %q, ldgo %q", want.stdout, got.stdout)
	}
	w, g := strings.Join(debugLines(want.stderr), "\n"), strings.Join(debugLines(got.stderr), "\n")
	if !strings.Contains(w, "checking for version `LIBV_2' in file "+f.path("libv.so")) {
		t.Fatalf("native: no version check of libv.so:\n%s", want.stderr)
	}
	if w != g {
		t.Errorf("LD_DEBUG=versions,reloc differs:\nglibc:\n%s\nldgo:\n%s", w, g)
	}
}

// LD_DEBUG=files and scopes: glibc's lines (addresses aside): each file
// mapped, who needed it, where it went, and every object's lookup scope.
func TestRunDebugFilesAndScopes(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	f.lib("libfs.so", `int fs(void) { return 4; }`, "-Wl,-Bsymbolic")
	prog := f.prog("fsprog", `
#include <stdio.h>
int fs(void);
int main(void) { printf("%d\n", fs()); return 0; }
`, "-L.", "-lfs", "-Wl,-rpath,"+f.dir)
	want := native(t, baseEnv("LD_DEBUG=files,scopes"), "", prog)
	got := runCmd(t, baseEnv(), "", bin, "run", "--debug", "files,scopes", prog)
	w, g := strings.Join(debugLines(want.stderr), "\n"), strings.Join(debugLines(got.stderr), "\n")
	if !strings.Contains(w, "file=libfs.so [0];  generating link map") || !strings.Contains(w, "scope 0: "+f.path("libfs.so")) {
		t.Fatalf("native LD_DEBUG=files,scopes lacks what the test is about:\n%s", want.stderr)
	}
	if got.stdout != want.stdout || w != g {
		t.Errorf("LD_DEBUG=files,scopes differs:\nglibc:\n%s\nldgo:\n%s", w, g)
	}
}

// fixtureLookups keeps the lines of LD_DEBUG output, pid column removed,
// that are about lookups of the symbols named prefix...: the lookups of
// glibc's and libc's own symbols, which ldgo makes otherwise or not at
// all, are left out.
func fixtureLookups(out, prefix string) []string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if !pidColumn.MatchString(l) {
			continue
		}
		l = pidColumn.ReplaceAllString(l, "")
		if strings.HasPrefix(l, "symbol="+prefix) ||
			strings.HasPrefix(l, "binding file ") && strings.Contains(l, " symbol `"+prefix) ||
			strings.Contains(l, ": error: symbol lookup error: undefined symbol: "+prefix) {
			keep = append(keep, l)
		}
	}
	return keep
}

// lookupFixture builds a program whose lookups of its own symbols
// (all named dbg_...) cover what LD_DEBUG=symbols and bindings show: a
// COPY relocation (the program not searched), a reference from one
// library to another, versioned and weak undefined references, PLT slots
// bound at their first call and one never called, libraries dlopen'ed
// and relocated then (one with RTLD_DEEPBIND, which looks in itself
// first), and dlsym, dlvsym, RTLD_DEFAULT and RTLD_NEXT, one of them
// failing; last, a PLT slot whose symbol its library no longer defines,
// which fails at its first call.
func lookupFixture(t *testing.T) string {
	f := newFixture(t)
	f.write("a.map", "DBGA_1 { global: *; };\n")
	libA := `
int dbg_data = 1;
int dbg_shared = 2;
int dbg_called(int x) { return x + dbg_data; }
int dbg_never(void) { return 0; }
`
	f.lib("libdbga.so", libA+"int dbg_gone(void) { return 0; }\n", "-Wl,--version-script="+f.path("a.map"))
	f.lib("libdbgb.so", `
extern int dbg_shared;
int dbg_called(int);
extern int dbg_missing(void) __attribute__((weak));
int dbg_b(int x) { return dbg_called(x) + dbg_shared + (dbg_missing ? dbg_missing() : 0); }
`, "-L.", "-ldbga")
	f.write("p.map", "DBGP_1 { global: *; };\n")
	f.lib("libdbgp.so", `
extern int dbg_shared;
int dbg_called(int);
int dbg_plugin(void) { return dbg_shared + dbg_called(0); }
int dbg_vplugin(void) { return 5; }
`, "-Wl,--version-script="+f.path("p.map"))
	f.lib("libdbgd.so", `
int dbg_shared = 20;
int dbg_deep(void) { return dbg_shared; }
`)
	prog := f.prog("lookups", `
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
extern int dbg_data;
int dbg_called(int);
int dbg_b(int);
int dbg_never(void);
int dbg_gone(void);
extern int dbg_absent __attribute__((weak));
int main(int argc, char **argv) {
	printf("%d %d %d\n", dbg_called(1), dbg_b(2), dbg_data + (&dbg_absent ? 1 : 0));
	if (argc > 5)
		dbg_never();
	void *h = dlopen("`+f.path("libdbgp.so")+`", RTLD_LAZY);
	if (!h) {
		puts(dlerror());
		return 1;
	}
	int (*p)(void) = (int (*)(void))dlsym(h, "dbg_plugin");
	int (*v)(void) = (int (*)(void))dlvsym(h, "dbg_vplugin", "DBGP_1");
	void *d = dlsym(RTLD_DEFAULT, "dbg_called");
	void *n = dlsym(RTLD_NEXT, "dbg_b");
	void *x = dlsym(RTLD_DEFAULT, "dbg_nosuch");
	printf("%d %d %d %d %d %s\n", p(), v(), d == (void *)dbg_called, n == (void *)dbg_b, x == NULL, dlerror());
	void *deep = dlopen("`+f.path("libdbgd.so")+`", RTLD_LAZY | RTLD_DEEPBIND);
	int (*dp)(void) = deep ? (int (*)(void))dlsym(deep, "dbg_deep") : NULL;
	printf("%d\n", dp ? dp() : -1);
	fflush(stdout);
	return dbg_gone();
}
`, "-L.", "-ldbgb", "-ldbga", "-ldl", "-Wl,-rpath,"+f.dir)
	f.lib("libdbga.so", libA, "-Wl,--version-script="+f.path("a.map"))
	return prog
}

// LD_DEBUG=symbols and bindings show every lookup glibc's run makes, in
// its order, with or without the bind cache: the lookups of PLT slots at
// their first call (a slot never called shows none), those of dlopen's
// relocations, and dlsym's, bindings and failures included.
func TestRunDebugSymbols(t *testing.T) {
	bin := buildLdgo(t)
	prog := lookupFixture(t)
	for _, cats := range []string{"symbols,bindings", "bindings"} {
		want := native(t, baseEnv("LD_DEBUG="+cats), "", prog)
		w := fixtureLookups(want.stderr, "dbg_")
		joined := strings.Join(w, "\n")
		for _, s := range []string{"binding file " + prog + " [0] to ", "normal symbol `dbg_vplugin' [DBGP_1]", "undefined symbol: dbg_nosuch", "undefined symbol: dbg_gone, version DBGA_1",
			"libdbgd.so [0] to " + filepath.Join(filepath.Dir(prog), "libdbgd.so") + " [0]: normal symbol `dbg_shared'"} {
			if !strings.Contains(joined, s) {
				t.Fatalf("glibc's LD_DEBUG=%s lacks %q, which the test is about:\n%s", cats, s, joined)
			}
		}
		if strings.Contains(cats, "symbols") {
			for _, s := range []string{"symbol=dbg_data;", "symbol=dbg_called;", "symbol=dbg_missing;", "symbol=dbg_plugin;", "symbol=dbg_gone;"} {
				if !strings.Contains(joined, s) {
					t.Fatalf("glibc's LD_DEBUG=%s lacks %q, which the test is about:\n%s", cats, s, joined)
				}
			}
		}
		cache := t.TempDir()
		for _, run := range []struct {
			what   string
			cached bool
		}{{"cold", false}, {"with the bind cache", true}} {
			got := runCmd(t, baseEnv("XDG_CACHE_HOME="+cache), "", bin, "run", "--debug", cats+",statistics", prog)
			if got.stdout != want.stdout || got.status != want.status || !strings.Contains(got.stderr, "undefined symbol: dbg_gone") {
				t.Errorf("%s, %s: output differs: native %q (status %d), ldgo %q (status %d)", cats, run.what, want.stdout, want.status, got.stdout, got.status)
			}
			m := fromCache.FindStringSubmatch(got.stderr)
			if m == nil || (m[1] != "0") != run.cached {
				t.Errorf("%s, %s: bind cache statistics %q, want cached=%v", cats, run.what, m, run.cached)
			}
			g := fixtureLookups(got.stderr, "dbg_")
			if strings.Join(g, "\n") != joined {
				t.Errorf("%s, %s: LD_DEBUG=%s differs (< glibc, > ldgo):\n< %s\n> %s", cats, run.what, cats, strings.Join(w, "\n< "), strings.Join(g, "\n> "))
			}
		}
	}
}

// helpCategory is a category line of LD_DEBUG=help: the name, and the
// column its description starts in.
var helpCategory = regexp.MustCompile(`^  (\S+) +\S`)

// --debug help prints what glibc's LD_DEBUG=help prints, and exits as it
// does without running the program: glibc's lines for every category
// ldgo accepts, in glibc's layout, the categories of ldgo's own (lazy)
// among them, and no other.
func TestRunDebugHelp(t *testing.T) {
	bin := buildLdgo(t)
	want := runCmd(t, baseEnv("LD_DEBUG=help"), "", "/bin/echo", "ran")
	if !strings.Contains(want.stdout, "LD_DEBUG") {
		t.Fatalf("glibc's LD_DEBUG=help printed no help: %+v", want)
	}
	got := runCmd(t, baseEnv(), "", bin, "run", "--debug", "help", "/bin/echo", "ran")
	if got.status != want.status || got.stderr != want.stderr {
		t.Errorf("--debug help: status %d, stderr %q; glibc's: status %d, stderr %q", got.status, got.stderr, want.status, want.stderr)
	}
	// As ld.so, no program is needed.
	if alone := runCmd(t, baseEnv(), "", bin, "run", "--debug", "help"); alone != got {
		t.Errorf("--debug help without a program: %+v, with one: %+v", alone, got)
	}

	// Whether ldgo takes a category: it warns about those it does not.
	accepted := map[string]bool{}
	accepts := func(c string) bool {
		if ok, seen := accepted[c]; seen {
			return ok
		}
		r := runCmd(t, baseEnv(), "", bin, "run", "--debug", c, "/bin/true")
		ok := r.status == 0 && !strings.Contains(r.stderr, "`"+c+"'")
		accepted[c] = ok
		return ok
	}
	column := 0
	var glibcNames []string
	var wantLines []string
	for _, l := range strings.Split(want.stdout, "\n") {
		m := helpCategory.FindStringSubmatchIndex(l)
		if m == nil {
			wantLines = append(wantLines, l)
			continue
		}
		name := l[m[2]:m[3]]
		glibcNames = append(glibcNames, name)
		column = m[1] - 1
		if accepts(name) {
			wantLines = append(wantLines, l)
		}
	}
	var gotLines, own []string
	for _, l := range strings.Split(got.stdout, "\n") {
		m := helpCategory.FindStringSubmatchIndex(l)
		if m != nil && !slices.Contains(glibcNames, l[m[2]:m[3]]) {
			name := l[m[2]:m[3]]
			own = append(own, name)
			if m[1]-1 != column || !accepts(name) {
				t.Errorf("--debug help: line %q: want a category ldgo accepts, described from column %d as glibc's are", l, column)
			}
			continue
		}
		gotLines = append(gotLines, l)
	}
	if !slices.Equal(gotLines, wantLines) {
		t.Errorf("--debug help differs from glibc's LD_DEBUG=help, without the categories ldgo does not take (ldgo's own left out):\nglibc:\n%s\nldgo:\n%s", strings.Join(wantLines, "\n"), strings.Join(gotLines, "\n"))
	}
	if !slices.Contains(own, "lazy") {
		t.Errorf("--debug help does not list lazy:\n%s", got.stdout)
	}
}

// all is what glibc's help says: the categories listed before it, not
// statistics (nor lazy, listed after it).
func TestRunDebugAll(t *testing.T) {
	bin := buildLdgo(t)
	want := native(t, baseEnv("LD_DEBUG=all"), "", "/bin/true")
	got := runCmd(t, baseEnv(), "", bin, "run", "--debug", "all", "/bin/true")
	if !strings.Contains(want.stderr, "symbol=") || !strings.Contains(got.stderr, "symbol=") {
		t.Fatalf("LD_DEBUG=all printed no symbols lines:\nglibc:\n%s\nldgo:\n%s", want.stderr, got.stderr)
	}
	for _, s := range []string{"runtime linker statistics", "ldgo: lazy:"} {
		if strings.Contains(got.stderr, s) != strings.Contains(want.stderr, s) {
			t.Errorf("LD_DEBUG=all: %q in glibc's output: %v, in ldgo's: %v", s, strings.Contains(want.stderr, s), strings.Contains(got.stderr, s))
		}
	}
}
