// Package relocatable writes a relocatable object (-r): the live input
// sections, each as a section of its own (so that a later link can still
// collect or discard it: nothing is merged, nothing laid out), with
// their relocations rewritten to the output's symbol table, COMDAT
// groups kept as groups, common blocks still common, and the symbols
// resolution chose: one definition of each global name, undefined
// references as they are.
package relocatable

import (
	"debug/elf"
	"encoding/binary"

	"github.com/ldgo/ldgo/link/input"
	"github.com/ldgo/ldgo/link/layout"
	"github.com/ldgo/ldgo/link/output"
	"github.com/ldgo/ldgo/link/resolve"
	"github.com/ldgo/ldgo/object"
)

var le = binary.LittleEndian

const relaSize = 24

// section is an output section: an input section, or one the writer
// makes (relocations, groups, tables).
type section struct {
	hdr  layout.Header
	in   *input.Section // the input section copied, if any
	f    *resolve.File  // its file
	rela *input.Section // the input section whose relocations this is
	grp  *input.Group   // the group this describes
	data func(b []byte) // writes the contents of a made section
}

func (s *section) Header() *layout.Header { return &s.hdr }

type writer struct {
	res      *resolve.Result
	sections []*section
	out      map[*input.Section]*section
	relaOut  map[*input.Section]*section // an input section's relocations
	secSym   map[*section]uint32         // section symbol of each output section
	localSym map[*resolve.Symbol]uint32
	global   map[*resolve.Symbol]uint32
	syms     []outSym
	strtab   []byte
	strIndex map[string]uint32
	nLocal   uint32
}

type outSym struct {
	name  uint32
	info  byte
	other byte
	shndx uint16
	value uint64
	size  uint64
}

// Write writes res as a relocatable object at path; execStack says an
// input asks for an executable stack (kept in .note.GNU-stack).
func Write(path string, res *resolve.Result, execStack bool) (err error) {
	w := &writer{res: res, out: map[*input.Section]*section{}, relaOut: map[*input.Section]*section{}, secSym: map[*section]uint32{},
		localSym: map[*resolve.Symbol]uint32{}, global: map[*resolve.Symbol]uint32{}, strIndex: map[string]uint32{"": 0}, strtab: []byte{0}}
	w.collect()
	stack := &section{hdr: layout.Header{Name: ".note.GNU-stack", Type: elf.SHT_PROGBITS, Align: 1, KeepEmpty: true}}
	if execStack {
		stack.hdr.Flags = elf.SHF_EXECINSTR
	}
	w.sections = append(w.sections, stack)
	symtab := &section{hdr: layout.Header{Name: ".symtab", Type: elf.SHT_SYMTAB, Align: 8, Entsize: object.SymSize}}
	strtab := &section{hdr: layout.Header{Name: ".strtab", Type: elf.SHT_STRTAB, Align: 1}}
	shstrtab := &section{hdr: layout.Header{Name: ".shstrtab", Type: elf.SHT_STRTAB, Align: 1}}
	w.sections = append(w.sections, symtab, strtab, shstrtab)
	chunks := make([]layout.Chunk, len(w.sections))
	for i, s := range w.sections {
		s.hdr.Index = uint32(i + 1)
		chunks[i] = s
	}
	w.symbols()
	symtab.hdr.Link = strtab
	symtab.hdr.Info = w.nLocal
	symtab.hdr.Size = uint64(len(w.syms)) * object.SymSize
	strtab.hdr.Size = uint64(len(w.strtab))
	shnames := []byte{0}
	nameOff := map[string]uint32{}
	for _, s := range w.sections {
		if _, ok := nameOff[s.hdr.Name]; !ok {
			nameOff[s.hdr.Name] = uint32(len(shnames))
			shnames = append(append(shnames, s.hdr.Name...), 0)
		}
	}
	shstrtab.hdr.Size = uint64(len(shnames))
	for _, s := range w.sections {
		if s.rela != nil || s.grp != nil {
			s.hdr.Link = symtab
		}
	}
	lay := layout.Assign(chunks, &layout.Config{Relocatable: true})

	f, out, err := output.Create(path, lay.FileSize)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Abort()
		}
	}()
	gnu := false
	for _, sym := range w.syms {
		if b, t := elf.SymBind(sym.info>>4), elf.SymType(sym.info&0xf); b == 10 || t == elf.STT_GNU_IFUNC {
			gnu = true // STB_GNU_UNIQUE or STT_GNU_IFUNC
		}
	}
	output.PutELFHeader(out, elf.ET_REL, gnu, 0, 0, lay.SectionHeaders, len(w.sections)+1, shstrtab.hdr.Index)
	for i, s := range w.sections {
		h := &s.hdr
		output.PutSectionHeader(out[lay.SectionHeaders+uint64(i+1)*64:], h, nameOff[h.Name])
		if h.Type == elf.SHT_NOBITS {
			continue
		}
		b := out[h.Offset : h.Offset+h.Size]
		switch {
		case s.in != nil:
			copy(b, s.in.Data)
		case s.data != nil:
			s.data(b)
		}
	}
	for i, sym := range w.syms {
		e := out[symtab.hdr.Offset+uint64(i)*object.SymSize:]
		le.PutUint32(e, sym.name)
		e[4], e[5] = sym.info, sym.other
		le.PutUint16(e[6:], sym.shndx)
		le.PutUint64(e[8:], sym.value)
		le.PutUint64(e[16:], sym.size)
	}
	copy(out[strtab.hdr.Offset:], w.strtab)
	copy(out[shstrtab.hdr.Offset:], shnames)
	return f.Commit()
}

