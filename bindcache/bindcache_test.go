package bindcache

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/lookup"
	"github.com/ldgo/ldgo/object"
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

func sampleRecord() lookup.Record {
	var l lookup.Linker
	l.Remember(lookup.RefKey{Ref: 1, Sym: 3, Entry: 0x4a8}, lookup.Searched,
		&lookup.Result{Map: &linkmap.Map{Serial: 2}, Index: 900, Sym: object.Sym{Info: 0x12, Shndx: 14, Value: 0x1234, Size: 99}})
	l.Remember(lookup.RefKey{Ref: 1, Sym: 4, Entry: 0x4c0}, lookup.Remembered, &lookup.Result{})
	l.Remember(lookup.RefKey{Ref: 2, Sym: 10, Entry: 0x1000}, lookup.Own,
		&lookup.Result{Map: &linkmap.Map{Serial: 1}, Index: 7, Protected: true})
	return l.Record
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
	if want.Len() != 3 || !bytes.Equal(got.Bindings(), want) {
		t.Errorf("got bindings %x, want %x", got.Bindings(), want)
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
