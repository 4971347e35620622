package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The shared libraries' own undefined references: errors for an
// executable (--no-allow-shlib-undefined, GNU ld's default there), not
// for a shared library (--allow-shlib-undefined), with the libraries a
// library needs found and read as GNU ld finds them. GNU ld is the
// oracle for the exit status, the messages and the program.

var shlibUndefSources = map[string]string{
	// foo calls bar, which it does not define, and a weak function it
	// may do without.
	"foo.c": `extern int bar(void);
extern int maybe(void) __attribute__((weak));
int foo(void) { return bar() + (maybe ? maybe() : 0); }
`,
	"bar.c": "int bar(void) { return 7; }\n",
	// A bar that calls what nothing defines.
	"qux.c": "extern int zzz(void);\nint bar(void) { return zzz(); }\n",
	"main.c": `#include <stdio.h>
extern int foo(void);
int main(void) { printf("%d\n", foo()); return 0; }
`,
	// The program defines bar, which the library calls, as hidden.
	"hidden.c": `#include <stdio.h>
extern int foo(void);
__attribute__((visibility("hidden"))) int bar(void) { return 7; }
int main(void) { printf("%d\n", foo()); return 0; }
`,
	"missing.c": `extern int foo(void);
extern int missing(void);
int main(void) { return foo() + missing(); }
`,
	"both.c": `extern int foo(void);
extern int bar(void);
int main(void) { return foo() + bar(); }
`,
}

