package main

import (
	"debug/elf"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// An IBT-enabled PLT (.plt, then .plt.sec), as GNU ld 2.40 lays it out,
// under -z ibtplt and -z ibt.

var ibtSources = map[string]string{
	"lib.c": `#include <stdio.h>
int twice(int x) { return 2 * x; }
int (*lib_twice(void))(int) { return twice; }
/* A call the library makes through its own PLT: twice is preemptible. */
int quad(int x) { return twice(twice(x)); }
`,
	"main.c": `#include <stdio.h>
int twice(int x);
int quad(int x);
int (*lib_twice(void))(int);
int main(void)
{
	/* In a non-PIE executable &twice is its canonical PLT entry, the
	   .plt.sec one; the library's pointer must be the same. */
	printf("%d %d %s\n", twice(21), quad(3), &twice == lib_twice() ? "same" : "different");
	return 0;
}
`,
}

func TestLinkPLTSec(t *testing.T) {
	for _, z := range []string{"ibtplt", "ibt"} {
		t.Run(z, func(t *testing.T) {
			b := newLinkBuild(t, ibtSources)
			flag := "-Wl,-z," + z
			b.cc("gcc", "-shared", "-fPIC", flag, "-o", "libibt.so", "lib.c")
			b.cc("gcc", "-no-pie", "-fno-pie", flag, "-o", "prog", "main.c", "./libibt.so")
			b.cc("gcc", flag, "-o", "prog-pie", "main.c", "./libibt.so")
			env := baseEnv()
			for _, f := range []string{"libibt.so", "prog", "prog-pie"} {
				b.check(f)
				// The library calls twice, whose address it also
				// takes, through .plt.got (IBT-enabled entries): it
				// has no .plt.sec. The programs have one each.
				for _, l := range linkers {
					ef, err := elf.Open(b.path(l, f))
					if err != nil {
						t.Fatal(err)
					}
					s := ef.Section(".plt.sec")
					if s == nil && f != "libibt.so" || s != nil && (f == "libibt.so" || s.Entsize != 16 || s.Flags != elf.SHF_ALLOC|elf.SHF_EXECINSTR) {
						t.Errorf("%s linked by %s: .plt.sec %+v", f, l, s)
					}
					ef.Close()
				}
			}
			for _, prog := range []string{"prog", "prog-pie"} {
				if r := b.run(env, prog); r.stdout != "42 12 same\n" {
					t.Errorf("%s: status %d, %q%s", prog, r.status, r.stdout, r.stderr)
				}
				b.runHosted(env, prog)
				// ldgo plt decodes each object's own PLT bytes
				// (object.DecodePLT): both layouts, every slot, the
				// same slots in GNU ld's build and ldgo's (twice,
				// whose address the library and a PIE also load from
				// the GOT, is called through .plt.got in both).
				var slots [][]string
				for _, l := range linkers {
					t.Chdir(b.dir(l))
					out, status := ldgo(t, env, "plt", "./"+prog)
					first, _, _ := strings.Cut(out, "\n")
					if status != 0 || !strings.Contains(first, "an IBT-enabled PLT (.plt, and .plt.sec that calls go to)") || strings.Contains(out, "problem") {
						t.Errorf("ldgo plt %s (linked by %s): status %d\n%s", prog, l, status, out)
					}
					slots = append(slots, pltSlots(out, "./"+prog))
				}
				if !slices.Equal(slots[0], slots[1]) || !slices.Contains(slots[1], "quad") || !slices.Contains(slots[1], "printf@GLIBC_2.2.5") {
					t.Errorf("ldgo plt %s: GNU ld's build has slots %v, ldgo's %v", prog, slots[0], slots[1])
				}
			}
		})
	}
}

// TestLinkPLTSecFromInputs links objects that are all marked IBT
// (-fcf-protection, and no C start files, which Debian does not mark):
// the output is marked IBT too and its PLT is IBT-enabled, as GNU ld's.
func TestLinkPLTSecFromInputs(t *testing.T) {
	b := newLinkBuild(t, map[string]string{
		"lib.c": ibtSources["lib.c"],
		"start.c": `int twice(int x);
void _start(void)
{
	int status = twice(21) == 42 ? 0 : 1;
	__asm__ volatile("syscall" : : "a"(60), "D"(status));
	__builtin_unreachable();
}
`,
	})
	b.cc("gcc", "-shared", "-fPIC", "-o", "libibt.so", "lib.c")
	b.cc("gcc", "-fcf-protection=full", "-nostdlib", "-o", "start", "start.c", "./libibt.so")
	b.check("start")
	for _, l := range linkers {
		if out := readelf(t, "-n", b.path(l, "start")); !strings.Contains(out, "x86 feature: IBT, SHSTK") {
			t.Errorf("%s: not marked IBT:\n%s", l, out)
		}
		ef, err := elf.Open(b.path(l, "start"))
		if err != nil {
			t.Fatal(err)
		}
		if ef.Section(".plt.sec") == nil {
			t.Errorf("%s: no .plt.sec", l)
		}
		ef.Close()
	}
	if r := b.run(baseEnv(), "start"); r.status != 0 {
		t.Errorf("start: status %d", r.status)
	}
}

var pltSlotLine = regexp.MustCompile(`^\s+\d+\s+(\S+)\s+0x`)

// pltSlots lists the symbols of the slots ldgo plt shows for obj.
func pltSlots(out, obj string) []string {
	var slots []string
	in := false
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, " ") && l != "" {
			in = strings.HasPrefix(l, obj+" ")
			continue
		}
		if m := pltSlotLine.FindStringSubmatch(l); m != nil && in {
			slots = append(slots, m[1])
		}
	}
	slices.Sort(slots)
	return slots
}
