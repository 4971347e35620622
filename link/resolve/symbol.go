package resolve

import (
	"debug/elf"
	"sync"
	"sync/atomic"

	"github.com/ldgo/ldgo/link/input"
	"github.com/ldgo/ldgo/object"
)

// Kind is where a symbol's definition comes from.
type Kind uint8

const (
	Undefined Kind = iota
	Defined        // in a relocatable object: in a section, or absolute
	Common         // a common block (allocated in .bss by Finish)
	Shared         // in a shared library: the output imports it
	Linker         // by the link editor (_GLOBAL_OFFSET_TABLE_, _end, ...)
)

// Symbol is one symbol of the link: a global name shared by every file
// that names it (one *Symbol per name, in the Table), or one object's
// local symbol.
//
// Resolution fills the definition and reference fields; Finish the
// export decisions; the relocation scan the needs (atomically: files are
// scanned in parallel); the synthetic sections the table indices and the
// addresses of PLT and GOT entries.
type Symbol struct {
	Name string
	Kind Kind

	// The definition.
	File    *File          // Defined, Common
	Section *input.Section // Defined in a section; nil if absolute
	Value   uint64         // in Section, absolute, or the library's st_value
	Size    uint64
	Bind    elf.SymBind
	Type    elf.SymType
	// Vis is the most constraining visibility any regular object gave
	// the name, definition or reference.
	Vis elf.SymVis
	// Shlib and ShlibIndex are the library and dynamic symbol a Shared
	// definition comes from; Version its version name ("" for none).
	Shlib      *Shlib
	ShlibIndex uint32
	Version    string
	// CommonAlign is a common block's alignment.
	CommonAlign uint64
	// LinkerAbs says a Linker symbol's value is a number, not an
	// address in the output (--defsym NAME=NUMBER).
	LinkerAbs bool
	// OutVersion is the version the output defines the symbol at (from
	// .symver in its object, or the version script), "" for none;
	// OutHidden says it is not the default version (foo@V, not
	// foo@@V). DynName is the name without the version, for .dynsym.
	OutVersion string
	OutHidden  bool
	DynName    string
	// OutIndex is the output section a Linker symbol is relative to,
	// for the symbol table (0: absolute).
	OutIndex uint32

	// References from regular objects.
	Referenced bool  // some object names it without defining it
	StrongRef  bool  // some such reference is not weak
	RefBy      *File // the first object referring to it
	// InShlib says a shared library of the link names it (defines or
	// refers to it): an executable's definition is then exported, so
	// that the library binds to it.
	InShlib bool
	// ShlibRef is the first shared library of the link that refers to
	// the name without defining it, not weakly.
	ShlibRef *Shlib
	// Local says the symbol is one object's local symbol.
	Local bool

	// Export decisions (Finish).
	Exported    bool // defined by the output and in its .dynsym
	Dynamic     bool // in .dynsym at all (exported or imported)
	Preemptible bool // references bind at run time, through dynamic relocations

	needs atomic.Uint32

	// Set by the synthetic sections.
	DynIndex int32 // index in .dynsym; 0 if none
	GOTIndex int32 // entry in .got, -1 if none
	PLTIndex int32 // entry in .plt, -1 if none
	// TLS GOT entries (general dynamic pair, initial exec word).
	TLSGDIndex, GOTTPIndex int32
	// PLTAddr and GOTAddr are the addresses of the symbol's PLT and
	// GOT entries once laid out.
	PLTAddr, GOTAddr        uint64
	TLSGDAddr, GOTTPAddr    uint64
	TLSDescIndex            int32
	TLSDescAddr             uint64
	CanonicalPLT, CopyReloc bool // decided from the needs
	// PLTGOT says calls go through a .plt.got entry (at PLTAddr), a
	// jump through the symbol's GOT entry, instead of a PLT entry.
	PLTGOT      bool
	SymtabIndex uint32
}

// Need is something a relocation asks of its symbol.
type Need uint32

const (
	NeedGOT Need = 1 << iota
	NeedPLT
	NeedCopy         // a copy relocation into the executable
	NeedCanonicalPLT // the PLT entry is the function's address
	NeedTLSGD
	NeedGOTTP
	NeedTLSDesc
	// NeedDynamic: a dynamic relocation names the symbol.
	NeedDynamic
)

// Add records needs; it is safe to call from many goroutines.
func (s *Symbol) Add(n Need) {
	for {
		old := s.needs.Load()
		if old&uint32(n) == uint32(n) || s.needs.CompareAndSwap(old, old|uint32(n)) {
			return
		}
	}
}

// Needs returns the needs recorded.
func (s *Symbol) Needs() Need { return Need(s.needs.Load()) }

// Has reports whether all of n were recorded.
func (s *Symbol) Has(n Need) bool { return Need(s.needs.Load())&n == n }

