package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Objects compiled with -flto, linked through gcc's lto-wrapper (ldgo)
// and through the linker plugin (GNU ld).

var ltoSources = map[string]string{
	"sq.c": "int sq(int x) { return x * x; }\nint unused(int x) { return x + 1; }\n",
	"main.c": `#include <stdio.h>
int sq(int);
int main(void) { printf("%d\n", sq(7)); return 0; }
`,
}

func TestLinkLTO(t *testing.T) {
	b := newLinkBuild(t, ltoSources)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where lto-wrapper writes its objects
	b.cc("gcc", "-flto", "-O2", "-c", "sq.c", "main.c")
	b.cc("gcc", "-flto", "-O2", "-o", "prog", "main.o", "sq.o")
	b.cc("gcc", "-flto", "-O2", "-shared", "-fPIC", "-o", "libsq.so", "sq.c")
	b.check("prog")
	b.check("libsq.so")
	if r := b.run(baseEnv(), "prog"); r.stdout != "49\n" {
		t.Errorf("prog: %+v", r)
	}
	for _, f := range []string{"prog", "libsq.so"} {
		if out := readelf(t, "-SW", b.path("ldgo", f)); strings.Contains(out, ".gnu.lto") {
			t.Errorf("%s has LTO sections:\n%s", f, out)
		}
	}
	left, _ := filepath.Glob(filepath.Join(tmp, "*ltrans*"))
	if len(left) > 0 {
		t.Errorf("lto-wrapper's objects left behind: %v", left)
	}
}

// TestLinkLTOArchive checks that an archive member compiled with -flto
// is refused by name: ldgo gives lto-wrapper only the command line's
// objects.
func TestLinkLTOArchive(t *testing.T) {
	b := newLinkBuild(t, ltoSources)
	b.cc("gcc", "-flto", "-c", "sq.c", "main.c")
	if out, err := exec.Command("gcc-ar", "rcs", b.path("ldgo", "libsq.a"), b.path("ldgo", "sq.o")).CombinedOutput(); err != nil {
		t.Fatalf("gcc-ar: %v\n%s", err, out)
	}
	out, err := b.ccOne("ldgo", "gcc", "-flto", "-o", "prog", "main.o", "libsq.a")
	if err == nil || !strings.Contains(out, "libsq.a(sq.o): this object was compiled with -flto (LTO)") {
		t.Errorf("%v\n%s", err, out)
	}
	if _, err := os.Stat(b.path("ldgo", "prog")); err == nil {
		t.Error("an output was left")
	}
}
