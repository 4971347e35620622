// Package host is ldgo's only cgo package: the glibc objects the system's
// ld.so already loaded into this process (libc.so.6, ld-linux-x86-64.so.2,
// the vDSO), calling code at an address (IFUNC resolvers), the
// lazy-binding trampoline and resolver, dynamic TLS for the objects ldgo
// loads, the start routine the program's __libc_start_main binds to, and
// the hand-off to the program.
//
// The C side (host.c, trampoline.S) is what the program reaches once it
// runs: after Enter the Go runtime's threads are parked for good, so the
// program never depends on the Go scheduler, netpoller or signal handlers.
package host

/*
#include <stdlib.h>
#include "host.h"
*/
import "C"

import (
	"errors"
	"runtime"
	"strings"
	"syscall"
	"unsafe"

	"github.com/ldgo/ldgo/object"
)

func init() {
	// The program is entered on the process's main thread, below the
	// frame of a cgo call from the main goroutine.
	runtime.LockOSThread()
}

// Object is one object the system's ld.so has loaded into this process.
type Object struct {
	// Name is dlpi_name: "" for the ldgo executable itself.
	Name  string
	Base  uintptr
	Progs []object.Prog
	// TLSModID is the module id ld.so gave it (0 without TLS); TLSData
	// this thread's TLS block of it.
	TLSModID uint64
	TLSData  uintptr
}

// Objects lists the objects in the process, as dl_iterate_phdr does.
func Objects() []Object {
	const max = 64
	buf := (*[max]C.struct_ldgo_hostobj)(C.malloc(C.size_t(max) * C.size_t(unsafe.Sizeof(C.struct_ldgo_hostobj{}))))
	defer C.free(unsafe.Pointer(buf))
	n := int(C.ldgo_host_objects(&buf[0], max))
	n = min(n, max)
	out := make([]Object, 0, n)
	for i := 0; i < n; i++ {
		o := &buf[i]
		ph := unsafe.Slice((*byte)(unsafe.Pointer(o.phdr)), int(o.phnum)*56)
		out = append(out, Object{
			Name:     C.GoString(o.name),
			Base:     uintptr(o.addr),
			Progs:    object.ReadProgs(ph, int(o.phnum)),
			TLSModID: uint64(o.tls_modid),
			TLSData:  uintptr(o.tls_data),
		})
	}
	return out
}

// ThreadPointer returns this thread's thread pointer (%fs:0).
func ThreadPointer() uintptr { return uintptr(C.ldgo_thread_pointer()) }

// Call0 calls the function at fn without arguments and returns its
// result: an IFUNC resolver.
func Call0(fn uintptr) uintptr { return uintptr(C.ldgo_call0(C.uintptr_t(fn))) }

// Addresses of the routines bound into programs.
func Trampoline() uint64       { return uint64(C.ldgo_addr_trampoline()) }
func TLSGetAddr() uint64       { return uint64(C.ldgo_addr_tls_get_addr()) }
func TLSDescStatic() uint64    { return uint64(C.ldgo_addr_tlsdesc_static()) }
func TLSDescUndefWeak() uint64 { return uint64(C.ldgo_addr_tlsdesc_undefweak()) }
func TLSDescDynamic() uint64   { return uint64(C.ldgo_addr_tlsdesc_dynamic()) }

// NewTLSIndex allocates the argument of a dynamic TLS descriptor.
func NewTLSIndex(module, offset uint64) uint64 {
	return uint64(C.ldgo_new_tls_index(C.uint64_t(module), C.uint64_t(offset)))
}
func StartMain() uint64          { return uint64(C.ldgo_addr_start_main()) }
func SetRealTLSGetAddr(a uint64) { C.ldgo_set_real_tls_get_addr(C.uintptr_t(a)) }

// TLSArea is the static TLS ldgo may lay the program's blocks out in:
// offsets (how far below the thread pointer a block starts) up to
// Capacity. The first Reserve bytes below the thread pointer are free;
// past them, up to Own, lie ldgo's own variables, which only the
// program's block may cover; past Own, up to Capacity, lies the block of
// the static TLS module ldgo was started with, if any. Every thread
// pointer is aligned to Align.
type TLSArea struct {
	Reserve, Own, Capacity, Align uint64
}

// ThreadStateSize is the room ldgo's per-thread state takes in static
// TLS, when it must move (see SetStaticTLS).
const ThreadStateSize = C.LDGO_THREAD_STATE_SIZE

