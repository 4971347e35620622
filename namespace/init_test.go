package namespace_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/ldgo/ldgo/internal/testelf"
	"github.com/ldgo/ldgo/linkmap"
)

// TestInitOrder: the order initializers run in, dependencies first, with
// glibc 2.36's depth-first sort (_dl_sort_maps) where the graph has
// cycles; finalizers run in the reverse order. The program's run prints
// the order its libraries' constructors and destructors ran in.
func TestInitOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		graph map[string][]string
		main  []string
		want  []string // the libraries, in initialization order
	}{
		{"dependencies first", map[string][]string{"a": {"b"}, "b": nil}, []string{"a", "b"},
			[]string{"b", "a"}},
		// The sort walks the load order from its end: what was loaded
		// first and needs nothing is initialized last.
		{"a library needing nothing, loaded first", map[string][]string{"a": nil, "b": {"d"}, "d": {"e"}, "e": nil}, []string{"a", "b"},
			[]string{"e", "d", "b", "a"}},
		{"a cycle, the program needing one end", map[string][]string{"x": {"y"}, "y": {"x"}}, []string{"y", "x"},
			[]string{"y", "x"}},
		{"a cycle, the program needing the other end", map[string][]string{"x": {"y"}, "y": {"x"}}, []string{"x", "y"},
			[]string{"x", "y"}},
		{"a cycle below a diamond", map[string][]string{"a": {"b", "d"}, "b": {"e"}, "d": {"e"}, "e": {"b"}}, []string{"a"},
			[]string{"b", "e", "d", "a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := testelf.New(t)
			needs(t, d, tc.graph)
			prog := d.Build("main", mainSource, libs(tc.main...)...)
			env, opts := libraryPath(d)
			ns := load(t, prog, opts)

			var inits, finis []string
			for _, l := range d.Lines(env, prog) {
				if name, ok := strings.CutPrefix(l, "init "); ok {
					inits = append(inits, name)
				} else if name, ok := strings.CutPrefix(l, "fini "); ok {
					finis = append(finis, name)
				}
			}
			if !slices.Equal(inits, tc.want) {
				t.Fatalf("natively the initializers run in the order %q, want %q", inits, tc.want)
			}
			// Initfini is the order finalizers run in: initialization's
			// reversed.
			got := libNames(d, ns.Main.Initfini)
			if !slices.Equal(got, finis) {
				t.Errorf("finalization order %q, glibc's %q", got, finis)
			}
			slices.Reverse(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("initialization order %q, want %q", got, tc.want)
			}
		})
	}
}

// libNames names the fixture libraries of maps as the graphs do: "a" for
// liba.so.
func libNames(d *testelf.Dir, maps []*linkmap.Map) []string {
	var out []string
	for _, n := range fixtureNames(d, maps) {
		out = append(out, strings.TrimSuffix(strings.TrimPrefix(n, "lib"), ".so"))
	}
	return out
}
