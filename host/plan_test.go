package host_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ldgo/ldgo/host"
	"github.com/ldgo/ldgo/object"
	"github.com/ldgo/ldgo/plan"
)

// word reads the word at addr.
func word(addr uint64) uint64 { return *(*uint64)(object.Pointer(uintptr(addr))) }

// protection is the permissions /proc/self/maps gives the page at addr.
func protection(t *testing.T, addr uint64) string {
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skip(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		var lo, hi uint64
		var perm string
		if n, _ := fmt.Sscanf(l, "%x-%x %s", &lo, &hi, &perm); n == 3 && addr >= lo && addr < hi {
			return perm
		}
	}
	return ""
}

// The executor turns each kind of target into its value with the
// objects' places, writes an adopted object's words only where they bind
// it to the plan's objects (its RELRO opened for them and closed again),
// substitutes ldgo's functions, and fills the lazy tables and GOTs.
func TestExecPlan(t *testing.T) {
	page := func(prot int) uint64 {
		b, err := unix.Mmap(-1, 0, 4096, prot, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Munmap(b) })
		return uint64(uintptr(unsafe.Pointer(&b[0])))
	}
	a, b := page(unix.PROT_READ|unix.PROT_WRITE), page(unix.PROT_READ)
	lo, libc := libc(t)
	getpid := symbol(t, libc, "getpid").Value
	lazy := host.NewLazy(2)
	objs := []host.PlanObject{
		{Base: a, Lazy: &lazy, PLTGot: 0x100},
		{Base: uint64(lo.Base), Adopted: true, TLSOffset: 0x40, TLSModID: 7},
		{Base: b, Adopted: true, RelroLo: b, RelroHi: b + 4096},
	}
	tg := func(k plan.TargetKind, obj, off uint64) host.PlanTarget {
		return host.PlanTarget{Kind: uint64(k), Object: obj, Off: off}
	}
	tests := []struct {
		obj, off uint64
		value    host.PlanTarget
		want     uint64 // 0: not written, or checked apart
	}{
		{0, 0x0, tg(plan.Absolute, 0, 0x1234), 0x1234},
		{0, 0x8, tg(plan.InObject, 2, 0x10), b + 0x10},
		{0, 0x10, tg(plan.InObject, 0, 0x20), 0x5555}, // substituted
		{0, 0x18, tg(plan.Executor, 0, uint64(plan.TLSDescStatic)), host.TLSDescStatic()},
		{0, 0x20, tg(plan.TLSOffset, 1, 0x48), 8},
		{0, 0x28, tg(plan.TLSModule, 1, 0), 7},
		{0, 0x30, tg(plan.TLSIndex, 1, 0x10), 0},
		{2, 0x0, tg(plan.InObject, 0, 0x40), a + 0x40},
		{2, 0x8, tg(plan.InObject, 2, 0x80), 0}, // the adopted object's own: left
		{2, 0x10, tg(plan.Absolute, 0, 5), 0},
		{0, 0x38, tg(plan.IFunc, 1, getpid), uint64(os.Getpid())}, // IFUNC values last
	}
	p := &host.Plan{Objects: objs, Subst: [][2]uint64{{a + 0x20, 0x5555}}}
	for _, tc := range tests {
		p.Writes = append(p.Writes, host.PlanWrite{Object: tc.obj, Off: tc.off, Value: tc.value})
	}
	p.Lazy = []host.PlanLazy{
		{Object: 0, Slot: 0, Off: 0x200, Target: tg(plan.InObject, 2, 0x30)},
		{Object: 0, Slot: 1, Off: 0x208, Target: tg(plan.Unresolved, 0, 0)},
		{Object: 2, Slot: 0, Off: 0x18, Target: tg(plan.InObject, 0, 0x50)},
	}
	n, err := host.ExecPlan(p)
	if err != nil {
		t.Fatal(err)
	}
	if n != 10 {
		t.Errorf("%d words written, want 10", n)
	}
	for _, tc := range tests {
		if got := word(objs[tc.obj].Base + tc.off); got != tc.want && !(tc.value.Kind == uint64(plan.TLSIndex) && got != 0) {
			t.Errorf("word at %#x of object %d (%v): %#x, want %#x", tc.off, tc.obj, plan.TargetKind(tc.value.Kind), got, tc.want)
		}
	}
	if got := word(b + 0x18); got != a+0x50 {
		t.Errorf("the adopted object's PLT slot: %#x, want %#x", got, a+0x50)
	}
	if got, want := [2]uint64{word(a + 0x108), word(a + 0x110)}, [2]uint64{lazy.Addr(), host.Trampoline()}; got != want {
		t.Errorf("GOT[1], GOT[2] = %#x, want %#x", got, want)
	}
	if slot, target := lazy.Get(0); slot != a+0x200 || target != b+0x30 {
		t.Errorf("lazy slot 0: GOT entry %#x, target %#x; want %#x, %#x", slot, target, a+0x200, b+0x30)
	}
	if slot, target := lazy.Get(1); slot != 0 || target != 0 {
		t.Errorf("the unresolved lazy slot: GOT entry %#x, target %#x", slot, target)
	}
	if perm := protection(t, b); !strings.HasPrefix(perm, "r--") {
		t.Errorf("the adopted object's RELRO is %q after, want read-only again", perm)
	}

	bad := &host.Plan{Objects: objs[:1], Writes: []host.PlanWrite{{Object: 0, Off: 0, Value: tg(plan.InObject, 5, 0)}}}
	if _, err := host.ExecPlan(bad); err == nil || !strings.Contains(err.Error(), "cannot make") {
		t.Errorf("a target in no object: %v", err)
	}
}