// StaticTLSArea finds the static TLS of this process; module is the path
// the static TLS module was preloaded from, "" without one.
func StaticTLSArea(module string) (TLSArea, error) {
	cs := C.CString(module)
	defer C.free(unsafe.Pointer(cs))
	var a C.struct_ldgo_tls_area
	if why := C.ldgo_static_tls_area(cs, &a); why != nil {
		return TLSArea{}, errors.New(C.GoString(why))
	}
	return TLSArea{Reserve: uint64(a.reserve), Own: uint64(a.own), Capacity: uint64(a.capacity), Align: uint64(a.align)}, nil
}

// TLSModuleVar is the environment variable that names the static TLS
// module to the start of ldgo that glibc preloaded it into: read there
// before the Go runtime starts.
const TLSModuleVar = C.LDGO_TLS_MODULE_VAR

// TLSModule makes a static TLS module of size bytes aligned to align and
// returns a descriptor of it that stays open across execve, for the
// system's ld.so to preload (LD_PRELOAD=/proc/self/fd/N) when ldgo starts
// again: glibc places its block right below the ldgo executable's, and
// aligns every thread pointer to align.
func TLSModule(size, align uint64) (int, error) {
	fd := int(C.ldgo_tls_module(C.uint64_t(size), C.uint64_t(align)))
	if fd < 0 {
		return -1, syscall.Errno(-fd)
	}
	return fd, nil
}

// TLSBlock is a static TLS block: its initialization image (FileSize bytes
// at Image), its size, and how far below the thread pointer it starts.
type TLSBlock struct {
	Image, FileSize, MemSize, TPOffset uint64
}

// SetStaticTLS makes blocks part of every thread's static TLS: the
// entering thread's at Enter, and every thread glibc creates after. With
// stateOffset not 0, ldgo's per-thread state moves there (ThreadStateSize
// bytes, aligned to 64): the program's block covers where it was.
func SetStaticTLS(blocks []TLSBlock, stateOffset uint64) error {
	size := C.size_t(max(len(blocks), 1)) * C.size_t(unsafe.Sizeof(C.struct_ldgo_tls_block{}))
	cb := (*C.struct_ldgo_tls_block)(C.malloc(size))
	defer C.free(unsafe.Pointer(cb))
	for i, b := range blocks {
		unsafe.Slice(cb, len(blocks))[i] = ctlsBlock(b)
	}
	if why := C.ldgo_static_tls(cb, C.uint64_t(len(blocks)), C.uint64_t(stateOffset)); why != nil {
		return errors.New(C.GoString(why))
	}
	return nil
}

func ctlsBlock(b TLSBlock) C.struct_ldgo_tls_block {
	return C.struct_ldgo_tls_block{image: C.uintptr_t(b.Image), filesz: C.uint64_t(b.FileSize), memsz: C.uint64_t(b.MemSize), tpoff: C.uint64_t(b.TPOffset)}
}

// AddStaticTLS puts the block of an object dlopen loads into the static
// TLS of every thread, those running and those created later.
func AddStaticTLS(b TLSBlock) error {
	cb := ctlsBlock(b)
	if why := C.ldgo_static_tls_late(&cb); why != nil {
		return errors.New(C.GoString(why))
	}
	return nil
}

// Loaded describes one object of the program's namespace for
// dl_iterate_phdr, _dl_find_object and dladdr. Adopted objects are
// answered for by glibc; the fields past Adopted matter for the others.
type Loaded struct {
	Name                 string // "" for the program
	Base, Phdr           uint64
	Phnum                int
	Adopted              bool
	Dynamic              uint64
	MapStart, MapEnd     uint64
	EHFrame              uint64
	TLSModID, TLSOffset  uint64 // offset below the thread pointer, 0 for per-thread blocks
	Symtab, Strtab       uint64
	NumSymbols, StrtabSz uint64
	LinkMap              uint64 // the link map given before, or 0 for a new one
	Origin               string // its directory ($ORIGIN)
	// SearchDirs are the directories dlinfo's RTLD_DI_SERINFO lists.
	SearchDirs []string
}

