package namespace_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/ldgo/ldgo/analyze"
	"github.com/ldgo/ldgo/internal/testelf"
	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/namespace"
)

// The fixtures are gcc-built programs and libraries, loaded by the engine
// over their files as the analysis commands load them (analyze.Load
// opens a namespace over a file image). What each test expects comes
// from glibc run over the same files: ldd, LD_DEBUG, the programs' own
// output.

// load opens prog's namespace with opts.
func load(t *testing.T, prog string, opts analyze.Options) *namespace.Namespace {
	t.Helper()
	if opts.PreloadFile == "" {
		opts.PreloadFile = "-"
	}
	a, err := analyze.Load(prog, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	if a.Err != nil {
		t.Fatal(a.Err)
	}
	return a.NS
}

// libraryPath is the fixture directory as the library path, for glibc
// and for the engine.
func libraryPath(d *testelf.Dir) ([]string, analyze.Options) {
	return []string{"LD_LIBRARY_PATH=" + d.Path}, analyze.Options{LibraryPath: d.Path}
}

// fixtureNames names the maps that are fixtures, by their paths in the
// directory, in the order given: the system's libraries are left out.
func fixtureNames(d *testelf.Dir, maps []*linkmap.Map) []string {
	var names []string
	for _, m := range maps {
		if strings.HasPrefix(m.Name, d.Path+"/") {
			names = append(names, d.Short(m.Name))
		}
	}
	return names
}

// needs builds the libraries of a dependency graph, each needing the
// ones listed (by name, "a" for liba.so), with a constructor and a
// destructor that print "init a" and "fini a". An empty library stands
// for each at first, so that each can be linked against its needs
// whatever the order, cycles included.
func needs(t *testing.T, d *testelf.Dir, graph map[string][]string, flags ...string) {
	t.Helper()
	d.GCC("-shared", "-o", "stub.so", "-x", "c", "/dev/null")
	stub, err := os.ReadFile(d.File("stub.so"))
	if err != nil {
		t.Fatal(err)
	}
	for name := range graph {
		if err := os.WriteFile(d.File("lib"+name+".so"), stub, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, deps := range graph {
		d.Build("lib"+name+".so", fmt.Sprintf(`
#include <stdio.h>
__attribute__((constructor)) static void init(void) { puts("init %[1]s"); }
__attribute__((destructor)) static void fini(void) { puts("fini %[1]s"); }
`, name), append(libs(deps...), flags...)...)
	}
}

// libs turns names into -l flags.
func libs(names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, "-l"+n)
	}
	return out
}

const mainSource = `int main(void) { return 0; }`

// lddFixtures returns the fixtures of ldd's list, in its order: the
// names of the lines that found a file in the directory.
func lddFixtures(lines []string) []string {
	var out []string
	for _, l := range lines {
		if _, path, ok := strings.Cut(l, " => "); ok && !strings.HasPrefix(path, "/") && !strings.HasPrefix(path, "not found") {
			out = append(out, strings.Fields(path)[0])
		}
	}
	return out
}
