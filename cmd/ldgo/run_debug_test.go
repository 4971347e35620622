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
