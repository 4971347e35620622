// Package plan is the launch plan as data: everything the start of a
// program needs once the engine has linked it, already resolved — the
// objects to map, the words relocation writes (as offsets in objects and
// values relative to objects' bases), the lazy PLT slots with their
// targets, the TLS layout, the initializer and finalizer order and the
// entry point — with no symbol name, so that an executor can carry it out
// without looking anything up. The package holds the model, its file
// format (Encode, Decode) and its validity (Validate for the plan's own
// consistency, Check for the files and settings it was made for).
//
// A plan is what macOS's dyld 3 calls a launch closure. Values are kept
// relative to the objects' bases, so a plan survives address-space
// randomization; the objects are named by path and object.Identity, the
// identity the bind cache trusts.
package plan

import (
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ldgo/ldgo/object"
)

// Kind says how an object comes into the process.
type Kind uint8

const (
	// Program is the program itself, always object 0.
	Program Kind = iota
	// Library is a shared library the executor maps.
	Library
	// Rtld is the system's dynamic linker, which is in the process
	// already (it started ldgo): found there, not mapped.
	Rtld
	// VDSO is the kernel's virtual object: found through the auxiliary
	// vector, never mapped, no file.
	VDSO
	numKinds
)

func (k Kind) String() string {
	switch k {
	case Program:
		return "program"
	case Library:
		return "library"
	case Rtld:
		return "rtld"
	case VDSO:
		return "vdso"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Object is one object of the plan, in load order.
type Object struct {
	Path string
	ID   object.Identity
	Kind Kind
	// Segments are its PT_LOAD segments, as the file states them.
	Segments []Segment
	// Relro is PT_GNU_RELRO (link-time address and size), protected
	// read-only once the writes are made; zero without one.
	Relro Range
	// TLS is its thread-local storage module, if it has one.
	TLS TLS
	// Lazy says its PLT slots are bound at their first call: GOT[1] and
	// GOT[2] are the executor's, and the slots are in Plan.Lazy.
	Lazy bool
	// TextRel says relocation writes its read-only segments too
	// (DT_TEXTREL).
	TextRel bool
}

// Segment is one PT_LOAD segment: the file bytes at Off, Filesz long,
// at link-time address Vaddr, Memsz long in memory (the rest zero), with
// the protection Prot (elf.PF_R, PF_W, PF_X bits).
type Segment struct {
	Off, Vaddr, Filesz, Memsz uint64
	Prot                      uint8
}

// Range is a span of link-time addresses.
type Range struct{ Addr, Size uint64 }

// TLS is an object's TLS module: its module id (0 without TLS) and, for
// a block in static TLS, its offset below the thread pointer.
type TLS struct {
	ModID  uint64
	Offset uint64
	Static bool
}

// TargetKind says what a Target's value is.
type TargetKind uint8

const (
	// Absolute: the value is Off.
	Absolute TargetKind = iota
	// InObject: the base of object Object plus Off.
	InObject
	// IFunc: what the IFUNC resolver at the base of Object plus Off
	// returns, called once Object is relocated.
	IFunc
	// Executor: one of the executor's own functions, Off an
	// ExecutorFunc (TLS descriptors' entries).
	Executor
	// TLSIndex: the address of a tls_index {module of Object, Off}
	// the executor makes (a dynamic TLS descriptor's argument).
	TLSIndex
	// TLSOffset: Off less the static TLS offset of Object's module: a
	// variable's place from the thread pointer (TPOFF), which depends
	// on where the executor's process puts the block.
	TLSOffset
	// TLSModule: the module id of Object (DTPMOD), which the process
	// numbers.
	TLSModule
	// Unresolved: a lazy slot with no definition; its first call fails.
	Unresolved
	// NumTargetKinds is the number of kinds.
	NumTargetKinds
)

func (k TargetKind) String() string {
	switch k {
	case Absolute:
		return "absolute"
	case InObject:
		return "object"
	case IFunc:
		return "ifunc"
	case Executor:
		return "executor"
	case TLSIndex:
		return "tls-index"
	case TLSOffset:
		return "tls-offset"
	case TLSModule:
		return "tls-module"
	case Unresolved:
		return "unresolved"
	}
	return fmt.Sprintf("target(%d)", uint8(k))
}

// ExecutorFunc names a function of the executor a word may point at.
type ExecutorFunc uint64

const (
	// TLSDescStatic is the TLS descriptor entry for a block in static
	// TLS (the argument is the variable's offset from the thread
	// pointer, negated).
	TLSDescStatic ExecutorFunc = iota
	// TLSDescDynamic is the entry for a block allocated per thread
	// (the argument a TLSIndex).
	TLSDescDynamic
	// TLSDescUndefWeak is the entry for an unresolved weak reference.
	TLSDescUndefWeak
	numExecutorFuncs
)

// Target is a value a word is set to.
type Target struct {
	Kind   TargetKind
	Object uint32
	Off    uint64
}

// Write is a word relocation sets: the 8 bytes at offset Off from the
// base of object Object (link-time address Off) become Value.
type Write struct {
	Object uint32
	Off    uint64
	Value  Target
}

// Lazy is a lazily bound PLT slot: slot Slot of Object's DT_JMPREL, whose
// GOT entry is at Off, and what its first call binds it to. Err is the
// message of a slot that cannot be bound (Target Unresolved).
type Lazy struct {
	Object uint32
	Slot   uint32
	Off    uint64
	Target Target
	Err    string
}

// Fn is an initializer or finalizer: the function at Off in Object, or,
// with Count > 0, an array of Count function pointers there.
type Fn struct {
	Object uint32
	Off    uint64
	Count  uint64
}

// NameKind is what the start sets a variable of libc's or the program's
// to, from the program's arguments and environment.
type NameKind uint8

const (
	// ShortName: argv[0] past its last slash (__progname).
	ShortName NameKind = iota
	// FullName: argv[0] (program_invocation_name).
	FullName
	// Environ: the environment (environ).
	Environ
	numNameKinds
)

// ProgramNames are the variables the start sets, by symbol name.
var ProgramNames = map[string]NameKind{
	"__progname":                    ShortName,
	"program_invocation_short_name": ShortName,
	"__progname_full":               FullName,
	"program_invocation_name":       FullName,
	"environ":                       Environ,
	"__environ":                     Environ,
	"_environ":                      Environ,
}

// ProgramNameSymbols are ProgramNames' names, sorted.
func ProgramNameSymbols() []string {
	return slices.Sorted(maps.Keys(ProgramNames))
}

// NameSlot is a variable the start sets: the word at Off in Object.
type NameSlot struct {
	Object uint32
	Off    uint64
	Kind   NameKind
}

// Plan is a program's launch plan.
type Plan struct {
	// Program is the program's absolute path; Search what steered the
	// search besides the files (see bindcache.Settings), as
	// "name=value" strings.
	Program string
	Search  []string
	// Progname is how the messages of unresolved lazy slots (Lazy.Err)
	// name the program: argv[0] of the run the plan was made for.
	Progname string
	Objects  []Object
	// Writes are the relocations' results, in address order: made
	// after the objects are mapped, the IFunc values last (in the
	// order listed), as glibc runs IFUNC resolvers after an object's
	// other relocations.
	Writes []Write
	Lazy   []Lazy
	// Init lists the initializers in the order they run (the program's
	// DT_PREINIT_ARRAY, then each library's, dependencies first, then
	// the program's own); Fini the finalizers in the order they run.
	Init, Fini []Fn
	// Entry is the program's entry point, an offset from its base;
	// Phdr and Phnum its program headers' place and number: the
	// auxiliary vector's AT_ENTRY, AT_PHDR and AT_PHNUM.
	Entry, Phdr, Phnum uint64
	// Names are the variables set from argv[0] and the environment, in
	// the program and the libraries (libc) that define them.
	Names []NameSlot
	// Warnings are what glibc prints while it relocates (a copy
	// relocation's size), for the executor to print as it does.
	Warnings []Warning
}

// Warning is a message glibc prints while relocating without failing;
// a Verbose one only when LD_WARN is set.
type Warning struct {
	Msg     string
	Verbose bool
}

// Unresolved reports whether some lazy slot of p cannot be bound: its
// first call prints a message naming the program as Progname does.
func (p *Plan) Unresolved() bool {
	for _, l := range p.Lazy {
		if l.Target.Kind == Unresolved {
			return true
		}
	}
	return false
}

// Validate checks that the plan is consistent in itself: every object
// and module named exists, every word written and every GOT entry lies
// in a writable segment of its object (any segment, for an object whose
// text relocation wrote it), every function in a segment.
func (p *Plan) Validate() error {
	if len(p.Objects) == 0 || p.Objects[0].Kind != Program {
		return fmt.Errorf("launch plan: object 0 is not the program")
	}
	for i, o := range p.Objects {
		if o.Kind >= numKinds {
			return fmt.Errorf("launch plan: object %d: unknown kind %d", i, o.Kind)
		}
		if i > 0 && o.Kind == Program {
			return fmt.Errorf("launch plan: object %d: a second program", i)
		}
	}
	// Writes come in address order: the segment of the last is most
	// often the next's.
	var last struct {
		obj    uint32
		lo, hi uint64
	}
	last.obj = ^uint32(0)
	for i, w := range p.Writes {
		if w.Object != last.obj || w.Off < last.lo || w.Off > last.hi-8 || last.hi < 8 {
			if err := p.checkWord(w.Object, w.Off); err != nil {
				return fmt.Errorf("launch plan: write %d: %w", i, err)
			}
			last.obj, last.lo, last.hi = w.Object, 0, 0
			if s := p.writableSegment(w.Object, w.Off); s != nil {
				last.lo, last.hi = s.Vaddr, s.Vaddr+s.Memsz
			}
		}
		if err := p.checkTarget(w.Value, false); err != nil {
			return fmt.Errorf("launch plan: write %d: %w", i, err)
		}
	}
	for i, l := range p.Lazy {
		if err := p.checkWord(l.Object, l.Off); err != nil {
			return fmt.Errorf("launch plan: lazy slot %d: %w", i, err)
		}
		if !p.Objects[l.Object].Lazy {
			return fmt.Errorf("launch plan: lazy slot %d: object %d is not bound lazily", i, l.Object)
		}
		if err := p.checkTarget(l.Target, true); err != nil {
			return fmt.Errorf("launch plan: lazy slot %d: %w", i, err)
		}
	}
	for _, fns := range [][]Fn{p.Init, p.Fini} {
		for i, f := range fns {
			size := uint64(1)
			if f.Count > 0 {
				size = f.Count * 8
			}
			if f.Count > 1<<28 {
				return fmt.Errorf("launch plan: function %d: array of %d functions", i, f.Count)
			}
			if err := p.checkRange(f.Object, f.Off, size, false); err != nil {
				return fmt.Errorf("launch plan: function %d: %w", i, err)
			}
		}
	}
	if err := p.checkRange(0, p.Entry, 1, false); err != nil {
		return fmt.Errorf("launch plan: entry point: %w", err)
	}
	if p.Phnum > 0 || p.Phdr > 0 {
		if p.Phnum > 1<<16 {
			return fmt.Errorf("launch plan: %d program headers", p.Phnum)
		}
		if err := p.checkRange(0, p.Phdr, p.Phnum*56, false); err != nil {
			return fmt.Errorf("launch plan: program headers: %w", err)
		}
	}
	for i, n := range p.Names {
		if n.Kind >= numNameKinds {
			return fmt.Errorf("launch plan: name %d: unknown kind %d", i, n.Kind)
		}
		if err := p.checkWord(n.Object, n.Off); err != nil {
			return fmt.Errorf("launch plan: name %d: %w", i, err)
		}
	}
	return nil
}

func (p *Plan) checkWord(obj uint32, off uint64) error {
	return p.checkRange(obj, off, 8, true)
}

// checkRange checks that [off, off+n) lies in one segment of object obj,
// a writable one if writable is set.
func (p *Plan) checkRange(obj uint32, off, n uint64, writable bool) error {
	if uint64(obj) >= uint64(len(p.Objects)) {
		return fmt.Errorf("object %d of %d", obj, len(p.Objects))
	}
	o := &p.Objects[obj]
	for _, s := range o.Segments {
		if off >= s.Vaddr && off-s.Vaddr < s.Memsz && n <= s.Memsz-(off-s.Vaddr) {
			if writable && s.Prot&protW == 0 && !o.TextRel {
				continue
			}
			return nil
		}
	}
	return fmt.Errorf("%d bytes at %#x are outside every %ssegment of object %d", n, off, map[bool]string{true: "writable "}[writable], obj)
}

// writableSegment is the segment of object obj holding the word at off
// that writes may go to (checkRange says it is there), or nil when the
// object's text relocations make any segment one.
func (p *Plan) writableSegment(obj uint32, off uint64) *Segment {
	o := &p.Objects[obj]
	if o.TextRel {
		return nil
	}
	for i := range o.Segments {
		s := &o.Segments[i]
		if s.Prot&protW != 0 && off >= s.Vaddr && off-s.Vaddr < s.Memsz && 8 <= s.Memsz-(off-s.Vaddr) && s.Vaddr+s.Memsz >= s.Vaddr {
			return s
		}
	}
	return nil
}

// protW is elf.PF_W.
const protW = 2

func (p *Plan) checkTarget(t Target, lazy bool) error {
	switch t.Kind {
	case Absolute:
		return nil
	case InObject, IFunc, TLSIndex, TLSOffset, TLSModule:
		if uint64(t.Object) >= uint64(len(p.Objects)) {
			return fmt.Errorf("target in object %d of %d", t.Object, len(p.Objects))
		}
		tls := p.Objects[t.Object].TLS
		switch {
		case t.Kind != InObject && t.Kind != IFunc && tls.ModID == 0:
			return fmt.Errorf("%v of object %d, which has no TLS", t.Kind, t.Object)
		case t.Kind == TLSOffset && !tls.Static:
			return fmt.Errorf("%v of object %d, which has no static TLS", t.Kind, t.Object)
		}
		return nil
	case Executor:
		if t.Off >= uint64(numExecutorFuncs) {
			return fmt.Errorf("unknown executor function %d", t.Off)
		}
		return nil
	case Unresolved:
		if !lazy {
			return fmt.Errorf("an unresolved target outside a lazy slot")
		}
		return nil
	}
	return fmt.Errorf("unknown target kind %d", t.Kind)
}

// BuildID is the object's GNU build-id, as its content ID records it, or
// nil for an object identified otherwise.
func (o *Object) BuildID() []byte {
	h, ok := strings.CutPrefix(o.ID.Content, "build-id:")
	if !ok {
		return nil
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return nil
	}
	return b
}
