package host

/*
#include <stdlib.h>
#include "host.h"
*/
import "C"

import (
	"errors"
	"runtime"
	"unsafe"
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
	// The C structures are copies in C memory: cgo's rules do not let C
	// keep Go pointers, and the tables are small next to the objects.
	objs := cArray[C.struct_ldgo_plan_object](len(p.Objects))
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
	target := func(t PlanTarget) C.struct_ldgo_plan_target {
		return C.struct_ldgo_plan_target{kind: C.uint64_t(t.Kind), object: C.uint64_t(t.Object), off: C.uint64_t(t.Off)}
	}
	writes := cArray[C.struct_ldgo_plan_write](len(p.Writes))
	for i, w := range p.Writes {
		writes[i] = C.struct_ldgo_plan_write{object: C.uint64_t(w.Object), off: C.uint64_t(w.Off), value: target(w.Value)}
	}
	lazy := cArray[C.struct_ldgo_plan_lazy](len(p.Lazy))
	for i, l := range p.Lazy {
		lazy[i] = C.struct_ldgo_plan_lazy{object: C.uint64_t(l.Object), slot: C.uint64_t(l.Slot), off: C.uint64_t(l.Off), target: target(l.Target)}
	}
	subst := cArray[C.struct_ldgo_plan_subst](len(p.Subst))
	for i, s := range p.Subst {
		subst[i] = C.struct_ldgo_plan_subst{from: C.uint64_t(s[0]), to: C.uint64_t(s[1])}
	}
	cp := (*C.struct_ldgo_plan)(C.calloc(1, C.size_t(unsafe.Sizeof(C.struct_ldgo_plan{}))))
	defer func() {
		for _, a := range []unsafe.Pointer{unsafe.Pointer(cp), unsafe.Pointer(ptrOf(objs)), unsafe.Pointer(ptrOf(writes)), unsafe.Pointer(ptrOf(lazy)), unsafe.Pointer(ptrOf(subst))} {
			C.free(a)
		}
	}()
	cp.objects, cp.nobjects = ptrOf(objs), C.uint64_t(len(objs))
	cp.writes, cp.nwrites = ptrOf(writes), C.uint64_t(len(writes))
	cp.lazy, cp.nlazy = ptrOf(lazy), C.uint64_t(len(lazy))
	cp.subst, cp.nsubst = ptrOf(subst), C.uint64_t(len(subst))
	cp.got2 = C.uint64_t(Trampoline())
	// IFUNC resolvers run on this thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if C.ldgo_plan_exec(cp) != 0 {
		return int(cp.written), errors.New(C.GoString(cp.error))
	}
	return int(cp.written), nil
}

// cArray allocates n zeroed T in C memory (at least one, so that the
// pointer is never nil).
func cArray[T any](n int) []T {
	var t T
	p := C.calloc(C.size_t(max(n, 1)), C.size_t(unsafe.Sizeof(t)))
	return unsafe.Slice((*T)(p), max(n, 1))[:n]
}

func ptrOf[T any](s []T) *T { return unsafe.SliceData(s[:cap(s)]) }
