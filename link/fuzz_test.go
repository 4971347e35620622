package link_test

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ldgo/ldgo/link"
	"github.com/ldgo/ldgo/link/input"
)

// FuzzLink links arbitrary bytes as a relocatable object into a shared
// library (keeping its relocations, --emit-relocs) and into executables
// (one without separate code): every pass after reading (resolution,
// layout, the relocation scan, relaxations, writing) must take whatever
// input reading let through without a panic. Seeds: gcc's objects with
// TLS, IFUNCs, COMDAT groups and exceptions, besides
// testdata/fuzz/FuzzLink.
func FuzzLink(f *testing.F) {
	if _, err := exec.LookPath("g++"); err != nil {
		f.Skip("g++ not installed")
	}
	dir := f.TempDir()
	for name, src := range map[string]string{
		"c.c": `
__thread int tls_var = 3;
static __thread int tls_local;
extern __thread int tls_ext;
static int impl(void) { return 1; }
static void *resolve(void) { return impl; }
int ifn(void) __attribute__((ifunc("resolve")));
const char *msg = "hello";
int use(void) { return tls_var + tls_local++ + tls_ext + ifn() + msg[0]; }
`,
		"x.cc": `
#include <stdexcept>
#include <string>
template <typename T> T twice(T v) { return v + v; }
int thrower(int n) { if (n > 2) throw std::runtime_error(std::to_string(twice(n))); return n; }
`,
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(src), 0o644)
		out := p + ".o"
		flags := []string{"-O1", "-fPIC", "-c", "-o", out, p}
		if name == "c.c" {
			flags = append(flags, "-mtls-dialect=gnu2")
		}
		cc := "g++"
		if filepath.Ext(name) == ".c" {
			cc = "gcc"
		}
		if msg, err := exec.Command(cc, flags...).CombinedOutput(); err != nil {
			f.Fatalf("%s: %v\n%s", name, err, msg)
		}
		data, _ := os.ReadFile(out)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Sections may ask for alignments up to 4 GiB, which spread the
		// output over as many bytes of file: valid, but no place for
		// finding panics quickly.
		if o, err := input.ParseObject("fuzz.o", data); err == nil {
			for _, s := range o.Sections {
				if s != nil && (s.Align > 1<<16 || s.Type == elf.SHT_NOBITS && s.Size > 1<<24) {
					t.Skip("alignment or size too large for the fuzzer")
				}
			}
		}
		obj := filepath.Join(t.TempDir(), "fuzz.o")
		if err := os.WriteFile(obj, data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, kind := range [][]string{{"-shared", "--emit-relocs"}, {"-pie", "-e", "use", "-z", "noseparate-code"}, {"-static", "-e", "use"}} {
			args := append(kind, "-nostdlib", "-z", "now", "--build-id", "--eh-frame-hdr", "--gc-sections", "-o", obj+".out", obj)
			var out bytes.Buffer
			link.Main("ld", args, &out, &out, nil)
		}
	})
}
