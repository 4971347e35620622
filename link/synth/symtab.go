package synth

import (
	"debug/elf"
	"strings"

	"github.com/ldgo/ldgo/link/layout"
	"github.com/ldgo/ldgo/link/options"
	"github.com/ldgo/ldgo/link/resolve"
	"github.com/ldgo/ldgo/object"
)

// Symtab is .symtab: every object's local symbols (each object's after
// its STT_FILE), then the global ones.
type Symtab struct {
	Hdr      layout.Header
	strtab   *StrTab
	entries  []symtabEntry
	tlsStart uint64
}

type symtabEntry struct {
	sym  *resolve.Symbol
	name uint32
}

func newSymtab(strtab *StrTab) *Symtab {
	return &Symtab{Hdr: layout.Header{Name: ".symtab", Type: elf.SHT_SYMTAB, Align: 8, Entsize: object.SymSize, Link: strtab}, strtab: strtab}
}

func (t *Symtab) Header() *layout.Header { return &t.Hdr }

// keepLocal says whether a local symbol goes to the output's table.
func keepLocal(s *resolve.Symbol, opts *options.Options) bool {
	switch {
	case s.Type == elf.STT_SECTION || s.Name == "":
		return false
	case s.Type == elf.STT_FILE:
		return !opts.DiscardAll
	case s.Section != nil && (s.Section.Discarded || !s.Section.InOutput):
		return false
	case opts.DiscardAll:
		return false
	case strings.HasPrefix(s.Name, ".L") && !opts.DiscardNone:
		return false
	}
	return s.Kind == resolve.Defined
}

// keepGlobal says whether a global symbol goes to the output's table.
func keepGlobal(s *resolve.Symbol) bool {
	switch s.Kind {
	case resolve.Defined, resolve.Linker:
		return s.Section == nil || !s.Section.Discarded
	case resolve.Shared, resolve.Undefined:
		return s.Referenced
	}
	return false
}

// build lists the symbols.
func (t *Symtab) build(files []*resolve.File, globals []*resolve.Symbol, opts *options.Options) {
	t.entries = append(t.entries[:0], symtabEntry{})
	for _, f := range files {
		for i := 1; i < f.FirstGlobal; i++ {
			s := f.Syms[i]
			if keepLocal(s, opts) {
				t.entries = append(t.entries, symtabEntry{s, t.strtab.Add(s.Name)})
			}
		}
	}
	t.Hdr.Info = uint32(len(t.entries))
	for _, s := range globals {
		if keepGlobal(s) {
			t.entries = append(t.entries, symtabEntry{s, t.strtab.Add(s.Name)})
		}
	}
	t.Hdr.Size = uint64(len(t.entries)) * object.SymSize
}

func (t *Symtab) Write(b []byte) {
	for i, e := range t.entries[1:] {
		outSymbol(e.sym, t.tlsStart).put(b[(i+1)*object.SymSize:], e.name)
	}
}
