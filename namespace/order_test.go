package namespace_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/ldgo/ldgo/internal/testelf"
	"github.com/ldgo/ldgo/linkmap"
)

// TestLoadOrder: the objects of a program in glibc's load order (the
// order ldd lists them): the program's needs breadth first, each object
// once, preloads before them all.
func TestLoadOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		graph   map[string][]string
		main    []string
		preload []string
		want    []string
	}{
		{
			name:  "breadth first",
			graph: map[string][]string{"a": {"d"}, "b": {"d", "e"}, "d": {"f"}, "e": nil, "f": nil},
			main:  []string{"a", "b"},
			want:  []string{"liba.so", "libb.so", "libd.so", "libe.so", "libf.so"},
		},
		{
			name:  "a dependency cycle",
			graph: map[string][]string{"a": {"b"}, "b": {"a"}},
			main:  []string{"a"},
			want:  []string{"liba.so", "libb.so"},
		},
		{
			name:    "preloads first, in order, a needed one only once",
			graph:   map[string][]string{"a": {"b"}, "b": nil, "p": nil, "q": nil},
			main:    []string{"a"},
			preload: []string{"libq.so", "libb.so", "libp.so"},
			want:    []string{"libq.so", "libb.so", "libp.so", "liba.so"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := testelf.New(t)
			needs(t, d, tc.graph)
			prog := d.Build("main", mainSource, libs(tc.main...)...)
			env, opts := libraryPath(d)
			if tc.preload != nil {
				env = append(env, "LD_PRELOAD="+strings.Join(tc.preload, " "))
				opts.Preload = tc.preload
			}
			ns := load(t, prog, opts)
			if got := fixtureNames(d, ns.Chain); !slices.Equal(got, tc.want) {
				t.Errorf("load order %q, want %q", got, tc.want)
			}
			if ldd := lddFixtures(d.Ldd(env, prog)); !slices.Equal(ldd, tc.want) {
				t.Errorf("ldd lists %q, want %q", ldd, tc.want)
			}
			if got := fixtureNames(d, ns.Preloads); !slices.Equal(got, tc.preload) {
				t.Errorf("preloads %q, want %q", got, tc.preload)
			}
		})
	}
}

// TestLoadedBySoname: a library needed by its SONAME is the object
// already loaded under another name, not a file to search for: glibc
// matches the names of loaded objects and their SONAMEs first.
func TestLoadedBySoname(t *testing.T) {
	t.Parallel()
	d := testelf.New(t)
	const x = "void x(void) {}"
	// liby.so needs libx.so.1, a name no file in the directory has; the
	// program needs libx.so, whose SONAME is libx.so.1, and liby.so.
	d.Build("libx.so", x, "-Wl,-soname,libx.so.1")
	d.Build("liby.so", "", "-lx")
	d.Build("libx.so", x)
	prog := d.Build("main", mainSource, "-lx", "-ly")
	d.Build("libx.so", x, "-Wl,-soname,libx.so.1")

	env, opts := libraryPath(d)
	ns := load(t, prog, opts)
	want := []string{"libx.so", "liby.so"}
	if got := fixtureNames(d, ns.Chain); !slices.Equal(got, want) {
		t.Errorf("load order %q, want %q", got, want)
	}
	ldd := d.Ldd(env, prog)
	if got := lddFixtures(ldd); !slices.Equal(got, want) || slices.ContainsFunc(ldd, func(l string) bool { return strings.Contains(l, "not found") }) {
		t.Errorf("ldd lists\n%s\nwant %q and nothing missing", strings.Join(ldd, "\n"), want)
	}
	for _, dep := range ns.Deps {
		if dep.Name != "libx.so.1" {
			continue
		}
		if dep.Map == nil || dep.Map.Faked || dep.Found != nil || d.Short(dep.Map.Name) != "libx.so" {
			t.Errorf("libx.so.1 resolved to %v (searched: %v), want the loaded libx.so, without a search", fixtureNames(d, []*linkmap.Map{dep.Map}), dep.Found != nil || dep.Map.Faked)
		}
	}
}