// SetObjects makes objs, in load order, what the program's
// dl_iterate_phdr, _dl_find_object, dladdr and dladdr1 report; prog
// names the program in dladdr's answers.
func SetObjects(objs []Loaded, prog string) {
	n := len(objs)
	c := (*C.struct_ldgo_object)(C.calloc(C.size_t(max(n, 1)), C.size_t(unsafe.Sizeof(C.struct_ldgo_object{}))))
	cs := unsafe.Slice(c, max(n, 1))
	for i, o := range objs {
		adopted := C.int(0)
		if o.Adopted {
			adopted = 1
		}
		cs[i] = C.struct_ldgo_object{
			name: lasting(o.Name), base: C.uintptr_t(o.Base), phdr: C.uintptr_t(o.Phdr), phnum: C.int(o.Phnum),
			adopted: adopted, dynamic: C.uintptr_t(o.Dynamic),
			map_start: C.uintptr_t(o.MapStart), map_end: C.uintptr_t(o.MapEnd), eh_frame: C.uintptr_t(o.EHFrame),
			tls_modid: C.uint64_t(o.TLSModID), tls_tpoff: C.uint64_t(o.TLSOffset),
			symtab: C.uintptr_t(o.Symtab), strtab: C.uintptr_t(o.Strtab),
			nsyms: C.uint64_t(o.NumSymbols), strsz: C.uint64_t(o.StrtabSz),
			lm: C.uintptr_t(o.LinkMap), origin: lasting(o.Origin),
			serpath: lasting(strings.Join(o.SearchDirs, "\x00")), nserpath: C.uint32_t(len(o.SearchDirs)),
		}
	}
	C.ldgo_set_objects(c, C.uint64_t(n), lasting(prog))
}

// lastingStrings are C copies of the strings SetObjects gives the C side,
// one per distinct string: they outlive every table that names them (a
// link map keeps its name), and a program opening and closing the same
// libraries again and again does not make new ones.
var lastingStrings = map[string]*C.char{}

func lasting(s string) *C.char {
	c, ok := lastingStrings[s]
	if !ok {
		c = C.CString(s)
		lastingStrings[s] = c
	}
	return c
}

// WaitObjectReaders returns once no thread reads the objects SetObjects
// gave before its last call: objects left out of it can be unmapped.
func WaitObjectReaders() { C.ldgo_wait_object_readers() }

// SetRealDL gives the addresses of glibc's dl_iterate_phdr,
// _dl_find_object and dladdr1, which answer for what ldgo did not load.
func SetRealDL(iterate, findObject, dladdr1 uint64) {
	C.ldgo_set_real_dl(C.uintptr_t(iterate), C.uintptr_t(findObject), C.uintptr_t(dladdr1))
}

// Addresses of ldgo's dl_iterate_phdr, _dl_find_object, dladdr, dladdr1.
func DLIteratePhdr() uint64 { return uint64(C.ldgo_addr_dl_iterate_phdr()) }
func DLFindObject() uint64  { return uint64(C.ldgo_addr_dl_find_object()) }
func DLAddr() uint64        { return uint64(C.ldgo_addr_dladdr()) }
func DLAddr1() uint64       { return uint64(C.ldgo_addr_dladdr1()) }

// MakeStacksExecutable makes every thread's stack executable, the main
// thread's, those running and those created later, through glibc's own
// loading of an object that asks for it.
func MakeStacksExecutable() error {
	if e := C.ldgo_make_stacks_executable(); e != nil {
		defer C.free(unsafe.Pointer(e))
		return errors.New(C.GoString(e))
	}
	return nil
}

// Lazy is one lazily bound object's PLT table, in C memory.
type Lazy struct{ p *C.struct_ldgo_lazy }

// NewLazy allocates a table for n PLT slots.
func NewLazy(n int) Lazy { return Lazy{C.ldgo_lazy_new(C.uint64_t(n))} }

// Addr is the table's address: the object's GOT[1].
func (l Lazy) Addr() uint64 { return uint64(uintptr(unsafe.Pointer(l.p))) }

// Len is the number of slots.
func (l Lazy) Len() int { return int(l.p.nslots) }

// Set records what slot i binds to: its GOT address and target.
func (l Lazy) Set(i int, slot, target uint64) {
	unsafe.Slice(l.p.slot, l.p.nslots)[i] = C.uint64_t(slot)
	unsafe.Slice(l.p.target, l.p.nslots)[i] = C.uint64_t(target)
}

// Get returns what slot i binds to, as Set recorded it (or the executor,
// ExecPlan).
func (l Lazy) Get(i int) (slot, target uint64) {
	return uint64(unsafe.Slice(l.p.slot, l.p.nslots)[i]), uint64(unsafe.Slice(l.p.target, l.p.nslots)[i])
}

// SetError makes a call through slot i print msg and exit with status 127.
func (l Lazy) SetError(i int, msg string) {
	unsafe.Slice(l.p.error, l.p.nslots)[i] = C.CString(msg)
}

