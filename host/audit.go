package host

/*
#include <stdlib.h>
#include "host.h"
*/
import "C"

import "unsafe"

// AuditFuncs are an audit library's functions, 0 where it has none, in
// glibc's order: la_activity, la_objsearch, la_objopen, la_preinit,
// la_symbind64, la_x86_64_gnu_pltenter, la_x86_64_gnu_pltexit,
// la_objclose.
type AuditFuncs [8]uint64

// AuditNames are the functions' names, in AuditFuncs' order.
var AuditNames = [8]string{"la_activity", "la_objsearch", "la_objopen", "la_preinit", "la_symbind64",
	"la_x86_64_gnu_pltenter", "la_x86_64_gnu_pltexit", "la_objclose"}

// AuditVar is what LD_AUDIT in ldgo's environment is renamed to as ldgo
// starts, before the Go runtime does (the system's ld.so would audit ldgo
// itself): ldgo run renames it back for the program.
const AuditVar = C.LDGO_AUDIT_VAR

// AuditMax is the number of audit libraries ldgo takes.
const AuditMax = C.LDGO_MAX_AUDIT

// AuditVersion calls la_version at fn with v.
func AuditVersion(fn uint64, v uint32) uint32 {
	return uint32(C.ldgo_audit_version(C.uintptr_t(fn), C.unsigned(v)))
}

// AuditAdd makes an audit library's functions called from now on.
func AuditAdd(f AuditFuncs) bool {
	var c [8]C.uintptr_t
	for i, a := range f {
		c[i] = C.uintptr_t(a)
	}
	return C.ldgo_audit_add(&c[0]) >= 0
}

// AuditCount is the number of audit libraries in use.
func AuditCount() int { return int(C.ldgo_audit_count()) }

// AuditObj is an object's state for the audit libraries: its cookies and
// the flags la_objopen returned.
type AuditObj struct{ p *C.struct_ldgo_audit_obj }

// Valid reports whether o is an object's state (not the zero AuditObj).
func (o AuditObj) Valid() bool { return o.p != nil }

func (o AuditObj) c() *C.struct_ldgo_audit_obj { return o.p }

// AuditLinkMap returns the struct link_map la_objopen is given for an
// object: glibc's own for one the system's ld.so loaded (adopted).
func AuditLinkMap(name string, base, dynamic uint64, adopted bool) uint64 {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	return uint64(C.ldgo_audit_link_map(cs, C.uintptr_t(base), C.uintptr_t(dynamic), cbool(adopted)))
}

// AuditObjOpen calls la_objopen for the object whose link map is lm.
func AuditObjOpen(lm uint64, lmid int64) AuditObj {
	return AuditObj{C.ldgo_audit_objopen(C.uintptr_t(lm), C.long(lmid))}
}

// AuditObjSearch calls la_objsearch for name, searched for on behalf of
// o; false means the name is to be skipped.
func AuditObjSearch(name string, o AuditObj, flag uint32) (string, bool) {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	r := C.ldgo_audit_objsearch(cs, o.c(), C.unsigned(flag))
	if r == nil {
		return "", false
	}
	return C.GoString(r), true
}

// AuditActivity calls la_activity with the program's cookie;
// AuditActivityOf with head's, another namespace's first object.
func AuditActivity(flag uint32) { C.ldgo_audit_activity(C.unsigned(flag)) }

func AuditActivityOf(head AuditObj, flag uint32) {
	C.ldgo_audit_activity_of(head.c(), C.unsigned(flag))
}

// AuditSymbindNow calls la_symbind for a JUMP_SLOT bound now, and
// AuditSymbindDlsym for dlsym: sym is the definition's Elf64_Sym, ndx its
// index, name its name in memory, value the address it binds to. They
// return the address to use.
func AuditSymbindNow(ref, def AuditObj, sym uint64, ndx uint32, name, value uint64) uint64 {
	return uint64(C.ldgo_audit_symbind_now(ref.c(), def.c(), C.uintptr_t(sym), C.unsigned(ndx), C.uintptr_t(name), C.uint64_t(value)))
}

func AuditSymbindDlsym(ref, def AuditObj, sym uint64, ndx uint32, name, value uint64) uint64 {
	return uint64(C.ldgo_audit_symbind_dlsym(ref.c(), def.c(), C.uintptr_t(sym), C.unsigned(ndx), C.uintptr_t(name), C.uint64_t(value)))
}

// SetAuditSlot says what slot i of a lazily bound object binds, for
// la_symbind at its first call and la_pltenter and la_pltexit.
func (l Lazy) SetAuditSlot(i int, ref, def AuditObj, sym uint64, ndx uint32, name uint64) {
	C.ldgo_audit_set_slot(l.p, C.uint64_t(i), ref.c(), def.c(), C.uintptr_t(sym), C.unsigned(ndx), C.uintptr_t(name))
}

// AuditSlots gives the table its slots' audit state, none audited yet:
// each slot's first call comes to la_symbind, every call to la_pltenter.
func (l Lazy) AuditSlots() { C.ldgo_audit_slots(l.p) }

// AuditTrampoline is GOT[2] of the lazily bound objects when an audit
// library has la_pltenter or la_pltexit.
func AuditTrampoline() uint64 { return uint64(C.ldgo_addr_audit_trampoline()) }

// SetArgs gives the initializers run before the program starts (RunInits)
// the program's arguments and environment, and libc's environ the
// environment.
func SetArgs(argv, env []string) {
	C.ldgo_set_args(C.int(len(argv)), cstrings(argv), cstrings(env))
}

// RunInits runs initializers now, as dlopen's are run.
func RunInits(fns []Fn) {
	c, n := cfns(fns)
	C.ldgo_run_inits(c, n)
}

// What a Fn of Mark other than FnCall stands for, at exit and dlclose:
// la_objclose for the object whose state is Addr, la_activity with the
// flag Addr.
const (
	FnAuditClose    = C.LDGO_FN_AUDIT_CLOSE
	FnAuditActivity = C.LDGO_FN_AUDIT_ACTIVITY
)

// RunFinis runs finalizers now (of an audit library that is not used).
func RunFinis(fns []Fn) {
	c, n := cfns(fns)
	C.ldgo_run_finis(c, n)
}

// Addr is o's address, for a Fn of Mark FnAuditClose.
func (o AuditObj) Addr() uint64 { return uint64(uintptr(unsafe.Pointer(o.p))) }
