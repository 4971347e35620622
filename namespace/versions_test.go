package namespace_test

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ldgo/ldgo/analyze"
	"github.com/ldgo/ldgo/internal/testelf"
)

// makeWeak marks the version the program at path needs by the name
// version weak (VER_FLG_WEAK in its Vernaux entry), in place: GNU ld
// writes weak version needs only in cases rare in practice.
func makeWeak(t *testing.T, path, version string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sec := f.Section(".gnu.version_r")
	vr, err := sec.Data()
	if err != nil {
		t.Fatal(err)
	}
	strs, err := f.Sections[sec.Link].Data()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	for vn := uint32(0); ; {
		for aux, n := vn+le.Uint32(vr[vn+8:]), uint16(0); n < le.Uint16(vr[vn+2:]); aux, n = aux+le.Uint32(vr[aux+12:]), n+1 {
			name := strs[le.Uint32(vr[aux+8:]):]
			if string(name[:bytes.IndexByte(name, 0)]) == version {
				flags := sec.Offset + uint64(aux) + 4
				le.PutUint16(data[flags:], le.Uint16(data[flags:])|2)
				if err := os.WriteFile(path, data, 0o755); err != nil {
					t.Fatal(err)
				}
				return
			}
		}
		next := le.Uint32(vr[vn+12:])
		if next == 0 {
			t.Fatalf("%s needs no version %s", path, version)
		}
		vn += next
	}
}

// TestCheckVersions: every version an object needs is checked against
// the object that should define it, with glibc's messages (ldd prints
// them too): a missing version is fatal, a missing weak version and a
// file without version information are only reported.
func TestCheckVersions(t *testing.T) {
	t.Parallel()
	d := testelf.New(t)
	d.Write("v1.map", `V1 { global: foo; local: *; };`)
	d.Write("v2.map", `V1 { global: foo; local: *; }; V2 { global: foo; } V1;`)
	const foo = `
const char *foo_v1(void) { return "V1"; }
const char *foo_v2(void) { return "V2"; }
__asm__(".symver foo_v1, foo@V1");
__asm__(".symver foo_v2, foo@@V2");
`
	d.Build("old/libv.so", `const char *foo(void) { return "V1"; }`, "-Wl,--version-script=v1.map")
	d.Build("new/libv.so", foo, "-Wl,--version-script=v2.map")
	d.Build("none/libv.so", `const char *foo(void) { return "none"; }`)
	const src = `
#include <stdio.h>
const char *foo(void) __attribute__((weak));
int main(void) { printf("ran %s\n", foo ? foo() : "without foo"); return 0; }
`
	d.Build("main", src, "-Lnew", "-lv")
	d.Build("weak", src, "-Lnew", "-lv")
	makeWeak(t, d.File("weak"), "V2")

	for _, tc := range []struct {
		name, prog, lib string
		want            []string // "program: file: message", as ldd prints it
		fatal           bool
	}{
		{"every version found", "main", "new", nil, false},
		{"a version the file does not define", "main", "old",
			[]string{"main: old/libv.so: version `V2' not found (required by main)"}, true},
		{"a weak version the file does not define", "weak", "old",
			[]string{"weak: old/libv.so: weak version `V2' not found (required by weak)"}, false},
		{"a file without version information", "main", "none",
			[]string{"main: none/libv.so: no version information available (required by main)"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prog := d.File(tc.prog)
			ns := load(t, prog, analyze.Options{LibraryPath: d.File(tc.lib)})
			var got []string
			fatal := false
			for _, p := range ns.CheckVersions() {
				if !strings.HasPrefix(p.File.Name, d.Path) {
					continue
				}
				got = append(got, d.Short(prog+": "+p.File.Name+": "+p.Message))
				fatal = fatal || p.Fatal()
			}
			if !slices.Equal(got, tc.want) || fatal != tc.fatal {
				t.Errorf("problems %q, fatal %v; want %q, fatal %v", got, fatal, tc.want, tc.fatal)
			}
			env := []string{"LD_LIBRARY_PATH=" + d.File(tc.lib)}
			var ldd []string
			for _, l := range d.Ldd(env, prog) {
				if strings.Contains(l, "version") {
					ldd = append(ldd, l)
				}
			}
			if !slices.Equal(ldd, tc.want) {
				t.Errorf("ldd reports %q, want %q", ldd, tc.want)
			}
			if ran := strings.Contains(d.Run(env, prog), "ran "); ran == tc.fatal {
				t.Errorf("natively the program ran: %v; want a fatal problem: %v", ran, tc.fatal)
			}
		})
	}
}