// NameInDynsym is the symbol's name without a version (foo of foo@V).
func (s *Symbol) NameInDynsym() string {
	if s.DynName != "" {
		return s.DynName
	}
	return s.Name
}

// IsDefined reports whether the symbol has a definition somewhere.
func (s *Symbol) IsDefined() bool { return s.Kind != Undefined }

// DefinedHere reports whether the output defines the symbol (rather than
// importing it or leaving it undefined).
func (s *Symbol) DefinedHere() bool {
	return s.Kind == Defined || s.Kind == Common || s.Kind == Linker
}

// Absolute reports whether the symbol's value is not an address in the
// output (and so needs no relocation to be position-independent).
func (s *Symbol) Absolute() bool {
	return (s.Kind == Defined && s.Section == nil) || (s.Kind == Linker && s.LinkerAbs)
}

// IFunc reports whether the symbol is an indirect function.
func (s *Symbol) IFunc() bool { return s.Type == elf.STT_GNU_IFUNC }

// Addr returns the symbol's link-time address: where it is defined, its
// copy in the executable, its canonical PLT entry, or zero for an
// undefined or imported symbol.
//
// An indirect function defined in the output (and not preemptible) is
// its PLT entry, which jumps to what its resolver returned (IRELATIVE):
// calls and addresses taken all lead there, so that pointers to it
// compare equal.
func (s *Symbol) Addr() uint64 {
	if s.LocalIFunc() && s.PLTIndex >= 0 {
		return s.PLTAddr
	}
	return s.DefAddr()
}

// LocalIFunc reports whether s is an indirect function the output
// defines and binds itself, through an IRELATIVE relocation.
func (s *Symbol) LocalIFunc() bool {
	return s.Type == elf.STT_GNU_IFUNC && s.Kind == Defined && !s.Preemptible
}

// DefAddr is the address of the definition itself: an indirect
// function's resolver.
func (s *Symbol) DefAddr() uint64 {
	switch s.Kind {
	case Defined, Common:
		if s.Section == nil {
			return s.Value
		}
		return s.Section.AddrOf(s.Value)
	case Linker:
		return s.Value
	case Shared:
		if s.CopyReloc {
			return s.Section.AddrOf(0)
		}
		if s.CanonicalPLT {
			return s.PLTAddr
		}
	}
	return 0
}

// File is a relocatable object in the link, with its symbols resolved:
// Syms[i] is the symbol its symbol table entry i names.
type File struct {
	*input.Object
	// Priority is the object's position in the link, 0 first.
	Priority int
	Syms     []*Symbol
	locals   []Symbol
	added    bool
}

// Shlib is a shared library in the link.
type Shlib struct {
	*input.Shlib
	// NeededName is the library's DT_NEEDED entry in the output.
	NeededName string
	AsNeeded   bool
	// CopyDTNeeded is --copy-dt-needed-entries at the library's place:
	// the libraries it needs may bind the objects' references.
	CopyDTNeeded bool
	// Syms[i] is the symbol dynamic symbol i names (nil for locals).
	Syms []*Symbol
}

// Table holds the global symbols, one per name. Interning is safe for
// many goroutines at once: names are spread over shards, each with its
// own lock, so parallel readers of different files rarely wait.
type Table struct {
	shards [tableShards]tableShard
}

const tableShards = 64

type tableShard struct {
	mu sync.Mutex
	m  map[string]*Symbol
}

// NewTable returns an empty table.
func NewTable() *Table {
	t := &Table{}
	for i := range t.shards {
		t.shards[i].m = map[string]*Symbol{}
	}
	return t
}

// Reserve makes room for about n names before any is interned: a large
// link's table grows to millions, and growing a map rehashes it.
func (t *Table) Reserve(n int) {
	for i := range t.shards {
		if sh := &t.shards[i]; len(sh.m) == 0 {
			sh.m = make(map[string]*Symbol, n/tableShards)
		}
	}
}

func (t *Table) shard(name string) *tableShard {
	return &t.shards[object.GNUHash(name)%tableShards]
}

// Intern returns the symbol named name, creating it if it is new.
func (t *Table) Intern(name string) *Symbol {
	sh := t.shard(name)
	sh.mu.Lock()
	s := sh.m[name]
	if s == nil {
		s = &Symbol{Name: name, GOTIndex: -1, PLTIndex: -1, TLSGDIndex: -1, GOTTPIndex: -1, TLSDescIndex: -1}
		sh.m[name] = s
	}
	sh.mu.Unlock()
	return s
}

// Lookup returns the symbol named name, or nil.
func (t *Table) Lookup(name string) *Symbol {
	sh := t.shard(name)
	sh.mu.Lock()
	s := sh.m[name]
	sh.mu.Unlock()
	return s
}