// collect makes an output section of every live input section, each
// file's groups first (a group precedes its members), each section's
// relocations after it.
func (w *writer) collect() {
	for _, f := range w.res.Files {
		var groups []*section
		for _, g := range f.Groups {
			if g.Discarded {
				continue
			}
			gs := &section{hdr: layout.Header{Name: ".group", Type: elf.SHT_GROUP, Align: 4, Entsize: 4}, grp: g, f: f}
			groups = append(groups, gs)
			w.sections = append(w.sections, gs)
		}
		for _, sec := range f.Sections {
			if sec == nil || sec.Discarded || sec.Generated {
				continue
			}
			s := &section{hdr: layout.Header{Name: sec.Name, Type: sec.Type, Flags: sec.Flags, Align: sec.Align, Entsize: sec.Entsize, Size: sec.Size, KeepEmpty: true}, in: sec, f: f}
			w.out[sec] = s
			w.sections = append(w.sections, s)
			if sec.Relocs != nil {
				r := &section{hdr: layout.Header{Name: ".rela" + sec.Name, Type: elf.SHT_RELA, Flags: elf.SHF_INFO_LINK | sec.Flags&elf.SHF_GROUP, Align: 8, Entsize: relaSize,
					Size: uint64(sec.Relocs.Len()) * relaSize, InfoChunk: s}, rela: sec, f: f}
				w.sections = append(w.sections, r)
				w.relaOut[sec] = r
				r.data = func(b []byte) { w.relocations(b, f, sec) }
			}
		}
		for _, gs := range groups {
			g, f := gs.grp, gs.f
			var members []*section
			for _, m := range g.Members {
				if sec := f.Sections[m]; sec != nil && w.out[sec] != nil {
					members = append(members, w.out[sec])
					if r := w.relaOut[sec]; r != nil {
						members = append(members, r)
					}
				}
			}
			gs.hdr.Size = uint64(4 + 4*len(members))
			gs.data = func(b []byte) {
				if g.COMDAT {
					le.PutUint32(b, 1)
				}
				for i, m := range members {
					le.PutUint32(b[4+4*i:], m.hdr.Index)
				}
			}
		}
	}
}

func (w *writer) str(s string) uint32 {
	if off, ok := w.strIndex[s]; ok {
		return off
	}
	off := uint32(len(w.strtab))
	w.strtab = append(append(w.strtab, s...), 0)
	w.strIndex[s] = off
	return off
}

