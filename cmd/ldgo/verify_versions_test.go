package main

import (
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// A version missing from a library is needed by two objects, each for
// its own symbols: ldgo verify says, under each of glibc's messages, which
// symbols need the version and which relocations of which object name
// them — readelf's relocations of the same files.
func TestVerifyNamesReferences(t *testing.T) {
	if _, err := exec.LookPath("readelf"); err != nil {
		t.Skip("readelf not installed")
	}
	f := newFixture(t)
	f.write("v3.map", "V3 { global: bar; baz; local: *; };\n")
	f.lib("libv.so", `int bar(void) { return 3; } int baz = 3;`, "-Wl,--version-script=v3.map", "-Wl,-soname,libv.so")
	f.lib("libmid.so", `int bar(void); int mid(void) { return bar(); }`, "-L.", "-lv", "-Wl,-soname,libmid.so")
	prog := f.prog("prog", `
extern int baz;
int bar(void);
int mid(void);
int main(void) { return bar() + mid() + baz; }
`, "-L.", "-lmid", "-lv", "-Wl,-rpath,"+f.dir)
	f.write("v2.map", "V2 { global: bar; baz; local: *; };\n")
	f.lib("libv.so", `int bar(void) { return 2; } int baz = 2;`, "-Wl,--version-script=v2.map", "-Wl,-soname,libv.so")

	out, status := ldgo(t, nil, "verify", prog)
	sameLines(t, "problems", problemLines(glibc(t, nil, "ldd", "-r", prog)), problemLines(out))
	if status != 1 {
		t.Errorf("verify: status %d\n%s", status, out)
	}
	// Each message, and the lines under it.
	told := map[string][]string{}
	var required string
	for _, l := range strings.Split(out, "\n") {
		if m := regexp.MustCompile("version `V3' not found \\(required by (.*)\\)$").FindStringSubmatch(l); m != nil {
			required = m[1]
		} else if strings.HasPrefix(l, "\t") && required != "" {
			told[required] = append(told[required], l)
		}
	}
	for _, obj := range []string{prog, f.path("libmid.so")} {
		// readelf: each relocation naming a symbol at V3.
		var want []string
		names := map[string]bool{}
		rel := regexp.MustCompile(`^([0-9a-f]+)\s+[0-9a-f]+\s+(R_X86_64_\S+)\s+[0-9a-f]+\s+(\w+)@V3`)
		for _, l := range strings.Split(glibc(t, nil, "readelf", "-rW", obj), "\n") {
			if m := rel.FindStringSubmatch(l); m != nil {
				names[m[3]] = true
				want = append(want, m[3]+" "+m[2]+" at 0x"+strings.TrimLeft(m[1], "0"))
			}
		}
		if len(want) == 0 {
			t.Fatalf("readelf shows no relocation of %s naming a V3 symbol", obj)
		}
		var got []string
		var needed []string
		for _, l := range told[obj] {
			if n, ok := strings.CutPrefix(l, "\tneeded by: "); ok {
				needed = strings.Split(n, ", ")
				continue
			}
			m := regexp.MustCompile(`^\t(\w+) is referenced by (.*): (.*)$`).FindStringSubmatch(l)
			if m == nil || m[2] != obj {
				t.Errorf("under the message for %s: %q", obj, l)
				continue
			}
			for _, r := range strings.Split(m[3], "; ") {
				r, _, _ = strings.Cut(r, ", PLT slot")
				got = append(got, m[1]+" "+r)
			}
		}
		var wantNames []string
		for n := range names {
			wantNames = append(wantNames, n)
		}
		slices.Sort(wantNames)
		slices.Sort(needed)
		if !slices.Equal(needed, wantNames) {
			t.Errorf("%s: needed by %q, readelf says %q", obj, needed, wantNames)
		}
		sameLines(t, "references of "+obj, sortUnique(want), sortUnique(got))
	}
}
