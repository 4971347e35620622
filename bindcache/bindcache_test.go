package bindcache

import (
	"os"
	"path/filepath"
	"testing"

	"ldgo/lookup"
)

func sampleKey() *Key {
	return &Key{
		Program: "/usr/bin/prog",
		Search:  []string{"LD_LIBRARY_PATH=/opt/lib", "ld.so.cache=1:2:3:4"},
		Objects: []Object{
			{Serial: 1, Path: "/usr/bin/prog", Dev: 1, Ino: 2, Size: 3, Mtime: 4},
			{Serial: 2, Path: "/lib/libc.so.6", Dev: 1, Ino: 5, Size: 6, Mtime: 7},
		},
	}
}

func sampleRecord() []lookup.Binding1 {
	return []lookup.Binding1{
		{Ref: lookup.RefKey{Ref: 1, Sym: 3, Class: lookup.ClassPLT}, Def: lookup.DefRef{Def: 2, Sym: 900, Info: 0x12, Shndx: 14, Value: 0x1234, Size: 99}},
		{Ref: lookup.RefKey{Ref: 1, Sym: 4, Class: 0}, Def: lookup.DefRef{Def: 0}},
		{Ref: lookup.RefKey{Ref: 2, Sym: 10, Class: lookup.ClassCopy}, Def: lookup.DefRef{Def: 1, Sym: 7, Protected: true}},
	}
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	k := sampleKey()
	if _, err := Load(dir, k); err != ErrNoEntry {
		t.Fatalf("empty cache: got %v", err)
	}
	if err := Store(dir, k, sampleRecord()); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir, k)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	want := sampleRecord()
	if got.Len() != len(want) {
		t.Fatalf("got %d entries, want %d", got.Len(), len(want))
	}
	for i := range want {
		if got.At(i) != want[i] {
			t.Errorf("entry %d: got %+v, want %+v", i, got.At(i), want[i])
		}
	}
}

// An entry for other objects, a changed object, or a damaged file is not
// used.
func TestNotTrusted(t *testing.T) {
	dir := t.TempDir()
	k := sampleKey()
	if err := Store(dir, k, sampleRecord()); err != nil {
		t.Fatal(err)
	}
	touched := sampleKey()
	touched.Objects[1].Mtime++
	if _, err := Load(dir, touched); err != ErrNoEntry {
		t.Errorf("object with another mtime: got %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 1 {
		t.Fatalf("want one entry file, got %v", files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, damage := range []func([]byte) []byte{
		func(b []byte) []byte { return b[:len(b)-1] },
		func(b []byte) []byte { b[len(b)/2] ^= 1; return b },
		func(b []byte) []byte { return b[:10] },
		func(b []byte) []byte { return nil },
	} {
		d := damage(append([]byte(nil), data...))
		if err := os.WriteFile(files[0], d, 0o600); err != nil {
			t.Fatal(err)
		}
		if m, err := Load(dir, k); err != ErrNoEntry || m != nil {
			t.Errorf("damaged entry (%d bytes) was used", len(d))
		}
	}
}
