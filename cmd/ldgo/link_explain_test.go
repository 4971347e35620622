package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// --why SYM and --explain: what ldgo says of each symbol is checked
// against what readelf reads in the output.

var explainSources = map[string]string{
	"lib.c": `int counter = 5;
__thread int tv = 3;
int f(int x) { return x + counter; }
`,
	"h.c": "int helper(void) { return 10; }\n",
	"m.c": `#include <stdio.h>
extern int counter;
extern __thread int tv;
int f(int);
int helper(void);
int (*fp)(int) = f;
void *address_of_f(void) { return (void *)f; }
int main(void)
{
	printf("%d %d %d %d %d\n", f(1), counter, tv, helper() + fp(0), address_of_f() == (void *)fp);
	return 0;
}
`,
}

// explained returns the lines --why gave for sym.
func explained(out, sym string) string {
	for _, block := range strings.Split(out, "\n\n") {
		if strings.HasPrefix(block, sym+": ") {
			return block
		}
	}
	return ""
}

// relocAt reports whether readelf -r lists a relocation of type typ at
// offset addr naming sym.
func relocAt(relocs, addr, typ, sym string) bool {
	off := strings.TrimPrefix(addr, "0x")
	for _, l := range strings.Split(relocs, "\n") {
		f := strings.Fields(l)
		if len(f) >= 5 && strings.TrimLeft(f[0], "0") == off && f[2] == typ && f[4] == sym {
			return true
		}
	}
	return false
}

func TestLinkWhy(t *testing.T) {
	b := newLinkBuild(t, explainSources)
	b.cc("gcc", "-shared", "-fPIC", "-o", "libx.so", "lib.c")
	b.cc("gcc", "-c", "-fno-pie", "m.c", "h.c")
	if out, err := exec.Command("ar", "rcs", b.path("ldgo", "libh.a"), b.path("ldgo", "h.o")).CombinedOutput(); err != nil {
		t.Fatalf("ar: %v\n%s", err, out)
	}
	out, err := b.ccOne("ldgo", "gcc", "-no-pie", "-o", "m", "m.o", "./libx.so", "libh.a",
		"-Wl,--why,f", "-Wl,--why,counter", "-Wl,--why=tv", "-Wl,--why=helper")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	checkELF(t, b.path("ldgo", "m"))
	run := exec.Command(b.path("ldgo", "m"))
	run.Dir, run.Env = b.dir("ldgo"), baseEnv()
	if r := runCommand(t, run); r.stdout != "6 5 3 15 1\n" {
		t.Errorf("m: %+v", r)
	}
	relocs := readelf(t, "-r", b.path("ldgo", "m"))
	dynsyms := readelf(t, "--dyn-syms", b.path("ldgo", "m"))

	f := explained(out, "f")
	for _, want := range []string{"f: imported from ./libx.so", "m.o(.text+", ": R_X86_64_PLT32: the field written at link time; to its PLT entry; needs a PLT entry",
		"m.o(.data+0x0): R_X86_64_64: a dynamic relocation naming the symbol", ": R_X86_64_32: the field written at link time; needs a PLT entry and a canonical PLT entry"} {
		if !strings.Contains(f, want) {
			t.Errorf("--why f lacks %q:\n%s", want, f)
		}
	}
	if !regexp.MustCompile(`(?m)R_X86_64_64\s+[0-9a-f]+ f \+ 0$`).MatchString(relocs) {
		t.Errorf("--why f says a dynamic relocation for fp; readelf -r:\n%s", relocs)
	}
	canon := regexp.MustCompile(`its canonical address (0x[0-9a-f]+)`).FindStringSubmatch(f)
	if canon == nil || !regexp.MustCompile(`(?m)^\s*\d+: 0*`+strings.TrimPrefix(canon[1], "0x")+`\s+0 FUNC\s+GLOBAL DEFAULT\s+UND f$`).MatchString(dynsyms) {
		t.Errorf("--why f's canonical address %v is not f's value in .dynsym:\n%s\n%s", canon, f, dynsyms)
	}

	counter := explained(out, "counter")
	copyAt := regexp.MustCompile(`a copy at (0x[0-9a-f]+) \(R_X86_64_COPY\)`).FindStringSubmatch(counter)
	if copyAt == nil || !relocAt(relocs, copyAt[1], "R_X86_64_COPY", "counter") {
		t.Errorf("--why counter:\n%s\nreadelf -r:\n%s", counter, relocs)
	}

	tv := explained(out, "tv")
	ie := regexp.MustCompile(`initial-exec GOT entry at (0x[0-9a-f]+) \(R_X86_64_TPOFF64\)`).FindStringSubmatch(tv)
	if ie == nil || !strings.Contains(tv, "R_X86_64_GOTTPOFF: the field written at link time; needs an initial-exec TLS GOT entry") ||
		!relocAt(relocs, ie[1], "R_X86_64_TPOFF64", "tv") {
		t.Errorf("--why tv:\n%s\nreadelf -r:\n%s", tv, relocs)
	}

	helper := explained(out, "helper")
	if !strings.Contains(helper, "helper: defined in libh.a(h.o)(.text)") || !strings.Contains(helper, "libh.a(h.o) was extracted for it, referenced by m.o") ||
		!strings.Contains(helper, "not in .dynsym") || strings.Contains(dynsyms, " helper") {
		t.Errorf("--why helper:\n%s", helper)
	}
}

// TestLinkExplainMap checks --explain with -Map: every symbol of .dynsym
// explained after the map.
func TestLinkExplainMap(t *testing.T) {
	b := newLinkBuild(t, explainSources)
	b.cc("gcc", "-shared", "-fPIC", "-o", "libx.so", "lib.c")
	if out, err := b.ccOne("ldgo", "gcc", "-o", "m", "m.c", "h.c", "./libx.so", "-Wl,--explain", "-Wl,-Map=m.map"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	data, err := os.ReadFile(b.path("ldgo", "m.map"))
	if err != nil {
		t.Fatal(err)
	}
	_, why, ok := strings.Cut(string(data), "\nWhy each dynamic symbol is as it is (--explain)\n\n")
	if !ok {
		t.Fatalf("no explanation in the map:\n%s", data)
	}
	for _, l := range strings.Split(readelf(t, "--dyn-syms", b.path("ldgo", "m")), "\n") {
		if m := symLine.FindStringSubmatch(l); m != nil && m[5] != "" {
			name, _, _ := strings.Cut(strings.TrimSpace(m[5]), "@")
			if explained(why, name) == "" {
				t.Errorf("--explain does not explain %s (in .dynsym)", name)
			}
		}
	}
	// In a PIE, the function pointer is a GLOB_DAT'd GOT entry or a
	// symbolic relocation, never a canonical PLT entry.
	if f := explained(why, "f"); !strings.Contains(f, "preemptible") || strings.Contains(f, "canonical") {
		t.Errorf("--explain f in a PIE:\n%s", f)
	}
}