func TestLinkShlibUndefined(t *testing.T) {
	b := newLinkBuild(t, shlibUndefSources)
	b.cc("gcc", "-c", "-fPIC", "main.c", "both.c", "missing.c", "hidden.c")
	// The libraries live in lib/, so that only the search finds what
	// one of them needs.
	for _, l := range linkers {
		if err := os.MkdirAll(b.path(l, "lib"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b.cc("gcc", "-shared", "-fPIC", "-o", "lib/libfoo.so", "foo.c")
	b.cc("gcc", "-shared", "-fPIC", "-o", "lib/libbar.so", "bar.c")
	b.cc("gcc", "-shared", "-fPIC", "-o", "lib/libqux.so", "qux.c")
	// libfoo-bar needs libbar (DT_NEEDED), libfoo-qux libqux, and
	// libfoo-run finds libbar through its own DT_RUNPATH.
	b.cc("gcc", "-shared", "-fPIC", "-o", "lib/libfoo-bar.so", "foo.c", "-Llib", "-lbar")
	b.cc("gcc", "-shared", "-fPIC", "-o", "lib/libfoo-qux.so", "foo.c", "-Llib", "-lqux")
	b.cc("gcc", "-shared", "-fPIC", "-o", "lib/libfoo-run.so", "foo.c", "-Llib", "-lbar", "-Wl,-rpath,$ORIGIN")

	for _, c := range []struct {
		name string
		args []string
		runs bool // the link succeeds and the program runs (with LD_LIBRARY_PATH=lib)
	}{
		{"undefined in a library", []string{"main.o", "lib/libfoo.so"}, false},
		{"--allow-shlib-undefined", []string{"main.o", "lib/libfoo.so", "-Wl,--allow-shlib-undefined"}, false},
		{"a PIE", []string{"-pie", "main.o", "lib/libfoo.so"}, false},
		{"defined by a library after it", []string{"main.o", "lib/libfoo.so", "lib/libbar.so"}, true},
		// --as-needed (gcc's default here): a library before the one
		// that refers to it is dropped, one after is kept for it.
		{"as-needed library before", []string{"main.o", "lib/libbar.so", "lib/libfoo.so"}, false},
		{"as-needed library after", []string{"main.o", "lib/libfoo.so", "-Wl,--as-needed", "lib/libbar.so"}, true},
		{"no-as-needed library before", []string{"main.o", "-Wl,--no-as-needed", "lib/libbar.so", "lib/libfoo.so"}, true},
		{"needed library not found", []string{"main.o", "lib/libfoo-bar.so"}, false},
		{"needed library not found with -L", []string{"main.o", "lib/libfoo-bar.so", "-Llib"}, false},
		{"needed library by -rpath-link", []string{"main.o", "lib/libfoo-bar.so", "-Wl,-rpath-link,lib"}, true},
		{"needed library by -rpath", []string{"main.o", "lib/libfoo-bar.so", "-Wl,-rpath,lib"}, true},
		{"needed library by its DT_RUNPATH", []string{"main.o", "lib/libfoo-run.so"}, true},
		{"undefined in a needed library", []string{"main.o", "lib/libfoo-qux.so", "-Wl,-rpath-link,lib"}, false},
		{"referred to by the program too", []string{"both.o", "lib/libfoo.so"}, false},
		// The program's reference to what only a library loaded for
		// another's DT_NEEDED defines: "DSO missing from command line".
		{"defined only by a needed library", []string{"both.o", "lib/libfoo-bar.so", "-Wl,-rpath-link,lib"}, false},
		{"needed library on the command line", []string{"both.o", "lib/libfoo-bar.so", "lib/libbar.so"}, false},
		{"shared output", []string{"-shared", "main.o", "lib/libfoo.so"}, false},
		{"shared output --no-allow-shlib-undefined", []string{"-shared", "main.o", "lib/libfoo.so", "-Wl,--no-allow-shlib-undefined"}, false},
		{"last option wins", []string{"main.o", "lib/libfoo.so", "-Wl,--allow-shlib-undefined,--no-allow-shlib-undefined"}, false},
		// --copy-dt-needed-entries, for the libraries after it: what
		// they need binds the objects' references and is needed.
		{"--copy-dt-needed-entries", []string{"both.o", "-Wl,--copy-dt-needed-entries", "lib/libfoo-bar.so", "-Wl,-rpath-link,lib"}, false},
		{"--copy-dt-needed-entries after the library", []string{"both.o", "lib/libfoo-bar.so", "-Wl,--copy-dt-needed-entries", "-Wl,-rpath-link,lib"}, false},
		{"--no-copy-dt-needed-entries", []string{"both.o", "-Wl,--copy-dt-needed-entries,--no-copy-dt-needed-entries", "lib/libfoo-bar.so", "-Wl,-rpath-link,lib"}, false},
		{"--copy-dt-needed-entries, shared output", []string{"-shared", "both.o", "-Wl,--copy-dt-needed-entries", "lib/libfoo-bar.so", "-Wl,-rpath-link,lib"}, false},
		{"--copy-dt-needed-entries, not needed", []string{"main.o", "-Wl,--copy-dt-needed-entries", "lib/libfoo-bar.so", "-Wl,-rpath-link,lib"}, true},
		// A hidden definition a library refers to: an error in an
		// executable, whatever --allow-shlib-undefined says, unless
		// a library of the link defines the name too.
		{"hidden definition", []string{"hidden.o", "lib/libfoo.so"}, false},
		{"hidden definition, a PIE", []string{"-pie", "hidden.o", "lib/libfoo.so", "-Wl,--allow-shlib-undefined"}, false},
		{"hidden definition, as-needed library defining it", []string{"hidden.o", "lib/libfoo.so", "lib/libbar.so"}, false},
		{"hidden definition, library defining it", []string{"hidden.o", "lib/libfoo.so", "-Wl,--no-as-needed", "lib/libbar.so"}, true},
		{"hidden definition, shared output", []string{"-shared", "hidden.o", "lib/libfoo.so"}, false},
		// --unresolved-symbols says it of the objects and the
		// libraries both, whatever the output.
		{"--unresolved-symbols=report-all, shared output", []string{"-shared", "missing.o", "lib/libfoo.so", "-Wl,--unresolved-symbols=report-all"}, false},
		{"--unresolved-symbols=ignore-in-shared-libs", []string{"missing.o", "lib/libfoo.so", "-Wl,--unresolved-symbols=ignore-in-shared-libs"}, false},
		{"--unresolved-symbols=ignore-in-shared-libs, shared output", []string{"-shared", "missing.o", "lib/libfoo.so", "-Wl,--unresolved-symbols=ignore-in-shared-libs"}, false},
		{"--unresolved-symbols=ignore-in-shared-libs, defined", []string{"main.o", "lib/libfoo.so", "-Wl,--unresolved-symbols=ignore-in-shared-libs"}, false},
		{"--unresolved-symbols=bogus", []string{"main.o", "-Wl,--unresolved-symbols=bogus"}, false},
	} {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			type outcome struct {
				ok   bool
				msgs []string
			}
			var got []outcome
			for _, l := range linkers {
				os.Remove(b.path(l, "prog"))
				out, err := b.ccOne(l, "gcc", append(append([]string{}, c.args...), "-o", "prog")...)
				msgs := shlibMessages(out, filepath.Join(b.ld, "ld"))
				got = append(got, outcome{err == nil, msgs})
			}
			if got[0].ok != got[1].ok || !slices.Equal(got[0].msgs, got[1].msgs) {
				t.Fatalf("GNU ld: linked %v\n\t%s\nldgo: linked %v\n\t%s", got[0].ok, strings.Join(got[0].msgs, "\n\t"),
					got[1].ok, strings.Join(got[1].msgs, "\n\t"))
			}
			if !got[1].ok {
				if _, err := os.Stat(b.path("ldgo", "prog")); err == nil {
					t.Errorf("a failed link left its output")
				}
				return
			}
			b.check("prog")
			if c.runs {
				r := b.run(append(baseEnv(), "LD_LIBRARY_PATH=lib"), "prog")
				if r.status != 0 || strings.TrimSpace(r.stdout) != "7" {
					t.Errorf("prog: status %d, output %q; want 7", r.status, r.stdout)
				}
			}
		})
	}
}

// shlibMessages are a link's messages, warnings included, with the
// linker's name removed, sorted: GNU ld reports the libraries'
// undefined symbols in its hash table's order.
func shlibMessages(out, ldPath string) []string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		for _, p := range []string{"/usr/bin/ld.bfd: ", "/usr/bin/ld: ", ldPath + ": "} {
			l = strings.TrimPrefix(l, p)
		}
		if l != "" {
			lines = append(lines, l)
		}
	}
	slices.Sort(lines)
	return lines
}
