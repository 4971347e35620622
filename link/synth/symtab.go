package synth

import (
	"debug/elf"
	"strings"

	"github.com/ldgo/ldgo/link/layout"
	"github.com/ldgo/ldgo/link/options"
	"github.com/ldgo/ldgo/link/parallel"
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
	// sectionSyms maps an output section's index to its STT_SECTION
	// symbol (--emit-relocs only).
	sectionSyms map[uint32]uint32
}

type symtabEntry struct {
	sym  *resolve.Symbol
	sec  layout.Chunk // an output section's STT_SECTION symbol, instead of sym
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
	case strings.HasPrefix(s.Name, ".L") && !opts.DiscardNone && !opts.EmitRelocs:
		// The assembler keeps a .L symbol only for a relocation
		// (in SHF_MERGE sections): GNU ld keeps it with the
		// relocations.
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

// build lists the symbols. The names go to .strtab once all are known,
// so that it grows once: a C++ program's names run to megabytes.
func (t *Symtab) build(files []*resolve.File, globals []*resolve.Symbol, opts *options.Options) {
	// Each object's locals are chosen on its own goroutine: a large
	// link has millions, most of them section symbols left out.
	locals := make([][]symtabEntry, len(files))
	parallel.For(opts.Threads, len(files), func(i int) {
		f := files[i]
		for j := 1; j < f.FirstGlobal; j++ {
			if s := f.Syms[j]; keepLocal(s, opts) {
				locals[i] = append(locals[i], symtabEntry{sym: s})
			}
		}
	})
	t.entries = append(t.entries[:0], symtabEntry{})
	for _, l := range locals {
		t.entries = append(t.entries, l...)
	}
	t.Hdr.Info = uint32(len(t.entries))
	for _, s := range globals {
		if keepGlobal(s) {
			t.entries = append(t.entries, symtabEntry{sym: s})
		}
	}
	size := 0
	for _, e := range t.entries[1:] {
		size += len(e.sym.Name) + 1
	}
	t.strtab.Reserve(len(t.entries), size)
	for i := range t.entries[1:] {
		e := &t.entries[i+1]
		e.name = t.strtab.Add(e.sym.Name)
	}
	t.numbered()
}

// numbered sizes the table and gives each symbol its index.
func (t *Symtab) numbered() {
	for i, e := range t.entries {
		if e.sym != nil {
			e.sym.SymtabIndex = uint32(i)
		}
	}
	t.Hdr.Size = uint64(len(t.entries)) * object.SymSize
}

// addSectionSymbols puts an STT_SECTION symbol for each output section
// first, as GNU ld does for --emit-relocs: the kept relocations against
// local symbols are made against them.
func (t *Symtab) addSectionSymbols(chunks []layout.Chunk) {
	secs := []symtabEntry{{}}
	for _, c := range chunks {
		switch c.(type) {
		case *Symtab, *StrTab, *RelaSection:
			continue
		}
		secs = append(secs, symtabEntry{sec: c})
	}
	t.entries = append(secs, t.entries[1:]...)
	t.Hdr.Info += uint32(len(secs) - 1)
	t.numbered()
}

// placed maps the output sections' indices to their symbols, once
// layout has numbered the sections.
func (t *Symtab) placed() {
	t.sectionSyms = map[uint32]uint32{}
	for i, e := range t.entries {
		if e.sec != nil {
			t.sectionSyms[e.sec.Header().Index] = uint32(i)
		}
	}
}

// SectionSymbol returns the index of output section index's STT_SECTION
// symbol, 0 if it has none.
func (t *Symtab) SectionSymbol(index uint32) uint32 { return t.sectionSyms[index] }

func (t *Symtab) Write(b []byte) {
	for i, e := range t.entries[1:] {
		if e.sec != nil {
			h := e.sec.Header()
			symEntry{info: byte(elf.STB_LOCAL)<<4 | byte(elf.STT_SECTION), shndx: uint16(h.Index), value: h.Addr}.put(b[(i+1)*object.SymSize:], 0)
			continue
		}
		outSymbol(e.sym, t.tlsStart).put(b[(i+1)*object.SymSize:], e.name)
	}
}
