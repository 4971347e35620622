package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"strings"
	"testing"
)

func TestRunMissingLibrary(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	f.lib("libgone.so", `int gone(void) { return 1; }`)
	prog := f.prog("needsgone", `int gone(void); int main(void) { return gone(); }`, "-L.", "-lgone")
	want := native(t, baseEnv(), "", prog)
	got := hosted(t, bin, baseEnv(), "", prog)
	sameResult(t, "missing library", want, got)
	if !strings.Contains(got.stderr, "error while loading shared libraries: libgone.so: cannot open shared object file: No such file or directory") || got.status != 127 {
		t.Errorf("unexpected message %q status %d", got.stderr, got.status)
	}
}

func TestRunDamagedLibrary(t *testing.T) {
	bin := buildLdgo(t)
	f := newFixture(t)
	f.lib("libdamaged.so", `int damaged(void) { return 7; }`)
	prog := f.prog("needsdamaged", `int damaged(void); int main(void) { return damaged(); }`, "-L.", "-ldamaged", "-Wl,-rpath,"+f.dir)
	lib := f.path("libdamaged.so")
	good, err := os.ReadFile(lib)
	if err != nil {
		t.Fatal(err)
	}
	if got := hosted(t, bin, baseEnv(), "", prog); got.status != 7 {
		t.Fatalf("intact library: %+v", got)
	}
	strtabOutside := func() []byte {
		e, err := elf.NewFile(bytes.NewReader(good))
		if err != nil {
			t.Fatal(err)
		}
		d := append([]byte(nil), good...)
		for _, p := range e.Progs {
			if p.Type != elf.PT_DYNAMIC {
				continue
			}
			for off := p.Off; off+16 <= p.Off+p.Filesz; off += 16 {
				if elf.DynTag(binary.LittleEndian.Uint64(d[off:])) == elf.DT_STRTAB {
					binary.LittleEndian.PutUint64(d[off+8:], 0x7fff_0000_0000)
				}
			}
		}
		return d
	}
	for _, tc := range []struct {
		name, cause string
		data        []byte
	}{
		{"truncated", "file too short", good[:len(good)/3]},
		{"string table outside", "string table outside the loaded segments", strtabOutside()},
	} {
		if err := os.WriteFile(lib, tc.data, 0o755); err != nil {
			t.Fatal(err)
		}
		got := hosted(t, bin, baseEnv(), "", prog)
		want := "error while loading shared libraries: " + lib + ": " + tc.cause
		if got.status != 127 || !strings.Contains(got.stderr, want) {
			t.Errorf("%s: status %d, stderr %q; want 127 and %q", tc.name, got.status, got.stderr, want)
		}
	}
}