// SetDebugLines sets the LD_DEBUG lines (symbols and bindings, each
// ending in a newline, without the pid column) printed at slot i's first
// call.
func (l Lazy) SetDebugLines(i int, lines string) {
	unsafe.Slice(l.p.debug, l.p.nslots)[i] = C.CString(lines)
}

// Debug says where LD_DEBUG output goes (a descriptor) and what the C
// side prints after the hand-off (Libs: the calls of initializers and
// finalizers, glibc's "impcalls", which its libs and reloc categories
// both print); Lookups and CacheHits are the start-up
// counts the final statistics add to.
type Debug struct {
	FD                 int
	Statistics, Libs   bool
	Lookups, CacheHits uint64
	// What the start-up statistics print, at the hand-off to the program
	// (Start.Enter), with the total up to then: cycles spent relocating,
	// loading and starting ldgo itself, and counts.
	Relocation, Load, OwnStart           uint64
	Relative, FromBindCache, LookedAhead uint64
}

// SetDebug configures debug output.
func SetDebug(d Debug) {
	C.ldgo_set_debug(&C.struct_ldgo_debug{fd: C.int(d.FD), statistics: cbool(d.Statistics), libs: cbool(d.Libs),
		lookups: C.uint64_t(d.Lookups), cache_hits: C.uint64_t(d.CacheHits),
		relocation: C.uint64_t(d.Relocation), load: C.uint64_t(d.Load), own_start: C.uint64_t(d.OwnStart),
		relative: C.uint64_t(d.Relative), from_bind_cache: C.uint64_t(d.FromBindCache), looked_ahead: C.uint64_t(d.LookedAhead)})
}

// DebugLine writes each line of text with glibc's pid column.
func DebugLine(line string) {
	cs := C.CString(line)
	C.ldgo_debug_line(cs)
	C.free(unsafe.Pointer(cs))
}

// CPUID answers the CPUID instruction for leaf and subleaf, from what
// glibc's ld.so read at start-up where it kept the leaf (a virtual machine
// traps each instruction), as search.CPUID does.
func CPUID(leaf, subleaf uint32) (eax, ebx, ecx, edx uint32) {
	var r [4]C.uint
	C.ldgo_cpuid(C.uint(leaf), C.uint(subleaf), &r[0])
	return uint32(r[0]), uint32(r[1]), uint32(r[2]), uint32(r[3])
}

// Cycles reads the time-stamp counter, the clock of glibc's statistics;
// StartCycles is its value when ldgo's own code first ran.
func Cycles() uint64      { return uint64(C.ldgo_cycles()) }
func StartCycles() uint64 { return uint64(C.ldgo_start_cycles()) }

// SetTrace sets the line LDGO_DEBUG=lazy prints at slot i's first call.
func (l Lazy) SetTrace(i int, line string) {
	unsafe.Slice(l.p.trace, l.p.nslots)[i] = C.CString(line)
}

