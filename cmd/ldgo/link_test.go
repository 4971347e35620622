package main

import (
	"bytes"
	"crypto/sha1"
	"debug/elf"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The CSAPP example (Computer Systems: A Programmer's Perspective, 7.10):
// a shared library of two vector routines and a program using it.
var csapp = map[string]string{
	"vector.h": `/* prototypes for libvector */
void addvec(int *x, int *y, int *z, int n);
void multvec(int *x, int *y, int *z, int n);
`,
	"addvec.c": `int addcnt = 0;

void addvec(int *x, int *y, int *z, int n)
{
    int i;

    addcnt++;

    for (i = 0; i < n; i++)
        z[i] = x[i] + y[i];
}
`,
	"multvec.c": `int multcnt = 0;

void multvec(int *x, int *y, int *z, int n)
{
    int i;

    multcnt++;

    for (i = 0; i < n; i++)
        z[i] = x[i] * y[i];
}
`,
	"main2.c": `#include <stdio.h>
#include "vector.h"

int x[2] = {1, 2};
int y[2] = {3, 4};
int z[2];

int main()
{
    addvec(x, y, z, 2);
    printf("z = [%d %d]\n", z[0], z[1]);
    return 0;
}
`,
}

func TestLinkCSAPP(t *testing.T) {
	b := newLinkBuild(t, csapp)
	b.cc("gcc", "-shared", "-fpic", "-o", "libvector.so", "addvec.c", "multvec.c")
	b.cc("gcc", "-o", "prog2l", "main2.c", "./libvector.so")
	for _, f := range []string{"libvector.so", "prog2l"} {
		b.check(f)
	}
	env := baseEnv()
	if r := b.run(env, "prog2l"); r.stdout != "z = [4 6]\n" || r.status != 0 {
		t.Errorf("prog2l: status %d, stdout %q", r.status, r.stdout)
	}
	b.runHosted(env, "prog2l")

	// The analysis commands read ldgo's output as glibc's ld.so does.
	t.Chdir(b.dir("ldgo"))
	compareAll(t, nil, "./prog2l")
	if out, status := ldgo(t, nil, "verify", "./prog2l"); status != 0 {
		t.Errorf("ldgo verify prog2l: status %d\n%s", status, out)
	}
	if out, _ := ldgo(t, nil, "tree", "./prog2l"); !strings.Contains(out, "./libvector.so  [path]") {
		t.Errorf("ldgo tree prog2l does not show ./libvector.so:\n%s", out)
	}
}

// TestLinkAsLd checks how ldgo answers as ld: gcc -B finds it, and it
// says what it is as a GNU-compatible linker does.
func TestLinkAsLd(t *testing.T) {
	dir := ldgoAsLd(t)
	for _, arg := range []string{"-v", "--version"} {
		out, err := exec.Command(dir+"/ld", arg).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "compatible with GNU ld") {
			t.Errorf("ld %s: %v\n%s", arg, err, out)
		}
	}
	out, err := exec.Command("gcc", "-B", dir, "-Wl,--version", "-o", "/dev/null", "-x", "c", "/dev/null").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ldgo") {
		t.Errorf("gcc -B %s -Wl,--version does not run ldgo: %v\n%s", dir, err, out)
	}
}

// TestLinkPrintGCSections compares --print-gc-sections with GNU ld's,
// with and without debug information (which refers to every function
// but keeps none).
func TestLinkPrintGCSections(t *testing.T) {
	for _, debug := range []bool{false, true} {
		b := newLinkBuild(t, map[string]string{"gc.c": `
#include <stdio.h>
int unused_fn(void) { return 42; }
int unused_data = 5;
static int used(void) { return 1; }
int main(void) { printf("%d\n", used()); return 0; }
`})
		flags := []string{"-ffunction-sections", "-fdata-sections", "-c", "gc.c"}
		if debug {
			flags = append(flags, "-g")
		}
		b.cc("gcc", flags...)
		var msgs []string
		for _, l := range linkers {
			out, err := b.ccOne(l, "gcc", "-Wl,--gc-sections", "-Wl,--print-gc-sections", "-o", "gc", "gc.o")
			if err != nil {
				t.Fatalf("%s: %v\n%s", l, err, out)
			}
			var lines []string
			for _, m := range strings.Split(strings.TrimSpace(out), "\n") {
				_, m, _ = strings.Cut(m, ": ")
				lines = append(lines, m)
			}
			msgs = append(msgs, strings.Join(lines, "\n"))
		}
		if msgs[0] != msgs[1] || !strings.Contains(msgs[1], "removing unused section '.text.unused_fn' in file 'gc.o'") {
			t.Errorf("-g %v: GNU ld:\n%s\nldgo:\n%s", debug, msgs[0], msgs[1])
		}
		b.run(baseEnv(), "gc")
	}
}

// TestLinkBuildID checks --build-id: the note's descriptor is the SHA-1
// of the whole file with the descriptor zero, as GNU ld computes it.
func TestLinkBuildID(t *testing.T) {
	b := newLinkBuild(t, map[string]string{"m.c": "int main(void) { return 0; }\n"})
	b.cc("gcc", "-o", "m", "m.c")
	data, err := os.ReadFile(b.path("ldgo", "m"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	sec := f.Section(".note.gnu.build-id")
	if sec == nil || sec.Size != 36 {
		t.Fatalf("build-id note: %+v", sec)
	}
	desc := data[sec.Offset+16 : sec.Offset+36]
	want := append([]byte(nil), desc...)
	clear(desc)
	if sum := sha1.Sum(data); !bytes.Equal(sum[:], want) {
		t.Errorf("build ID %x, sha1 of the file %x", want, sum)
	}
}

// TestLinkMap checks -Map: the archive members and why, and where each
// section and symbol went.
func TestLinkMap(t *testing.T) {
	b := newLinkBuild(t, map[string]string{
		"m.c": "int needed(void);\nint main(void) { return needed(); }\n",
		"n.c": "int needed(void) { return 0; }\n",
	})
	b.cc("gcc", "-c", "m.c", "n.c")
	if out, err := exec.Command("ar", "rcs", b.path("ldgo", "libn.a"), b.path("ldgo", "n.o")).CombinedOutput(); err != nil {
		t.Fatalf("ar: %v\n%s", err, out)
	}
	if out, err := b.ccOne("ldgo", "gcc", "-Wl,-Map=m.map", "-o", "m", "m.o", "libn.a"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	data, err := os.ReadFile(b.path("ldgo", "m.map"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"libn.a(n.o)                   m.o (needed)", "\n.text ", "                main\n", "                needed\n"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("map lacks %q:\n%s", want, data)
		}
	}
}
