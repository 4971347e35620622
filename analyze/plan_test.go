package analyze

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/ldgo/ldgo/internal/testelf"
	"github.com/ldgo/ldgo/plan"
)

// planFixtures builds programs whose relocations take every kind of
// target a plan has: relative and symbolic words, IFUNC results, COPY
// relocations, static and dynamic TLS (TLS descriptors too), unresolved
// weak references, lazy and bound-now PLT slots, a program at fixed
// addresses.
func planFixtures(t *testing.T) map[string]string {
	d := testelf.New(t)
	d.Build("libdep.so", `
int dep_data[4] = {1, 2, 3, 4};
int *dep_ptr = &dep_data[2];
__thread int dep_tls = 7;
extern __thread int top_gd; // global dynamic: DTPMOD64 and DTPOFF64
int *dep_gd(void) { return &top_gd; }
int dep_fn(int x) { return x + dep_data[0]; }
static int impl(void) { return 42; }
static void *resolve(void) { return (void *)impl; }
int dep_ifunc(void) __attribute__((ifunc("resolve")));
`)
	d.Build("libtop.so", `
#include <stdio.h>
extern int dep_fn(int);
extern int dep_ifunc(void);
extern int *dep_ptr;
extern __thread int dep_tls;
__thread int top_gd = 5;
extern void nowhere(void) __attribute__((weak));
int (*top_fp)(int) = dep_fn;
void *top_weak = (void *)nowhere;
int top(void) { printf("%d\n", dep_tls + top_gd); return dep_fn(*dep_ptr) + dep_ifunc(); }
`, "-mtls-dialect=gnu2", "-ldep")
	src := `
#include <stdio.h>
extern int top(void);
extern int dep_data[4];
int main(void) { printf("%d %d\n", top(), dep_data[1]); return 0; }
`
	return map[string]string{
		"pie":    d.Build("pie", src, "-ltop", "-ldep", "-Wl,-rpath,"+d.Path),
		"no-pie": d.Build("nopie", src, "-no-pie", "-fno-pic", "-ltop", "-ldep", "-Wl,-rpath,"+d.Path),
		"now":    d.Build("now", src, "-Wl,-z,now", "-ltop", "-ldep", "-Wl,-rpath,"+d.Path),
	}
}

// TestPlanComplete checks that a plan holds every word relocation writes:
// its writes, made at the bases of a third placement of the objects,
// give exactly the words the file image's relocation writes there, and
// its lazy slots the targets glibc's first calls bind. The plan is made
// from two other placements, so a value it kept as absolute that should
// move, or in the wrong object, fails here.
func TestPlanComplete(t *testing.T) {
	progs := planFixtures(t)
	if _, err := os.Stat("/usr/bin/ls"); err == nil {
		progs["ls"] = "/usr/bin/ls"
	}
	for name, path := range progs {
		t.Run(name, func(t *testing.T) {
			opts := PlanOptions{Options: Options{PreloadFile: "-"}}
			p, err := Plan(path, opts)
			if err != nil {
				t.Fatal(err)
			}
			// The analysis commands' placement, TLS moved another way.
			third := placements[0]
			third.modStep, third.tlsStep = 1<<20, 1<<28
			r, err := relocateForPlan(path, opts, third, pseudoBases[0])
			if err != nil {
				t.Fatal(err)
			}
			defer r.a.Close()
			if len(r.maps) != len(p.Objects) {
				t.Fatalf("%d objects loaded, %d in the plan", len(r.maps), len(p.Objects))
			}
			// The file image's words, with what the executor would
			// make named as the plan names it.
			want := map[uint64]string{}
			r.a.img.Changes(func(addr uint64, old, now []byte) {
				want[addr] = r.canonical(binary.LittleEndian.Uint64(now))
			})
			got := map[uint64]string{}
			for _, w := range p.Writes {
				got[r.maps[w.Object].Base+w.Off] = r.resolve(t, w.Value)
			}
			kinds := map[plan.TargetKind]int{}
			for _, w := range p.Writes {
				kinds[w.Value.Kind]++
			}
			t.Logf("%d objects, %d writes %v, %d lazy slots", len(p.Objects), len(p.Writes), kinds, len(p.Lazy))
			for addr, w := range want {
				if g, ok := got[addr]; !ok {
					t.Errorf("word at %#x = %s: not in the plan", addr, w)
				} else if g != w {
					t.Errorf("word at %#x: plan gives %s, the file image %s", addr, g, w)
				}
			}
			for addr, g := range got {
				if _, ok := want[addr]; !ok {
					t.Errorf("the plan writes %s at %#x, the file image nothing", g, addr)
				}
			}
			if len(r.lazy) != len(p.Lazy) {
				t.Fatalf("%d lazy slots, %d in the plan", len(r.lazy), len(p.Lazy))
			}
			for i, s := range r.lazy {
				l := p.Lazy[i]
				if r.maps[l.Object] != s.m || int(l.Slot) != s.slot || r.maps[l.Object].Base+l.Off != s.got {
					t.Errorf("lazy slot %d: plan has object %d slot %d at %#x", i, l.Object, l.Slot, l.Off)
				}
				want := "error"
				if s.err == nil {
					want = r.canonical(s.target)
				}
				if got := r.resolve(t, l.Target); got != want {
					t.Errorf("lazy slot %d of %s: plan gives %s, the first call %s", s.slot, s.m.Name, got, want)
				}
			}
			if name != "now" && len(p.Lazy) == 0 {
				t.Error("no lazy slots")
			}
			checkPlanNames(t, p)
		})
	}
}

