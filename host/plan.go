package host

/*
#include <stdlib.h>
#include "host.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"github.com/ldgo/ldgo/object"
)

// PlanTarget is a value of a launch plan (plan.Target), its kind numbered
// as package plan numbers them.
type PlanTarget struct{ Kind, Object, Off uint64 }

// PlanObject is an object of a launch plan at its place in this process.
type PlanObject struct {
	Base, TLSOffset, TLSModID uint64
	// Adopted objects are in the process already: only their words that
	// bind them to the plan's objects are written, [RelroLo, RelroHi)
	// opened for them.
	Adopted          bool
	RelroLo, RelroHi uint64
	// Lazy is the table of a lazily bound object, whose DT_PLTGOT is
	// PLTGot.
	Lazy   *Lazy
	PLTGot uint64
}

// PlanWrite is a word to write: at Off in Object.
type PlanWrite struct {
	Object, Off uint64
	Value       PlanTarget
}

// PlanLazy is a lazy slot: slot Slot of Object, its GOT entry at Off.
type PlanLazy struct {
	Object, Slot, Off uint64
	Target            PlanTarget
}

// Plan is what the executor carries out (host/plan.c): the writes (the
// IFUNC values last), the lazy slots, and the values to substitute, as
// pairs sorted by the first.
type Plan struct {
	Objects []PlanObject
	Writes  []PlanWrite
	Lazy    []PlanLazy
	Subst   [][2]uint64
}

// ExecPlan carries out p over its objects, mapped at their places, and
// returns the number of words written.
func ExecPlan(p *Plan) (int, error) {
	// The writes, lazy slots and substitutions are laid out as their C
	// structures and passed in place, pinned: a large program's plan
	// has some 150,000 writes, not worth a copy. The objects, which hold
	// a C pointer each, are copied.
	var pin runtime.Pinner
	defer pin.Unpin()
	objs := cArray[C.struct_ldgo_plan_object](len(p.Objects))
	defer C.free(unsafe.Pointer(ptrOf(objs)))
	for i, o := range p.Objects {
		c := &objs[i]
		c.base, c.tls_offset, c.tls_modid = C.uint64_t(o.Base), C.uint64_t(o.TLSOffset), C.uint64_t(o.TLSModID)
		if o.Adopted {
			c.adopted = 1
		}
		c.relro_lo, c.relro_hi, c.pltgot = C.uint64_t(o.RelroLo), C.uint64_t(o.RelroHi), C.uint64_t(o.PLTGot)
		if o.Lazy != nil {
			c.lazy = o.Lazy.p
		}
	}
	cp := C.struct_ldgo_plan{objects: ptrOf(objs), nobjects: C.uint64_t(len(objs)), got2: C.uint64_t(Trampoline())}
	if len(p.Writes) > 0 {
		pin.Pin(&p.Writes[0])
		cp.writes, cp.nwrites = (*C.struct_ldgo_plan_write)(unsafe.Pointer(&p.Writes[0])), C.uint64_t(len(p.Writes))
	}
	if len(p.Lazy) > 0 {
		pin.Pin(&p.Lazy[0])
		cp.lazy, cp.nlazy = (*C.struct_ldgo_plan_lazy)(unsafe.Pointer(&p.Lazy[0])), C.uint64_t(len(p.Lazy))
	}
	if len(p.Subst) > 0 {
		pin.Pin(&p.Subst[0])
		cp.subst, cp.nsubst = (*C.struct_ldgo_plan_subst)(unsafe.Pointer(&p.Subst[0])), C.uint64_t(len(p.Subst))
	}
	// IFUNC resolvers run on this thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if C.ldgo_plan_exec(&cp) != 0 {
		return int(cp.written), errors.New(C.GoString(cp.error))
	}
	return int(cp.written), nil
}

// The Go types passed in place have their C structures' layout.
var (
	_ = [1]struct{}{}[unsafe.Sizeof(PlanWrite{})-unsafe.Sizeof(C.struct_ldgo_plan_write{})]
	_ = [1]struct{}{}[unsafe.Sizeof(PlanLazy{})-unsafe.Sizeof(C.struct_ldgo_plan_lazy{})]
	_ = [1]struct{}{}[unsafe.Sizeof([2]uint64{})-unsafe.Sizeof(C.struct_ldgo_plan_subst{})]
)

// cArray allocates n zeroed T in C memory (at least one, so that the
// pointer is never nil).
func cArray[T any](n int) []T {
	var t T
	p := C.calloc(C.size_t(max(n, 1)), C.size_t(unsafe.Sizeof(t)))
	return unsafe.Slice((*T)(p), max(n, 1))[:n]
}

func ptrOf[T any](s []T) *T { return unsafe.SliceData(s[:cap(s)]) }

// PlanSegment is a PT_LOAD segment to map: Prot has elf.PF_R, PF_W and
// PF_X bits.
type PlanSegment struct{ Off, Vaddr, Filesz, Memsz, Prot uint64 }

// PlanFile is an object of a launch plan to map from its file: its
// identity as the plan recorded it (the status and the build-id) and its
// segments; Fixed for a program linked at fixed addresses.
type PlanFile struct {
	Path     string
	Status   object.FileStatus
	BuildID  []byte
	Segments []PlanSegment
	Fixed    bool
}

// MapPlanFile maps f's segments from its file, as the executor of a
// start without the engine would, once the file is found to be the one
// the plan names, and returns its base.
func MapPlanFile(f *PlanFile) (uint64, error) {
	path := C.CString(f.Path)
	defer C.free(unsafe.Pointer(path))
	segs := cArray[C.struct_ldgo_plan_segment](len(f.Segments))
	defer C.free(unsafe.Pointer(ptrOf(segs)))
	for i, s := range f.Segments {
		segs[i] = C.struct_ldgo_plan_segment{off: C.uint64_t(s.Off), vaddr: C.uint64_t(s.Vaddr), filesz: C.uint64_t(s.Filesz), memsz: C.uint64_t(s.Memsz), prot: C.uint64_t(s.Prot)}
	}
	id := C.CBytes(f.BuildID)
	defer C.free(id)
	cf := C.struct_ldgo_plan_file{path: path, dev: C.uint64_t(f.Status.ID.Dev), ino: C.uint64_t(f.Status.ID.Ino), size: C.uint64_t(f.Status.Size),
		mtime: C.int64_t(f.Status.Mtime), ctime: C.int64_t(f.Status.Ctime), build_id: (*C.uchar)(id), build_id_len: C.uint64_t(len(f.BuildID)),
		segs: ptrOf(segs), nsegs: C.uint64_t(len(segs))}
	if f.Fixed {
		cf.fixed = 1
	}
	var base C.uint64_t
	var msg *C.char
	if C.ldgo_plan_map(&cf, &base, &msg) != 0 {
		return 0, fmt.Errorf("%s: %s", f.Path, C.GoString(msg))
	}
	return uint64(base), nil
}

// Why MapSegments failed: reserving the object's range, mapping a
// segment from the file, or mapping zero-fill pages.
var (
	ErrMapReserve = errors.New("cannot reserve the object's addresses")
	ErrMapSegment = errors.New("cannot map a segment")
	ErrMapZero    = errors.New("cannot map zero-fill pages")
)

// MapSegments maps the segments of the object open as fd, over a range
// reserved for the whole object (at its own addresses if fixed), bss
// zero-filled, and returns its base: the one rule of mapping, the
// engine's (rtld's Process.Map) and the executor's (MapPlanFile).
func MapSegments(fd int, segs []PlanSegment, fixed bool) (uint64, error) {
	if len(segs) == 0 {
		return 0, ErrMapSegment
	}
	cs := cArray[C.struct_ldgo_plan_segment](len(segs))
	defer C.free(unsafe.Pointer(ptrOf(cs)))
	for i, s := range segs {
		cs[i] = C.struct_ldgo_plan_segment{off: C.uint64_t(s.Off), vaddr: C.uint64_t(s.Vaddr), filesz: C.uint64_t(s.Filesz), memsz: C.uint64_t(s.Memsz), prot: C.uint64_t(s.Prot)}
	}
	f := C.int(0)
	if fixed {
		f = 1
	}
	var base C.uint64_t
	switch C.ldgo_map_segments(C.int(fd), ptrOf(cs), C.uint64_t(len(cs)), f, &base) {
	case 0:
		return uint64(base), nil
	case C.LDGO_MAP_RESERVE:
		return 0, ErrMapReserve
	case C.LDGO_MAP_ZERO:
		return 0, ErrMapZero
	}
	return 0, ErrMapSegment
}
