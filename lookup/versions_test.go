package lookup_test

import (
	"debug/elf"
	"strings"
	"testing"

	"github.com/ldgo/ldgo/internal/testelf"
	"github.com/ldgo/ldgo/lookup"
	"github.com/ldgo/ldgo/namespace"
)

// Four builds of one library, libv.so, each in a directory of its own.
// Every definition returns its own name as this package's tests write
// it (see definition), so that a native run says which one it bound to.
var libvBuilds = []struct {
	dir, src, versions string
}{
	// foo at version V1, the default.
	{"old", `const char *foo(void) { return "libv.so:foo@@V1"; }`,
		`V1 { global: foo; local: *; };`},
	// foo at V1, now hidden, and at V2, the default.
	{"new", `
const char *foo_v1(void) { return "libv.so:foo@V1"; }
const char *foo_v2(void) { return "libv.so:foo@@V2"; }
__asm__(".symver foo_v1, foo@V1");
__asm__(".symver foo_v2, foo@@V2");
`, `V1 { global: foo; local: *; }; V2 { global: foo; } V1;`},
	// foo without versions.
	{"none", `const char *foo(void) { return "libv.so:foo"; }`, ""},
	// foo only at V2, hidden; V1 (the oldest) holds bar.
	{"obsolete", `
const char *bar(void) { return "libv.so:bar@@V1"; }
const char *foo_v2(void) { return "libv.so:foo@V2"; }
__asm__(".symver foo_v2, foo@V2");
`, `V1 { global: bar; local: *; }; V2 { global: foo; } V1;`},
}

// buildLibv builds libvBuilds and, for each, a program linked against
// it, dir/main, that calls foo and prints what it returns (but for the
// obsolete one, which no program links against: ld, too, finds no foo
// for an unversioned reference there).
func buildLibv(t *testing.T) *testelf.Dir {
	d := testelf.New(t)
	for _, b := range libvBuilds {
		flags := []string{"-Wl,-soname,libv.so"}
		if b.versions != "" {
			d.Write(b.dir+"/v.map", b.versions)
			flags = append(flags, "-Wl,--version-script="+b.dir+"/v.map")
		}
		d.Build(b.dir+"/libv.so", b.src, flags...)
		if b.dir == "obsolete" {
			continue
		}
		d.Build(b.dir+"/main", `
#include <stdio.h>
const char *foo(void);
int main(void) { puts(foo()); return 0; }
`, "-L"+b.dir, "-lv")
	}
	return d
}

// TestVersionedReferences: which definition of foo a program's reference
// binds to, by the version it was linked against and the library it
// meets at run time (glibc's check_match).
func TestVersionedReferences(t *testing.T) {
	t.Parallel()
	d := buildLibv(t)
	for _, tc := range []struct {
		name string
		// linked is the build the program was linked against, run the
		// one it runs with.
		linked, run string
		want        string // the definition, or lookup's error
	}{
		{"a reference to the default version", "new", "new", "libv.so:foo@@V2"},
		{"a reference to a version now hidden binds to it by name", "old", "new", "libv.so:foo@V1"},
		{"an unversioned reference takes the oldest version, hidden or not", "none", "new", "libv.so:foo@V1"},
		{"a reference to a version the file does not define", "new", "old", "undefined symbol: foo, version V2"},
		{"an unversioned reference passes over a hidden version that is not the oldest", "none", "obsolete", "undefined symbol: foo"},
		{"a reference to the default version of a file that now has others", "old", "old", "libv.so:foo@@V1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prog, libDir := d.File(tc.linked+"/main"), d.File(tc.run)
			got := load(t, d, prog, libDir).reference("main", "foo", elf.R_X86_64_JMP_SLOT)
			answer := definition(got.res)
			if got.err != nil {
				answer = got.err.Error()
				if _, ok := got.err.(*lookup.UndefinedError); !ok {
					t.Errorf("error %q is a %T, want a *lookup.UndefinedError", got.err, got.err)
				}
			}
			if answer != tc.want {
				t.Errorf("lookup found %s, want %s", answer, tc.want)
			}
			env := []string{"LD_LIBRARY_PATH=" + libDir}
			if strings.HasPrefix(tc.want, "undefined symbol") {
				// glibc: ldd -r reports the symbol.
				ldd := d.Ldd(env, prog, "-r")
				if !hasLine(ldd, tc.want+"\t("+tc.linked+"/main)") {
					t.Errorf("ldd -r does not report %q:\n%s", tc.want, strings.Join(ldd, "\n"))
				}
			} else if native := d.Run(env, prog); native != tc.want+"\n" {
				t.Errorf("the program run natively prints %q, want %q", native, tc.want)
			}
		})
	}
}

// TestDlsymVersions: lookups by name, as dlsym and dlvsym make them
// (namespace.Dlsym). An unversioned one takes the default version
// (lookup.ReturnNewest), where a reference from a relocation would take
// the oldest; a versioned one takes only that version (glibc's _dl_vsym
// asks for it as a hidden one), not an unversioned definition.
func TestDlsymVersions(t *testing.T) {
	t.Parallel()
	d := buildLibv(t)
	dl := d.Build("dl", `
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
	void *h = dlopen("libv.so", RTLD_NOW);
	for (int i = 1; i < argc; i++) {
		char *v = strchr(argv[i], '@');
		const char *(*f)(void);
		if (v) { *v = 0; f = dlvsym(h, argv[i], v + 1); } else f = dlsym(h, argv[i]);
		puts(f ? f() : "nothing");
	}
	return 0;
}
`)
	for _, tc := range []struct {
		name, lib    string
		sym, version string
		want         string
	}{
		{"dlsym takes the default version", "new", "foo", "", "libv.so:foo@@V2"},
		{"dlvsym takes the version asked for", "new", "foo", "V1", "libv.so:foo@V1"},
		{"dlvsym of the default version", "new", "foo", "V2", "libv.so:foo@@V2"},
		{"dlsym finds no hidden version", "obsolete", "foo", "", "nothing"},
		{"dlvsym finds a hidden version by name", "obsolete", "foo", "V2", "libv.so:foo@V2"},
		{"dlsym of an unversioned definition", "none", "foo", "", "libv.so:foo"},
		{"dlvsym of an unversioned definition finds nothing", "none", "foo", "V1", "nothing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			libDir := d.File(tc.lib)
			l := load(t, d, dl, libDir)
			h, _, err := l.ns.Dlopen("libv.so", l.ns.Main, namespace.OpenMode{})
			if err != nil {
				t.Fatal(err)
			}
			arg := tc.sym
			if tc.version != "" {
				arg += "@" + tc.version
			}
			res, err := l.ns.Dlsym(h, nil, false, tc.sym, tc.version)
			if err != nil && tc.want != "nothing" {
				t.Fatal(err)
			}
			if answer := definition(res); answer != tc.want {
				t.Errorf("lookup found %s, want %s", answer, tc.want)
			}
			if native := d.Run([]string{"LD_LIBRARY_PATH=" + libDir}, dl, arg); native != tc.want+"\n" {
				t.Errorf("dlsym natively finds %q, want %q", native, tc.want)
			}
		})
	}
}
