package main

import (
	"debug/elf"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// -z separate-code (GNU ld's default on x86-64 Linux: the headers and
// read-only data in segments of their own, code alone in its pages) and
// -z noseparate-code (one R E segment for all but the writable data),
// compared with GNU ld's segments in kind: the program headers' types
// and flags in order, and which sections each holds.

var segmentSources = map[string]string{
	"lib.c": `const char greeting[] = "hello";
int counter = 1;
const char *greet(void) { counter++; return greeting; }
`,
	"main.c": `#include <stdio.h>
#include <string.h>
const char *greet(void);
static const char table[] = "read-only data";
int main(void) { printf("%s %zu\n", greet(), strlen(table)); return 0; }
`,
	"static.c": `#include <stdio.h>
__thread int tls = 3;
int main(void) { printf("static %d\n", tls); return 0; }
`,
}

var (
	phdrLine = regexp.MustCompile(`^\s+([A-Z_]+)\s+0x[0-9a-f]+ 0x[0-9a-f]+ 0x[0-9a-f]+ 0x[0-9a-f]+ 0x[0-9a-f]+ (.{3}) 0x[0-9a-f]+$`)
	mapLine  = regexp.MustCompile(`^\s+(\d\d)\s+(.*)$`)
)

// segments reads an output's program headers as "TYPE FLAGS", in
// order, and which PT_LOAD segment (counted from 0) each section is in.
func segments(t *testing.T, path string) (kinds []string, load map[string]int) {
	t.Helper()
	load = map[string]int{}
	mapping := false
	i, loads := 0, 0
	for _, l := range strings.Split(readelf(t, "-l", path), "\n") {
		if strings.Contains(l, "Section to Segment mapping") {
			mapping = true
			continue
		}
		if !mapping {
			if m := phdrLine.FindStringSubmatch(l); m != nil {
				kinds = append(kinds, m[1]+" "+strings.TrimSpace(m[2]))
			}
			continue
		}
		if m := mapLine.FindStringSubmatch(l); m != nil && i < len(kinds) {
			if strings.HasPrefix(kinds[i], "LOAD ") {
				for _, s := range strings.Fields(m[2]) {
					load[s] = loads
				}
				loads++
			}
			i++
		}
	}
	if len(kinds) == 0 || i != len(kinds) {
		t.Fatalf("readelf -l %s: %d program headers, %d mapped", path, len(kinds), i)
	}
	return kinds, load
}

func TestLinkSeparateCode(t *testing.T) {
	b := newLinkBuild(t, segmentSources)
	for _, z := range []string{"", "-Wl,-z,separate-code", "-Wl,-z,noseparate-code"} {
		flags := []string{}
		if z != "" {
			flags = append(flags, z)
		}
		b.cc("gcc", append([]string{"-shared", "-fPIC", "-o", "libseg.so", "lib.c"}, flags...)...)
		b.cc("gcc", append([]string{"-o", "pie", "main.c", "./libseg.so"}, flags...)...)
		b.cc("gcc", append([]string{"-no-pie", "-fno-pie", "-o", "nopie", "main.c", "./libseg.so"}, flags...)...)
		b.cc("gcc", append([]string{"-static", "-o", "static", "static.c"}, flags...)...)
		for _, out := range []string{"libseg.so", "pie", "nopie", "static"} {
			want, wantLoad := segments(t, b.path("bfd", out))
			got, gotLoad := segments(t, b.path("ldgo", out))
			if !slices.Equal(want, got) {
				t.Errorf("%s %s: program headers differ\nGNU ld:\n\t%s\nldgo:\n\t%s", out, z, strings.Join(want, "\n\t"), strings.Join(got, "\n\t"))
			}
			// The sections both linkers make are in the same
			// segments.
			for sec, i := range wantLoad {
				if j, ok := gotLoad[sec]; ok && i != j {
					t.Errorf("%s %s: %s is in PT_LOAD %d, in GNU ld's output in %d", out, z, sec, j, i)
				}
			}
			// The kind itself: code apart from the headers, or not.
			loads := 0
			for _, k := range got {
				if strings.HasPrefix(k, "LOAD ") {
					loads++
				}
			}
			if wantLoads := map[bool]int{true: 4, false: 2}[z != "-Wl,-z,noseparate-code"]; loads != wantLoads {
				t.Errorf("%s %s: %d PT_LOAD segments, want %d", out, z, loads, wantLoads)
			}
			checkELFLike(t, b.path("ldgo", out), b.path("bfd", out))
		}
		env := append(baseEnv(), "LD_LIBRARY_PATH=.")
		for _, prog := range []string{"pie", "nopie", "static"} {
			b.run(env, prog)
		}
		b.runHosted(env, "pie")
	}
}

// TestLinkEmptySection checks that a symbol defined in an output
// section left out for being empty (crtstuff's __TMC_END__ in
// .tm_clone_table, or an assembler label in a section of its own) is
// defined, in both linkers' outputs, at an address in the section it is
// given: GNU ld's place for it, the end of the section before.
func TestLinkEmptySection(t *testing.T) {
	b := newLinkBuild(t, map[string]string{"e.c": `__asm__(".pushsection .emptied,\"aw\"\n.globl label\nlabel:\n.popsection\n");
extern char label[];
int main(void) { return label != 0 ? 0 : 1; }
`})
	b.cc("gcc", "-o", "e", "e.c")
	for _, l := range linkers {
		f := openELF(t, b.path(l, "e"))
		syms, err := f.Symbols()
		if err != nil {
			t.Fatal(err)
		}
		found := 0
		for _, s := range syms {
			if s.Name != "label" && s.Name != "__TMC_END__" {
				continue
			}
			found++
			if s.Section == elf.SHN_UNDEF || int(s.Section) >= len(f.Sections) {
				t.Errorf("%s: %s: section %v", l, s.Name, s.Section)
				continue
			}
			sec := f.Sections[s.Section]
			if s.Value < sec.Addr || s.Value > sec.Addr+sec.Size {
				t.Errorf("%s: %s at %#x, outside %s (%#x, %#x bytes)", l, s.Name, s.Value, sec.Name, sec.Addr, sec.Size)
			}
		}
		if found != 2 {
			t.Errorf("%s: %d of label and __TMC_END__ in .symtab", l, found)
		}
	}
	b.check("e")
	b.run(baseEnv(), "e")
}
