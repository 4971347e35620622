package host_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ldgo/ldgo/analyze"
	"github.com/ldgo/ldgo/host"
	"github.com/ldgo/ldgo/internal/testelf"
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

// MapPlanFile maps the libraries of a plan made for a gcc-built program
// as the plan's segments say — file bytes where the file has them, zero
// past, each with its protection — and refuses a file whose status or
// build-id is not the plan's.
func TestMapPlanFile(t *testing.T) {
	d := testelf.New(t)
	d.Build("libm1.so", `int data[1000] = {1, 2, 3}; int bss[5000]; const char *s = "text"; int f(void) { return data[0] + bss[1]; }`)
	prog := d.Build("prog", `int f(void); int main(void) { return f(); }`, "-lm1", "-Wl,-rpath,"+d.Path)
	p, err := analyze.Plan(prog, analyze.PlanOptions{Options: analyze.Options{PreloadFile: "-"}})
	if err != nil {
		t.Fatal(err)
	}
	fileOf := func(o *plan.Object) *host.PlanFile {
		f := &host.PlanFile{Path: o.Path, Status: o.ID.FileStatus, BuildID: o.BuildID()}
		for _, s := range o.Segments {
			f.Segments = append(f.Segments, host.PlanSegment{Off: s.Off, Vaddr: s.Vaddr, Filesz: s.Filesz, Memsz: s.Memsz, Prot: uint64(s.Prot)})
		}
		return f
	}
	var lib *plan.Object
	mapped := 0
	for i := range p.Objects {
		o := &p.Objects[i]
		if o.Kind != plan.Library {
			continue
		}
		if strings.HasSuffix(o.Path, "libm1.so") {
			lib = o
		}
		data, err := os.ReadFile(o.Path)
		if err != nil {
			t.Fatal(err)
		}
		base, err := host.MapPlanFile(fileOf(o))
		if err != nil {
			t.Fatalf("%s: %v", o.Path, err)
		}
		mapped++
		for _, s := range o.Segments {
			at := unsafe.Slice((*byte)(object.Pointer(uintptr(base+s.Vaddr))), s.Memsz)
			if !bytes.Equal(at[:s.Filesz], data[s.Off:s.Off+s.Filesz]) {
				t.Errorf("%s: segment at %#x does not hold the file's bytes", o.Path, s.Vaddr)
			}
			if !bytes.Equal(at[s.Filesz:], make([]byte, s.Memsz-s.Filesz)) {
				t.Errorf("%s: segment at %#x: its bss is not zero", o.Path, s.Vaddr)
			}
			want := protString(s.Prot)
			if got := protection(t, base+s.Vaddr+s.Memsz-1); !strings.HasPrefix(got, want) {
				t.Errorf("%s: segment at %#x mapped %q, want %q", o.Path, s.Vaddr, got, want)
			}
		}
	}
	if mapped < 2 || lib == nil {
		t.Fatalf("%d libraries mapped", mapped)
	}

	f := fileOf(lib)
	f.BuildID = append([]byte(nil), f.BuildID...)
	f.BuildID[0] ^= 1
	if _, err := host.MapPlanFile(f); err == nil || !strings.Contains(err.Error(), "build-id differs") {
		t.Errorf("another build-id: %v", err)
	}
	if err := os.Chmod(lib.Path, 0o755); err != nil { // a new ctime
		t.Fatal(err)
	}
	if _, err := host.MapPlanFile(fileOf(lib)); err == nil || !strings.Contains(err.Error(), "status changed") {
		t.Errorf("a file changed since the plan: %v", err)
	}
}

func protString(p uint8) string {
	b := []byte("---")
	if p&4 != 0 {
		b[0] = 'r'
	}
	if p&2 != 0 {
		b[1] = 'w'
	}
	if p&1 != 0 {
		b[2] = 'x'
	}
	return string(b)
}
