// Package linkmap defines Map, one loaded object as the dynamic linker
// tracks it (glibc's struct link_map): the object, where it is, how it is
// named, which objects it needs, and the scopes its references are looked
// up in. The namespace creates maps; lookup, relocation and the run-time
// linker read and update them.
package linkmap

import (
	"slices"

	"github.com/ldgo/ldgo/object"
)

// Kind says how an object came into the namespace.
type Kind int

const (
	Executable Kind = iota // the program
	Library                // loaded at start-up as a dependency or preload
	Loaded                 // loaded by dlopen
)

// Map is one object in a namespace.
type Map struct {
	Obj  *object.Object
	File *object.File // the file it was read from; nil for adopted objects
	// ID is the file's identity, which loads it only once; zero for the
	// program and the dynamic linker, as in glibc.
	ID object.FileID

	// Name is glibc's l_name: the path the object was found at, the
	// PT_INTERP name for the dynamic linker, "" for the program.
	Name string
	// Names are the names the object answers to (l_libname): the names
	// it was requested by, its path and its SONAME once matched.
	Names []string
	// Base is l_addr: the difference between run-time and link-time
	// addresses.
	Base uint64
	Kind Kind

	// Faked marks a library that was not found, kept only to be listed
	// (glibc's trace mode).
	Faked   bool
	Removed bool
	// Adopted marks an object that was already in the process, loaded
	// by the system's ld.so (host mode): never mapped or relocated again.
	Adopted bool
	// Rtld marks the dynamic linker's own object.
	Rtld bool
	// Vdso marks the kernel's virtual shared object.
	Vdso bool

	// Loader is the object whose request loaded this one (l_loader).
	Loader *Map
	// Needed are the objects this one's DT_NEEDED entries resolved to,
	// in order (with the object first, this is glibc's l_initfini for a
	// dependency).
	Needed []*Map
	// Searchlist is the breadth-first list of this object and its
	// dependencies (l_searchlist); set for the program and for each
	// object dlopen opens.
	Searchlist []*Map
	// Initfini is the dependency-sorted list this object's initializers
	// run in, reversed (l_initfini of a root).
	Initfini []*Map
	// Scope lists the searchlists this object's references are looked
	// up in, in order (l_scope).
	Scope [][]*Map

	// Reldeps are objects this one came to depend on through symbol
	// bindings into dlopen'ed objects (l_reldeps).
	Reldeps []*Map

	Global    bool // in the global scope
	Dlopened  bool // loaded by dlopen, not at start-up
	OpenedBy  *Map // the dlopen'ed object whose loading brought this one in
	Relocated bool
	Used      bool
	NoDelete  bool
	InitDone  bool
	Opencount int

	// TLSModID is the module's thread-local storage id (0 without TLS);
	// TLSOffset its static TLS offset below the thread pointer, when it
	// has one.
	TLSModID     uint64
	TLSOffset    uint64
	HasStaticTLS bool

	// LookupCache remembers the last symbol looked up for a relocation
	// of this object (glibc's l_lookup_cache): relocations against the
	// same symbol and class reuse it.
	LookupCache struct {
		Valid bool
		Sym   uint32
		Class int
		Def   *Map
		Index uint32
		Found bool
	}

	// Serial orders maps by creation.
	Serial uint64
	// Mark is scratch space for graph walks.
	Mark bool

	// Private is for the run-time linker's own per-object state.
	Private any
}

// DisplayName is how glibc prints the object (DSO_FILENAME): its l_name,
// or the program name for the program.
func (m *Map) DisplayName(progname string) string {
	if m.Name == "" {
		return progname
	}
	return m.Name
}

// NameMatches reports whether name is one of the names the object answers
// to (glibc's _dl_name_match_p).
func (m *Map) NameMatches(name string) bool {
	if name == m.Name {
		return true
	}
	for _, n := range m.Names {
		if n == name {
			return true
		}
	}
	return false
}

// AddName records another name the object answers to.
func (m *Map) AddName(name string) {
	if !slices.Contains(m.Names, name) {
		m.Names = append(m.Names, name)
	}
}

// Addr converts a link-time address of the object to a run-time address.
func (m *Map) Addr(vaddr uint64) uint64 { return m.Base + vaddr }
