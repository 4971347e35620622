package object_test

import (
	"debug/elf"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ldgo/ldgo/object"
)

// A tiny library without libc: DT_GNU_HASH only, no versions, no PLT.
const tinyLibSource = `
int counter;
int *where = &counter;
int bump(void) { return ++*where; }
`

var tinyLibFlags = []string{"-shared", "-fPIC", "-nostdlib", "-Wl,-s", "-Wl,-z,noseparate-code"}

// FuzzParseBytes reads arbitrary bytes as an object and, when they read,
// uses every table as the linker does. Nothing may panic; a failure must
// be an *object.Error naming the file.
//
// The seeds are small gcc-built objects, whole and cut short, besides the
// files in testdata/fuzz/FuzzParseBytes.
func FuzzParseBytes(f *testing.F) {
	addSeeds(f, []seedObject{
		{testLibSource, libFlags("both")},
		{testLibSource, libFlags("gnu")},
		{testLibSource, libFlags("sysv")},
		{tinyLibSource, tinyLibFlags},
		{exeSource, exeFlags},
	}, func(n int) []int { return []int{n, 64, 64 + 56*2, n / 4, n / 2, n - 1} })

	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz.so"
		o, err := object.ParseBytes(name, data)
		if err != nil {
			var oe *object.Error
			if !errors.As(err, &oe) || oe.Name != name {
				t.Fatalf("error %q (%T) is not an *object.Error naming %s", err, err, name)
			}
			return
		}
		useObject(t, o)
	})
}

// useObject reads everything in o that the linker reads.
func useObject(t *testing.T, o *object.Object) {
	const maxIter = 1 << 14

	o.LoadBounds()
	o.HasHashTable()
	if o.TLS != nil {
		o.Bytes(o.TLS.Image.Addr, o.TLS.Image.Size)
	}

	n := o.NumSymbols()
	if n < 0 {
		t.Fatalf("NumSymbols = %d", n)
	}
	names := []string{"printf", "foo", "bump", "", "a"}
	for i := range uint32(min(n, maxIter)) {
		sym := o.Symbol(i)
		name := o.SymbolName(i)
		if name != o.String(sym.Name) {
			t.Fatalf("symbol %d: SymbolName %q, String %q", i, name, o.String(sym.Name))
		}
		o.Versym(i)
		if v, _ := o.SymbolVersion(i); v != nil {
			o.DefinesVersion(v.Name, v.Hash)
		}
		if i < 8 {
			names = append(names, name)
		}
	}
	for _, name := range names {
		h := object.NewHash(name)
		yields := 0
		o.Candidates(&h, func(idx uint32) bool {
			if int(idx) >= n {
				t.Fatalf("Candidates(%q) yielded %d of %d symbols", name, idx, n)
			}
			if got := o.SymbolName(idx); got != name {
				t.Fatalf("Candidates(%q) yielded %d, named %q", name, idx, got)
			}
			yields++
			return yields < maxIter
		})
	}

	for _, v := range o.Versions {
		o.DefinesVersion(v.Name, v.Hash)
	}
	for _, vd := range o.Verdefs {
		vd.Base()
	}
	for _, vn := range o.Verneeds {
		for _, a := range vn.Aux {
			a.Weak()
		}
	}

	for _, r := range []object.Range{o.Dyn.Rela, o.Dyn.JmpRel} {
		tab, err := o.Relas(r)
		if err != nil {
			continue
		}
		if uint64(tab.Len())*24 != r.Size {
			t.Fatalf("Relas(%+v) holds %d relocations", r, tab.Len())
		}
		for i := range min(tab.Len(), maxIter) {
			tab.At(i)
		}
	}
	words := 0
	o.Relr(func(uint64) { words++ })
	if plt, err := o.DecodePLT(nil); err == nil && len(plt.Slots) != int(o.Dyn.JmpRel.Size/24) {
		t.Fatalf("DecodePLT: %d slots of %d relocations", len(plt.Slots), o.Dyn.JmpRel.Size/24)
	}
}

// FuzzOpenHeaders opens arbitrary bytes as a loader does before mapping
// them (OpenHeaders). Nothing may panic; a failure must be an
// *object.Error naming the file; a file that opens has program headers
// that lie in the file and an open descriptor.
func FuzzOpenHeaders(f *testing.F) {
	addSeeds(f, []seedObject{
		{testLibSource, libFlags("both")},
		{tinyLibSource, tinyLibFlags},
		{exeSource, exeFlags},
	}, func(n int) []int { return []int{0, 64, 64 + 56*2, 832, n / 2, n} })
	path := filepath.Join(f.TempDir(), "fuzz.so")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		file, err := object.OpenHeaders(path)
		if err != nil {
			var oe *object.Error
			if !errors.As(err, &oe) || oe.Name != path {
				t.Fatalf("error %q (%T) is not an *object.Error naming %s", err, err, path)
			}
			return
		}
		defer file.Close()
		if len(file.Progs) == 0 {
			t.Fatal("opened without program headers")
		}
		for _, p := range file.Progs {
			if p.Type == elf.PT_LOAD && p.Off+p.Filesz > uint64(len(data)) {
				t.Fatalf("segment %+v past the end of a %d-byte file", p, len(data))
			}
		}
	})
}

// seedObject is a gcc-built object a fuzz target starts from.
type seedObject struct {
	source string
	flags  []string
}

// addSeeds builds each object and adds it to f's seeds cut to each of
// the lengths cuts gives for its size; without gcc the testdata seeds
// remain.
func addSeeds(f *testing.F, objects []seedObject, cuts func(n int) []int) {
	for _, o := range objects {
		data, err := build(o.source, o.flags...)
		if err == errNoGCC {
			return
		}
		if err != nil {
			f.Fatal(err)
		}
		for _, n := range cuts(len(data)) {
			f.Add(data[:min(n, len(data))])
		}
	}
}
