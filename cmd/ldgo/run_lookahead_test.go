package main

import (
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// A cold start looks up what the PLT slots bind to on a second goroutine
// while the objects are relocated, once there are enough of them. The
// bindings, the statistics and the bind-cache record must come out as if
// the lookups had been made one after the other: the first calls print
// glibc's bindings, the counts equal those of a run that makes every
// lookup itself (LD_DEBUG=symbols turns the lookahead off), and a run
// from the cache binds the same. Some functions are protected, whose
// lookups the second goroutine leaves to the first.
func TestRunManyLazySlots(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	const n = 600
	var lib, decls, calls strings.Builder
	for i := 0; i < n; i++ {
		vis := ""
		if i%50 == 0 {
			vis = `__attribute__((visibility("protected"))) `
		}
		fmt.Fprintf(&lib, "%sunsigned f%d(unsigned x) { return x * 2654435761u + %du; }\n", vis, i, i)
		fmt.Fprintf(&decls, "unsigned f%d(unsigned);\n", i)
		fmt.Fprintf(&calls, "\tx = f%d(x);\n", i)
	}
	f.lib("libmany.so", lib.String())
	prog := f.prog("many", "#include <stdio.h>\n"+decls.String()+
		"int main(void) {\n\tunsigned x = 1;\n"+calls.String()+"\tprintf(\"%u\\n\", x);\n\treturn 0;\n}\n",
		"-L.", "-lmany", "-Wl,-rpath,"+f.dir)
	libPath := f.path("libmany.so")

	env := engineEnv("LD_DEBUG=bindings", "LDGO_BIND_CACHE=off")
	want := native(t, env, "", prog)
	got := hosted(t, bin, env, "", prog)
	if got.stdout != want.stdout || got.status != want.status {
		t.Fatalf("output differs: native %q (%d), ldgo %q (%d)", want.stdout, want.status, got.stdout, got.status)
	}
	w, g := bindingsOf(want.stderr, prog, libPath), bindingsOf(got.stderr, prog, libPath)
	if len(w) < n {
		t.Fatalf("native bindings: %d lines, want at least %d", len(w), n)
	}
	sameLines(t, "LD_DEBUG=bindings", w, g)

	counts := regexp.MustCompile(`(?m)^ *\d+:\t( *(final )?number of relocations( from cache)?: \d+)$`)
	lookedAhead := regexp.MustCompile(`(?m)^ *\d+:\t *ldgo: PLT slots looked up ahead: (\d+)$`)
	statistics := func(debug string) (lines []string, ahead string) {
		r := runCmd(t, engineEnv("LDGO_BIND_CACHE=off"), "", bin, "run", "--debug", debug, prog)
		for _, m := range counts.FindAllStringSubmatch(r.stderr, -1) {
			lines = append(lines, m[1])
		}
		if m := lookedAhead.FindStringSubmatch(r.stderr); m != nil {
			ahead = m[1]
		}
		return lines, ahead
	}
	withAhead, n1 := statistics("statistics")
	inOrder, n2 := statistics("statistics,symbols")
	// Every slot but the protected functions' (one in 50) is looked up
	// ahead: the program's n functions and printf; on one CPU, none.
	wantAhead := fmt.Sprint(n + 1 - n/50)
	if runtime.NumCPU() < 2 {
		wantAhead = "0"
	}
	if n1 != wantAhead || n2 != "0" {
		t.Errorf("PLT slots looked up ahead: %q, and %q with LD_DEBUG=symbols; want %s and 0", n1, n2, wantAhead)
	}
	if len(withAhead) != 4 || strings.Join(withAhead, "\n") != strings.Join(inOrder, "\n") {
		t.Errorf("counts with the lookahead:\n\t%s\nwithout:\n\t%s", strings.Join(withAhead, "\n\t"), strings.Join(inOrder, "\n\t"))
	}

	cacheEnv := engineEnv("XDG_CACHE_HOME=" + t.TempDir())
	var runs [2]result
	for i := range runs {
		runs[i] = runCmd(t, cacheEnv, "", bin, "run", "--debug", "bindings,statistics", prog)
	}
	if !strings.Contains(runs[0].stderr, "bindings from the bind cache: 0\n") || strings.Contains(runs[1].stderr, "bindings from the bind cache: 0\n") {
		t.Fatalf("want a cold run, then one from the cache:\n%s\n%s", runs[0].stderr, runs[1].stderr)
	}
	sameLines(t, "bindings cold and cached", bindingsOf(runs[0].stderr, prog, libPath), bindingsOf(runs[1].stderr, prog, libPath))
}
