package host

/*
#include <stdlib.h>
#include "host.h"
*/
import "C"

import (
	"unsafe"
)

// CallSlot is a PLT slot counted by ldgo run --calls: where it jumps, and
// the names it is reported by.
type CallSlot struct {
	Target                            uint64
	Caller, Function, Version, Callee string
}

// CallsReport says how the --calls table is printed at exit.
type CallsReport struct {
	JSON bool
	// Path is the file the table is written to, created at exit; ""
	// for standard error.
	Path    string
	Program string
	// Uncounted is the number of GOT references to functions that are
	// not counted (GLOB_DAT: -fno-plt calls and function addresses).
	Uncounted uint64
}

// SetCallsReport turns the --calls table on.
func SetCallsReport(r CallsReport) {
	c := C.struct_ldgo_calls_config{on: 1, json: cbool(r.JSON), path: lasting(r.Path), program: lasting(r.Program), uncounted: C.uint64_t(r.Uncounted)}
	C.ldgo_calls_configure(&c)
}

// CallStubs makes a counting stub for each slot and returns their
// addresses: a call through stub i counts once for slot i and jumps to
// its target.
func CallStubs(slots []CallSlot) ([]uint64, error) {
	n := len(slots)
	if n == 0 {
		return nil, nil
	}
	targets := (*C.uint64_t)(C.malloc(C.size_t(8 * n)))
	defer C.free(unsafe.Pointer(targets))
	names := (**C.char)(C.malloc(C.size_t(8 * 4 * n)))
	defer C.free(unsafe.Pointer(names))
	ts, ns := unsafe.Slice(targets, n), unsafe.Slice(names, 4*n)
	for i, s := range slots {
		ts[i] = C.uint64_t(s.Target)
		ns[4*i], ns[4*i+1], ns[4*i+2], ns[4*i+3] = lasting(s.Caller), lasting(s.Function), lasting(s.Version), lasting(s.Callee)
	}
	first, err := C.ldgo_calls_stubs(C.uint64_t(n), targets, names)
	if first == 0 {
		return nil, err
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(first) + uint64(i)*C.LDGO_CALLS_STUB
	}
	return out, nil
}

// CallsExit is the address of the _exit and _Exit the program's
// references bind to with --calls: the table is printed first.
func CallsExit() uint64 { return uint64(C.ldgo_addr_calls_exit()) }

// Target is what slot i binds to; Failed reports whether it cannot be
// bound (its first call ends the program).
func (l Lazy) Target(i int) uint64 { return uint64(unsafe.Slice(l.p.target, l.p.nslots)[i]) }
func (l Lazy) Failed(i int) bool   { return unsafe.Slice(l.p.error, l.p.nslots)[i] != nil }

// SetTarget makes slot i bind to target at its first call.
func (l Lazy) SetTarget(i int, target uint64) {
	unsafe.Slice(l.p.target, l.p.nslots)[i] = C.uint64_t(target)
}
