package bindcache

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/lookup"
	"github.com/ldgo/ldgo/object"
)

func sampleKey() *Key {
	return &Key{
		Program: "/usr/bin/prog",
		Search:  []string{"LD_LIBRARY_PATH=/opt/lib", "ld.so.cache=1:2:3:4"},
		Objects: []Object{
			{Serial: 1, Path: "/usr/bin/prog", ID: identity(1, 2, 3, 4, 5, "build-id:0123456789abcdef")},
			{Serial: 2, Path: "/lib/libc.so.6", ID: identity(1, 6, 7, 8, 9, "dynamic:fedcba9876543210")},
		},
	}
}

func identity(dev, ino uint64, size, mtime, ctime int64, content string) object.Identity {
	return object.Identity{
		FileStatus: object.FileStatus{ID: object.FileID{Dev: dev, Ino: ino}, Size: size, Mtime: mtime, Ctime: ctime},
		Content:    content,
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
	for what, change := range map[string]func(*Object){
		"another device":   func(o *Object) { o.ID.ID.Dev++ },
		"another inode":    func(o *Object) { o.ID.ID.Ino++ },
		"another size":     func(o *Object) { o.ID.Size++ },
		"another mtime":    func(o *Object) { o.ID.Mtime++ },
		"another ctime":    func(o *Object) { o.ID.Ctime++ },
		"another build-id": func(o *Object) { o.ID.Content = "build-id:0123456789abcdee" },
		"another hash":     func(o *Object) { o.ID.Content = "dynamic:fedcba9876543211" },
		"another path":     func(o *Object) { o.Path += ".1" },
	} {
		for i := range sampleKey().Objects {
			changed := sampleKey()
			change(&changed.Objects[i])
			if _, err := Load(dir, changed); err != ErrNoEntry {
				t.Errorf("object %d with %s: got %v", i, what, err)
			}
		}
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

// A file at an entry's path that is not a regular file of the user's,
// writable by no one else, is not read: not through a symbolic link, and
// a FIFO does not make Load wait for a writer.
func TestUntrustedFiles(t *testing.T) {
	dir := t.TempDir()
	k := sampleKey()
	if err := Store(dir, k, sampleRecord()); err != nil {
		t.Fatal(err)
	}
	path := file(dir, k)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := filepath.Join(t.TempDir(), "entry")
	if err := os.WriteFile(elsewhere, good, 0o600); err != nil {
		t.Fatal(err)
	}
	withMode := func(mode os.FileMode) func() error {
		return func() error {
			if err := os.WriteFile(path, good, 0o600); err != nil {
				return err
			}
			return os.Chmod(path, mode)
		}
	}
	for _, c := range []struct {
		name  string
		place func() error
	}{
		{"FIFO", func() error { return unix.Mkfifo(path, 0o600) }},
		{"group-writable file", withMode(0o620)},
		{"world-writable file", withMode(0o602)},
		{"symbolic link", func() error { return os.Symlink(elsewhere, path) }},
		{"directory", func() error { return os.Mkdir(path, 0o700) }},
		{"another user's file", func() error {
			if err := withMode(0o600)(); err != nil {
				return err
			}
			return os.Chown(path, os.Geteuid()+1, -1)
		}},
	} {
		os.RemoveAll(path)
		if err := c.place(); errors.Is(err, os.ErrPermission) {
			t.Logf("%s: %v", c.name, err)
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			e, err := Load(dir, k)
			if e != nil {
				e.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err != ErrNoEntry {
				t.Errorf("%s at the entry's path: Load gave %v, want ErrNoEntry", c.name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s at the entry's path: Load still waiting after 10 s", c.name)
		}
	}
	// What passes the checks is used.
	os.RemoveAll(path)
	if err := withMode(0o644)(); err != nil {
		t.Fatal(err)
	}
	e, err := Load(dir, k)
	if err != nil {
		t.Fatalf("entry of mode 0644: %v", err)
	}
	e.Close()
}
