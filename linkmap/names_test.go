package linkmap_test

import (
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/ldgo/ldgo/analyze"
	"github.com/ldgo/ldgo/internal/testelf"
	"github.com/ldgo/ldgo/linkmap"
)

var bindingObjects = regexp.MustCompile("^binding file (.*) \\[0\\] to (.*) \\[0\\]: ")

// TestDisplayName: objects are named as glibc names them in its LD_DEBUG
// lines: the program as it was given, a library by the path it was found
// at (relative when the search directory is), the dynamic linker by the
// program's PT_INTERP, the vDSO by its SONAME.
func TestDisplayName(t *testing.T) {
	d := testelf.New(t)
	d.Build("lib/liba.so", `int a(void) { return 1; }`)
	d.Build("main", `int a(void); int main(void) { return a(); }`, "-Llib", "-la")
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(d.Path); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)

	for _, tc := range []struct {
		name, prog, libraryPath string
	}{
		{"relative names", "./main", "lib"},
		{"absolute names", d.File("main"), d.File("lib")},
		{"a library path with a trailing slash", "./main", "./lib/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var glibc []string
			for _, l := range d.Debug([]string{"LD_LIBRARY_PATH=" + tc.libraryPath}, tc.prog, "bindings") {
				if m := bindingObjects.FindStringSubmatch(l); m != nil {
					glibc = append(glibc, m[1], m[2])
				}
			}
			slices.Sort(glibc)
			glibc = slices.Compact(glibc)

			a, err := analyze.Load(tc.prog, analyze.Options{LibraryPath: tc.libraryPath, PreloadFile: "-"})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			var names []string
			for _, m := range a.NS.Chain {
				names = append(names, d.Short(m.DisplayName(tc.prog))) // as Debug gives glibc's
			}
			slices.Sort(names)
			if !slices.Equal(names, glibc) {
				t.Errorf("objects named\n\t%q\nglibc names them\n\t%q", names, glibc)
			}
		})
	}
}

// TestNameMatches: an object answers to its path (l_name) and to every
// name it was asked for by or matched (l_libname), by the whole string,
// as glibc's _dl_name_match_p compares them; a name added twice is kept
// once.
func TestNameMatches(t *testing.T) {
	m := &linkmap.Map{Name: "/lib/x/liba.so"}
	m.AddName("liba.so")
	m.AddName("liba.so.1")
	m.AddName("liba.so")
	if want := []string{"liba.so", "liba.so.1"}; !slices.Equal(m.Names, want) {
		t.Errorf("names %q, want %q", m.Names, want)
	}
	for name, want := range map[string]bool{
		"/lib/x/liba.so":   true,
		"liba.so":          true,
		"liba.so.1":        true,
		"/lib/y/liba.so":   false,
		"/lib/x/./liba.so": false,
		"liba":             false,
		"":                 false,
	} {
		if got := m.NameMatches(name); got != want {
			t.Errorf("NameMatches(%q) = %v, want %v", name, got, want)
		}
	}
}
