package namespace_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ldgo/ldgo/analyze"
	"github.com/ldgo/ldgo/internal/testelf"
)

// TestSearchOrder: where each library of a namespace is found, by whose
// RPATH or RUNPATH and in which order with LD_LIBRARY_PATH: the
// namespace gives the search each requester and its loaders. Every
// program needs liba.so, which needs libb.so; ldd says where glibc finds
// them.
func TestSearchOrder(t *testing.T) {
	t.Parallel()
	d := testelf.New(t)
	const lib = `void f(void) {}`
	for _, dir := range []string{"r", "l"} {
		d.Build(dir+"/libb.so", lib)
		d.Build(dir+"/liba.so", lib, "-L"+dir, "-lb")
	}
	// hide/liba.so has a RUNPATH of its own, where nothing is.
	d.Build("hide/liba.so", lib, "-Lr", "-lb", "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/nowhere")
	// sub/liba.so finds libb.so below itself.
	d.Build("sub/deps/libb.so", lib)
	d.Build("sub/liba.so", lib, "-Lsub/deps", "-lb", "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/deps")

	const rpath, runpath = "-Wl,--disable-new-dtags", "-Wl,--enable-new-dtags"
	for i, tc := range []struct {
		name        string
		flags       []string // the program's
		libraryPath string
		a, b        string // where liba.so and libb.so are found
	}{
		{"the program's RPATH serves its libraries' needs", []string{rpath, "-Wl,-rpath,$ORIGIN/r", "-Lr"}, "",
			"r/liba.so", "r/libb.so"},
		{"the program's RUNPATH serves only its own", []string{runpath, "-Wl,-rpath,$ORIGIN/r", "-Lr"}, "",
			"r/liba.so", "not found"},
		{"a library's RUNPATH hides the program's RPATH from its needs", []string{rpath, "-Wl,-rpath,$ORIGIN/hide:$ORIGIN/r", "-Lhide"}, "",
			"hide/liba.so", "not found"},
		{"RPATH comes before LD_LIBRARY_PATH", []string{rpath, "-Wl,-rpath,$ORIGIN/r", "-Lr"}, "l",
			"r/liba.so", "r/libb.so"},
		{"LD_LIBRARY_PATH comes before RUNPATH", []string{runpath, "-Wl,-rpath,$ORIGIN/r", "-Lr"}, "l",
			"l/liba.so", "l/libb.so"},
		{"$ORIGIN is each object's own directory", []string{runpath, "-Wl,-rpath,$ORIGIN/sub", "-Lsub"}, "",
			"sub/liba.so", "sub/deps/libb.so"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prog := d.Build(fmt.Sprintf("main%d", i), mainSource, append(tc.flags, "-la")...)
			var env []string
			var opts analyze.Options
			if tc.libraryPath != "" {
				env = []string{"LD_LIBRARY_PATH=" + d.File(tc.libraryPath)}
				opts.LibraryPath = d.File(tc.libraryPath)
			}
			want := map[string]string{"liba.so": tc.a, "libb.so": tc.b}
			listed := 0
			for _, l := range d.Ldd(env, prog) {
				name, path, ok := strings.Cut(strings.TrimSpace(l), " => ")
				if w, fixture := want[name]; ok && fixture {
					listed++
					if !strings.HasPrefix(path, w) {
						t.Errorf("ldd finds %s at %s, want %s", name, path, w)
					}
				}
			}
			if listed != len(want) {
				t.Errorf("ldd lists %d of liba.so and libb.so", listed)
			}
			ns := load(t, prog, opts)
			found := map[string]string{}
			for _, dep := range ns.Deps {
				if dep.Map.Faked {
					found[dep.Name] = "not found"
				} else if _, ok := found[dep.Name]; !ok {
					found[dep.Name] = d.Short(dep.Map.Name)
				}
			}
			for name, w := range want {
				if found[name] != w {
					t.Errorf("%s found at %q, want %s", name, found[name], w)
				}
			}
		})
	}
}
