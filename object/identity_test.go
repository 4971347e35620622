package object_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ldgo/ldgo/object"
)

var readelfBuildID = regexp.MustCompile(`Build ID: ([0-9a-f]+)`)

// readelfContentID is the content ID that readelf -n's build-id for the
// file at path makes.
func readelfContentID(t *testing.T, path string) string {
	t.Helper()
	if _, err := exec.LookPath("readelf"); err != nil {
		t.Skip("no readelf")
	}
	out, err := exec.Command("readelf", "-n", path).CombinedOutput()
	if err != nil {
		t.Fatalf("readelf -n %s: %v\n%s", path, err, out)
	}
	m := readelfBuildID.FindSubmatch(out)
	if m == nil {
		t.Fatalf("readelf -n %s shows no build-id:\n%s", path, out)
	}
	return "build-id:" + string(m[1])
}

func writeTemp(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "obj")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// An object's content ID is its GNU build-id, as readelf reads it: in
// the system's libc, in a gcc-built library, and in the vDSO, read from
// this process's memory.
func TestContentIDIsBuildID(t *testing.T) {
	libc := openReal(t, libcPath)
	if got, want := libc.ContentID(), readelfContentID(t, libcPath); got != want {
		t.Errorf("libc: content ID %q, readelf says %q", got, want)
	}

	lib := gccBuild(t, "int f(void) { return 1; }", "-shared", "-fPIC", "-Wl,--build-id=sha1")
	path := writeTemp(t, lib)
	o, err := object.ParseBytes(path, lib)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := o.ContentID(), readelfContentID(t, path); got != want {
		t.Errorf("gcc-built library: content ID %q, readelf says %q", got, want)
	}

	vdso, _, err := object.ReadVDSO()
	if err != nil {
		t.Skipf("no vDSO: %v", err)
	}
	image := vdsoImage(t)
	if got, want := vdso.ContentID(), readelfContentID(t, writeTemp(t, image)); got != want {
		t.Errorf("vDSO: content ID %q, readelf says %q", got, want)
	}
}

// vdsoImage is this process's [vdso] mapping.
func vdsoImage(t *testing.T) []byte {
	t.Helper()
	maps, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	defer maps.Close()
	var lo, hi uint64
	for s := bufio.NewScanner(maps); s.Scan(); {
		if strings.HasSuffix(s.Text(), "[vdso]") {
			fmt.Sscanf(s.Text(), "%x-%x", &lo, &hi)
		}
	}
	mem, err := os.Open("/proc/self/mem")
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	b := make([]byte, hi-lo)
	if _, err := mem.ReadAt(b, int64(lo)); err != nil || len(b) == 0 {
		t.Fatalf("reading the vDSO (%#x-%#x) from /proc/self/mem: %v", lo, hi, err)
	}
	return b
}

// Without a build-id, the content ID hashes what bindings depend on: two
// builds with their symbols at other addresses differ; two whose code
// differs and whose dynamic symbols do not are the same (a binding names
// a symbol, not the bytes at its address).
func TestContentIDWithoutBuildID(t *testing.T) {
	noID := []string{"-shared", "-fPIC", "-O2", "-Wl,--build-id=none"}
	contentID := func(source string) (string, []byte) {
		t.Helper()
		data := gccBuild(t, source, noID...)
		o, err := object.ParseBytes("lib.so", data)
		if err != nil {
			t.Fatal(err)
		}
		if id := o.BuildID(); id != nil {
			t.Fatalf("built with --build-id=none, yet build-id %x", id)
		}
		id := o.ContentID()
		if !strings.HasPrefix(id, "dynamic:") {
			t.Fatalf("content ID %q without a build-id", id)
		}
		return id, data
	}
	barFirst, a := contentID("int bar(void) { return 1; }\nint foo(void) { return 11; }\n")
	fooFirst, b := contentID("int foo(void) { return 2; }\nint bar(void) { return 1; }\n")
	if len(a) != len(b) {
		t.Fatalf("builds of %d and %d bytes: the fixture does not test what it means to", len(a), len(b))
	}
	if barFirst == fooFirst {
		t.Errorf("foo moved, yet the same content ID %s", barFirst)
	}
	otherCode, c := contentID("int bar(void) { return 3; }\nint foo(void) { return 13; }\n")
	if string(a) == string(c) {
		t.Fatal("other code, yet the same bytes: the fixture does not test what it means to")
	}
	if otherCode != barFirst {
		t.Errorf("only the code differs, yet content IDs %s and %s", barFirst, otherCode)
	}
}

// The content ID is read on every run that uses the bind cache, for
// every object: a build-id costs a walk of the notes.
func BenchmarkContentID(b *testing.B) {
	if _, err := os.Stat(libcPath); err != nil {
		b.Skipf("no %s", libcPath)
	}
	libc, err := object.Open(libcPath)
	if err != nil {
		b.Fatal(err)
	}
	defer libc.Close()
	noID, err := object.ParseBytes("lib.so", gccBuild(b, testLibSource, append(libFlags("gnu"), "-Wl,--build-id=none")...))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		o    *object.Object
	}{{"build-id", libc.Object}, {"hash", noID}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				c.o.ContentID()
			}
		})
	}
}
