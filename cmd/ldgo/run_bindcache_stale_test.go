package main

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Two builds of a library, of the same size, with foo at another offset
// in each: the first has bar (returning 1) and then foo (11), the
// rebuild foo first (returning 2). A warm run that kept the first build's
// binding of foo would call bar in the second and print 1.
const (
	swapOld = `
int bar(void) { return 1; }
int foo(void) { return 11; }
`
	swapNew = `
int foo(void) { return 2; }
int bar(void) { return 1; }
`
	swapProg = `
#include <stdio.h>
int foo(void);
int main(void) { printf("%d\n", foo()); return 0; }
`
)

// replacements are the ways a library is replaced by another build while
// its size and modification time stay as they were: the tools that
// preserve timestamps (cp -p, touch -r, rsync -t, install -p, package
// managers, reproducible builds with SOURCE_DATE_EPOCH).
var replacements = []struct {
	name      string
	sameInode bool
	replace   func(t *testing.T, path string, data []byte)
}{
	// cp -p over an existing file truncates it and writes it again.
	{"cp -p", true, func(t *testing.T, path string, data []byte) {
		if err := os.WriteFile(path, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}},
	// Written over in place, not truncated (dd conv=notrunc).
	{"in place", true, func(t *testing.T, path string, data []byte) {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt(data, 0); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}},
	// install -p removes the file and creates it again: the new file
	// may well get the old one's inode number.
	{"install -p", false, func(t *testing.T, path string, data []byte) {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}},
	// rsync -t and package managers write a new file and rename it over
	// the old.
	{"rename over", false, func(t *testing.T, path string, data []byte) {
		tmp := path + ".new"
		if err := os.WriteFile(tmp, data, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}},
}

// A library replaced by another build of the same size, its modification
// time given back, is another library: the run after the replacement
// prints what the native run prints, not what the cached bindings of the
// first build would make it print; and the run after that binds from the
// cache again, to the new build.
func TestRunBindCacheReplacedSameSizeAndMtime(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	// With a build-id, and without: then the identity's content is a
	// hash of the dynamic symbols.
	for _, idFlag := range []string{"--build-id=sha1", "--build-id=none"} {
		t.Run(idFlag, func(t *testing.T) {
			sub := idFlag[len("--build-id="):]
			f.lib(sub+"/old/libswap.so", swapOld, "-Wl,"+idFlag)
			f.lib(sub+"/new/libswap.so", swapNew, "-Wl,"+idFlag)
			oldLib, newLib := f.path(sub+"/old/libswap.so"), f.path(sub+"/new/libswap.so")
			oldData, newData := readFile(t, oldLib), readFile(t, newLib)
			if len(oldData) != len(newData) {
				t.Fatalf("the two builds differ in size (%d, %d bytes): the fixture does not test what it means to", len(oldData), len(newData))
			}
			if a, b := symbolValue(t, oldLib, "foo"), symbolValue(t, newLib, "foo"); a == b {
				t.Fatalf("foo is at %#x in both builds: the fixture does not test what it means to", a)
			}
			for i, r := range replacements {
				t.Run(r.name, func(t *testing.T) {
					testReplaced(t, bin, f, f.path(sub+"/"+fmt.Sprint(i)), oldData, newData, r.sameInode, r.replace)
				})
			}
		})
	}
}

// testReplaced installs the old build in dir, runs a program that calls
// foo, replaces the library with the new build (replace), gives it
// its size and modification time back, and runs the program again.
func testReplaced(t *testing.T, bin string, f *fixture, dir string, oldData, newData []byte, sameInode bool, replace func(*testing.T, string, []byte)) {
	lib := filepath.Join(dir, "libswap.so")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lib, oldData, 0o755); err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(f.dir, filepath.Join(dir, "swap"))
	if err != nil {
		t.Fatal(err)
	}
	prog := f.prog(rel, swapProg, "-L"+dir, "-lswap", "-Wl,-rpath,"+dir)
	env := engineEnv("XDG_CACHE_HOME=" + t.TempDir())

	if got, n := cachedRun(t, bin, env, prog); got.stdout != "11\n" {
		t.Fatalf("first run: %+v", got)
	} else if n != 0 {
		t.Fatalf("first run: %d bindings from an empty cache", n)
	}
	if got, n := cachedRun(t, bin, env, prog); got.stdout != "11\n" || n == 0 {
		t.Fatalf("second run: %d bindings from the cache, %+v; want them all and 11", n, got)
	}

	before := stat(t, lib)
	replace(t, lib, newData)
	if err := os.Chtimes(lib, time.Unix(before.Atim.Unix()), time.Unix(before.Mtim.Unix())); err != nil {
		t.Fatal(err)
	}
	after := stat(t, lib)
	if after.Size != before.Size || after.Mtim != before.Mtim {
		t.Fatalf("size %d, mtime %v after the replacement; want %d, %v as before", after.Size, after.Mtim, before.Size, before.Mtim)
	}
	if same := after.Ino == before.Ino && after.Dev == before.Dev; same != sameInode {
		if sameInode {
			t.Fatalf("the replacement is another inode")
		}
		t.Logf("the new file got the old one's inode number, %d", after.Ino)
	}

	want := native(t, engineEnv(), "", prog)
	if want.stdout != "2\n" {
		t.Fatalf("native run of the new build: %+v", want)
	}
	got, _ := cachedRun(t, bin, env, prog)
	if got.stdout != want.stdout || got.status != want.status {
		t.Errorf("run after the replacement: stdout %q, status %d; native %q, %d (1 is the old build's binding of foo, now bar)",
			got.stdout, got.status, want.stdout, want.status)
	}
	got, n := cachedRun(t, bin, env, prog)
	if got.stdout != want.stdout || n == 0 {
		t.Errorf("the run after that: %d bindings from the cache, stdout %q; want them all and %q", n, got.stdout, want.stdout)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func stat(t *testing.T, path string) syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// symbolValue is the value of the dynamic symbol name in the file at path.
func symbolValue(t *testing.T, path, name string) uint64 {
	t.Helper()
	ef, syms := openDynamicSymbols(t, path)
	ef.Close()
	for _, s := range syms {
		if s.Name == name {
			return s.Value
		}
	}
	t.Fatalf("%s: no dynamic symbol %s", path, name)
	return 0
}

// openDynamicSymbols opens the file at path with debug/elf and reads its
// dynamic symbols.
func openDynamicSymbols(t *testing.T, path string) (*elf.File, []elf.Symbol) {
	t.Helper()
	ef, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	syms, err := ef.DynamicSymbols()
	if err != nil {
		ef.Close()
		t.Fatal(err)
	}
	return ef, syms
}