// symbols makes the output's symbol table: a section symbol for each
// section, the objects' local symbols, then the global ones.
func (w *writer) symbols() {
	w.syms = []outSym{{}}
	for _, s := range w.sections {
		if s.in != nil {
			w.secSym[s] = uint32(len(w.syms))
			w.syms = append(w.syms, outSym{info: byte(elf.STB_LOCAL)<<4 | byte(elf.STT_SECTION), shndx: uint16(s.hdr.Index)})
		}
	}
	for _, f := range w.res.Files {
		for i := 1; i < f.FirstGlobal; i++ {
			sym, es := f.Syms[i], &f.Symbols[i]
			if es.Sym.Type() == elf.STT_SECTION || es.Name == "" {
				continue
			}
			var shndx uint16
			switch {
			case es.Absolute():
				shndx = uint16(elf.SHN_ABS)
			case sym.Section != nil:
				o := w.out[sym.Section]
				if o == nil {
					continue
				}
				shndx = uint16(o.hdr.Index)
			default:
				continue
			}
			w.localSym[sym] = uint32(len(w.syms))
			w.syms = append(w.syms, outSym{name: w.str(es.Name), info: es.Sym.Info, other: es.Sym.Other, shndx: shndx, value: es.Sym.Value, size: es.Sym.Size})
		}
	}
	// A group's signature is a local symbol (of the group section
	// itself, for GCC's C5/D5 groups), or a global one, below.
	for _, gs := range w.sections {
		if gs.grp == nil {
			continue
		}
		sym := gs.f.Syms[gs.grp.SignatureSym]
		if !sym.Local {
			continue
		}
		if i, ok := w.localSym[sym]; ok {
			gs.hdr.Info = i
			continue
		}
		gs.hdr.Info = uint32(len(w.syms))
		w.syms = append(w.syms, outSym{name: w.str(gs.grp.Signature), info: byte(elf.STB_LOCAL)<<4 | byte(elf.STT_NOTYPE), shndx: uint16(gs.hdr.Index)})
	}
	w.nLocal = uint32(len(w.syms))
	defer func() {
		for _, gs := range w.sections {
			if gs.grp != nil {
				if i, ok := w.global[gs.f.Syms[gs.grp.SignatureSym]]; ok {
					gs.hdr.Info = i
				}
			}
		}
	}()
	for _, s := range w.res.Globals() {
		name := s.Name
		if s.OutVersion != "" && !s.OutHidden {
			name = s.NameInDynsym() + "@@" + s.OutVersion
		}
		o := outSym{name: w.str(name), other: byte(s.Vis)}
		switch s.Kind {
		case resolve.Defined:
			o.info = byte(s.Bind)<<4 | byte(s.Type)
			o.value, o.size = s.Value, s.Size
			o.shndx = uint16(elf.SHN_ABS)
			if s.Section != nil {
				out := w.out[s.Section]
				if out == nil {
					continue
				}
				o.shndx = uint16(out.hdr.Index)
			}
		case resolve.Common:
			o.info = byte(s.Bind)<<4 | byte(elf.STT_OBJECT)
			o.shndx = uint16(elf.SHN_COMMON)
			o.value, o.size = s.CommonAlign, s.Size
		default:
			if !s.Referenced {
				continue
			}
			bind := elf.STB_GLOBAL
			if !s.StrongRef {
				bind = elf.STB_WEAK
			}
			o.info = byte(bind) << 4
		}
		w.global[s] = uint32(len(w.syms))
		w.syms = append(w.syms, o)
	}
}

// relocations writes sec's relocations against the output's symbols. One
// against a section no longer in the output (a discarded COMDAT group's)
// becomes R_X86_64_NONE.
func (w *writer) relocations(b []byte, f *resolve.File, sec *input.Section) {
	for i := 0; i < sec.Relocs.Len(); i++ {
		r := sec.Relocs.At(i)
		sym := f.Syms[r.Sym]
		var idx uint32
		ok := true
		switch {
		case r.Sym == 0:
		case sym.Local && f.Symbols[r.Sym].Sym.Type() == elf.STT_SECTION:
			o := w.out[sym.Section]
			idx, ok = w.secSym[o], o != nil
		case sym.Local:
			idx, ok = w.localSym[sym]
		default:
			idx, ok = w.global[sym]
		}
		if !ok {
			r = object.Rela{Off: r.Off, Type: elf.R_X86_64_NONE}
			idx = 0
		}
		r.Sym = idx
		object.PutRela(b[i*relaSize:], r)
	}
}