// checkPlanNames checks the plan's program headers and the variables
// the start sets against Go's debug/elf reading of the files.
func checkPlanNames(t *testing.T, p *plan.Plan) {
	t.Helper()
	var want, got []string
	for j, o := range p.Objects {
		if o.Kind == plan.VDSO || o.Kind == plan.Rtld {
			continue
		}
		f, err := elf.Open(o.Path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if j == 0 {
			if uint64(len(f.Progs)) != p.Phnum {
				t.Errorf("%d program headers, debug/elf reads %d", p.Phnum, len(f.Progs))
			}
			for _, ph := range f.Progs {
				if ph.Type == elf.PT_PHDR && ph.Vaddr != p.Phdr {
					t.Errorf("program headers at %#x, PT_PHDR says %#x", p.Phdr, ph.Vaddr)
				}
			}
		}
		syms, _ := f.DynamicSymbols()
		for _, s := range syms {
			if k, ok := plan.ProgramNames[s.Name]; ok && s.Section != elf.SHN_UNDEF && s.Value != 0 {
				want = append(want, fmt.Sprintf("%d %#x %d", j, s.Value, k))
			}
		}
	}
	for _, n := range p.Names {
		got = append(got, fmt.Sprintf("%d %#x %d", n.Object, n.Off, n.Kind))
	}
	slices.Sort(want)
	want = slices.Compact(want) // aliases and versions of one variable
	slices.Sort(got)
	if !slices.Equal(got, want) || len(got) == 0 {
		t.Errorf("names %q, debug/elf's %q", got, want)
	}
}

// canonical names value v written in run r: a number, or what the
// executor's pseudo object stands for.
func (r *planRun) canonical(v uint64) string {
	off := v - r.env.pseudo
	switch {
	case off < pseudoIFunc:
		return fmt.Sprintf("executor %d", off/16)
	case off < pseudoTLSIndex:
		return fmt.Sprintf("ifunc %#x", r.env.ifuncs[(off-pseudoIFunc)/16])
	case off < pseudoSize:
		ti := r.env.tlsIndex[(off-pseudoTLSIndex)/16]
		return fmt.Sprintf("tls-index %d %#x", ti.def.TLSModID, ti.off)
	}
	return fmt.Sprintf("%#x", v)
}

// resolve is what t is in run r, named as canonical names it.
func (r *planRun) resolve(t *testing.T, tg plan.Target) string {
	switch tg.Kind {
	case plan.Absolute:
		return r.canonical(tg.Off)
	case plan.InObject:
		return r.canonical(r.maps[tg.Object].Base + tg.Off)
	case plan.IFunc:
		return fmt.Sprintf("ifunc %#x", r.maps[tg.Object].Base+tg.Off)
	case plan.Executor:
		return fmt.Sprintf("executor %d", tg.Off)
	case plan.TLSIndex:
		return fmt.Sprintf("tls-index %d %#x", r.maps[tg.Object].TLSModID, tg.Off)
	case plan.TLSOffset:
		return r.canonical(tg.Off - r.maps[tg.Object].TLSOffset)
	case plan.TLSModule:
		return r.canonical(r.maps[tg.Object].TLSModID + tg.Off)
	case plan.Unresolved:
		return "error"
	}
	t.Fatalf("target of kind %v", tg.Kind)
	return ""
}