// SetLazyFlags turns on the trace of first calls and LD_BIND_NOT (never
// write the GOT).
func SetLazyFlags(debug, bindNot bool) {
	C.ldgo_set_lazy_flags(cbool(debug), cbool(bindNot))
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// RegisterTLS gives an object ldgo loads a TLS module id of its own,
// served by the __tls_get_addr ldgo binds programs to: its static block
// tpoff below the thread pointer, or with tpoff 0 a block allocated for
// each thread at its first access.
func RegisterTLS(image, filesz, memsz, align, tpoff uint64) uint64 {
	return uint64(C.ldgo_tls_register(C.uintptr_t(image), C.uint64_t(filesz), C.uint64_t(memsz), C.uint64_t(align), C.uint64_t(tpoff)))
}

// Fn is an initializer or finalizer: one function, or an array of Count.
type Fn struct {
	Array bool
	Addr  uint64
	Count uint64
	// Announce marks the first of an object's functions: LD_DEBUG=libs
	// prints "calling init: Object" (or fini) before it.
	Announce bool
	Object   string
	// Owner is the object's serial, by which dlclose removes its
	// finalizers from those run at exit.
	Owner uint64
	// Mark, not 0, makes it no function but an audit event
	// (FnAuditClose, FnAuditActivity).
	Mark int
}

// Start is what the hand-off needs.
type Start struct {
	Entry uint64
	Argv  []string
	Env   []string
	// Auxv is the auxiliary vector as pairs, without AT_NULL; an
	// AT_EXECFN value is replaced by a pointer to ExecFn.
	Auxv   [][2]uint64
	ExecFn string
	// Inits run before the program's own (preinit array, then each
	// library's); ExeInits are the program's, unless its _start passes
	// a legacy init function; Finis run at exit in order.
	Inits, ExeInits, Finis []Fn
	// EnvironSlots are addresses of `char **environ' variables to set.
	EnvironSlots []uint64
	// NoFreeze are address ranges (libc's and ld.so's text) where a
	// thread of the Go runtime is not parked.
	NoFreeze [][2]uint64

	c *C.struct_ldgo_start
}

const atExecFn = 31

// CString returns a C copy of s that lives for good.
func CString(s string) uint64 { return uint64(uintptr(unsafe.Pointer(C.CString(s)))) }

func cwords(v []uint64) *C.uint64_t {
	p := (*C.uint64_t)(C.malloc(C.size_t(8 * (len(v) + 1))))
	copy(unsafe.Slice((*uint64)(unsafe.Pointer(p)), len(v)+1), append(v, 0))
	return p
}

func cfns(fns []Fn) (*C.struct_ldgo_fn, C.uint64_t) {
	p := (*C.struct_ldgo_fn)(C.malloc(C.size_t(unsafe.Sizeof(C.struct_ldgo_fn{})) * C.size_t(len(fns)+1)))
	s := unsafe.Slice(p, len(fns)+1)
	for i, f := range fns {
		kind := C.uint64_t(0)
		if f.Array {
			kind = 1
		}
		if f.Mark != 0 {
			kind = C.uint64_t(f.Mark)
		}
		s[i] = C.struct_ldgo_fn{kind: kind, addr: C.uint64_t(f.Addr), count: C.uint64_t(f.Count), owner: C.uint64_t(f.Owner)}
		if f.Announce {
			s[i].object = C.CString(f.Object)
		}
	}
	return p, C.uint64_t(len(fns))
}

func cstrings(v []string) **C.char {
	w := make([]uint64, len(v))
	for i, s := range v {
		w[i] = CString(s)
	}
	return (**C.char)(unsafe.Pointer(cwords(w)))
}

func (s *Start) prepareArgv() {
	if s.c != nil {
		return
	}
	cs := (*C.struct_ldgo_start)(C.calloc(1, C.size_t(unsafe.Sizeof(C.struct_ldgo_start{}))))
	cs.argc = C.uint64_t(len(s.Argv))
	cs.argv = cstrings(s.Argv)
	s.c = cs
}

// prepare fills in everything but argv, which Argv0 may have made
// already.
func (s *Start) prepare() *C.struct_ldgo_start {
	s.prepareArgv()
	cs := s.c
	cs.entry = C.uint64_t(s.Entry)
	cs.envp = cstrings(s.Env)
	var aux []uint64
	for _, kv := range s.Auxv {
		if kv[0] == 0 {
			break
		}
		if kv[0] == atExecFn {
			kv[1] = CString(s.ExecFn)
		}
		aux = append(aux, kv[0], kv[1])
	}
	aux = append(aux, 0)
	cs.auxv = cwords(aux)
	cs.nauxv = C.uint64_t(len(aux) + 1)
	cs.inits, cs.ninits = cfns(s.Inits)
	cs.exe_inits, cs.nexe_inits = cfns(s.ExeInits)
	cs.finis, cs.nfinis = cfns(s.Finis)
	cs.environ_slots = cwords(s.EnvironSlots)
	cs.nenviron_slots = C.uint64_t(len(s.EnvironSlots))
	for i, r := range s.NoFreeze {
		if i >= len(cs.freeze_lo) {
			break
		}
		cs.freeze_lo[i] = C.uintptr_t(r[0])
		cs.freeze_hi[i] = C.uintptr_t(r[1])
		cs.nfreeze = C.uint64_t(i + 1)
	}
	return cs
}

// Argv0 returns the C string Enter passes as argv[0], so that variables
// such as __progname can point into it before the hand-off.
func (s *Start) Argv0() uint64 {
	s.prepareArgv()
	return uint64(*(*uintptr)(unsafe.Pointer(s.c.argv)))
}

// Enter parks the Go runtime, resets signals and the descriptor limit to
// what the process started with, builds the program's initial stack on
// the main thread and jumps to its entry point. It returns only if it
// fails before the hand-off.
func (s *Start) Enter() error {
	return errnoErr(C.ldgo_enter(s.prepare()))
}

// LazyCount is the number of PLT slots bound so far.
func LazyCount() uint64 { return uint64(C.ldgo_lazy_count()) }

func errnoErr(e C.int) error {
	if e == 0 {
		return nil
	}
	return syscall.Errno(e)
}
