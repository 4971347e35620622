package main

import (
	"os"
	"path/filepath"
	"regexp"
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
