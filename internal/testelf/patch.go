package testelf

import (
	"debug/elf"
	"encoding/binary"
	"os"
	"slices"
	"testing"
)

// Patches of a gcc-built file, in place, for what GNU ld will not make:
// a library's own references to its protected symbols (ld binds them at
// link time), or a DT_SYMBOLIC library that still has them (-Bsymbolic
// binds them too).

// SetVisibility gives the dynamic symbols named names that path defines
// visibility vis.
func SetVisibility(t testing.TB, path string, vis elf.SymVis, names ...string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dynsym := f.Section(".dynsym")
	n := 0
	for i, s := range syms {
		if slices.Contains(names, s.Name) && s.Section != elf.SHN_UNDEF {
			other := dynsym.Offset + uint64(i+1)*24 + 5 // st_other
			data[other] = data[other]&^3 | byte(vis)
			n++
		}
	}
	if n != len(names) {
		t.Fatalf("%s defines %d of %q", path, n, names)
	}
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// SetDynamicFlags ORs flags into path's DT_FLAGS entry (link the file
// with -z now to have one).
func SetDynamicFlags(t testing.TB, path string, flags elf.DynFlag) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dyn := f.Section(".dynamic")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for off := dyn.Offset; off+16 <= dyn.Offset+dyn.Size; off += 16 {
		if elf.DynTag(binary.LittleEndian.Uint64(data[off:])) == elf.DT_FLAGS {
			v := binary.LittleEndian.Uint64(data[off+8:])
			binary.LittleEndian.PutUint64(data[off+8:], v|uint64(flags))
			if err := os.WriteFile(path, data, 0o755); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("%s has no DT_FLAGS", path)
}
