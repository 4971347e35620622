// Package synth makes the sections the link editor writes itself, one
// type per section as lld's SyntheticSections: .interp, the notes
// (.note.gnu.build-id, .note.gnu.property), the dynamic symbol table and
// its string table, .gnu.hash and .hash (with the hash functions of
// package object, which `ldgo run` looks symbols up with), .gnu.version
// and .gnu.version_r, .rela.dyn and .rela.plt, .plt, .got and .got.plt,
// .dynamic, .eh_frame and .eh_frame_hdr, and .symtab, .strtab and
// .shstrtab.
//
// A Set holds them for one output. New creates them, Build sizes them
// from what the relocation scan decided (in a deterministic order: the
// order of the objects and of their symbols), Placed takes the addresses
// layout gave, and each section's Write fills its bytes in the output.
package synth

import (
	"debug/elf"
	"math/bits"
	"path/filepath"

	"github.com/ldgo/ldgo/link/input"
	"github.com/ldgo/ldgo/link/layout"
	"github.com/ldgo/ldgo/link/options"
	"github.com/ldgo/ldgo/link/resolve"
	"github.com/ldgo/ldgo/link/scan"
	"github.com/ldgo/ldgo/object"
	"github.com/ldgo/ldgo/reloc"
)

// Set is the synthetic sections of one output; a nil field is a section
// the output does not have.
type Set struct {
	ctx  *scan.Context
	opts *options.Options
	res  *resolve.Result
	// Sections are the output sections made of input sections.
	Sections []*layout.Section

	Interp     *Interp
	BuildID    *BuildID
	Property   *Property
	DynSym     *DynSym
	DynStr     *StrTab
	GNUHash    *GNUHash
	Hash       *Hash
	Versym     *Versym
	Verdef     *Verdef
	Verneed    *Verneed
	RelaDyn    *RelaDyn
	RelaPLT    *RelaPLT
	PLT        *PLT
	PLTSec     *PLTSec // IBT-enabled PLTs only
	PLTGOT     *PLTGOT
	GOT        *GOT
	GOTPLT     *GOTPLT
	GOTNow     *GOTNow // -z now: .got.plt and .got in one .got
	Dynamic    *Dynamic
	EhFrame    *EhFrame
	EhFrameHdr *EhFrameHdr
	Symtab     *Symtab
	Strtab     *StrTab
	Shstrtab   *StrTab
	EmitRelocs *EmitRelocs // --emit-relocs

	// GNUABI says the output uses GNU extensions to ELF (STB_GNU_UNIQUE
	// or STT_GNU_IFUNC symbols): its EI_OSABI is ELFOSABI_GNU, as GNU
	// ld writes it.
	GNUABI bool

	// Copies are the symbols with a copy relocation.
	Copies    []*resolve.Symbol
	copyAt    uint32
	linker    *input.Object
	textRel   bool
	staticTLS bool
	// TLSStart and TP are the TLS segment's start and the thread
	// pointer's link-time position (the end of the block, aligned).
	TLSStart, TP uint64
}

// stbGNUUnique is STB_GNU_UNIQUE, which debug/elf does not name.
const stbGNUUnique elf.SymBind = 10

// New creates the synthetic sections an output needs.
func New(ctx *scan.Context, res *resolve.Result, sections []*layout.Section) *Set {
	o := ctx.Opts
	s := &Set{ctx: ctx, opts: o, res: res, Sections: sections, linker: &input.Object{Name: "<ldgo>"}}
	if ctx.Dynamic && o.OutputKind != options.Shared && !o.NoDynamicLinker {
		path := o.DynamicLinker
		if path == "" {
			path = "/lib64/ld-linux-x86-64.so.2"
		}
		s.Interp = newInterp(path)
	}
	if o.BuildID != "" {
		s.BuildID = newBuildID(o.BuildID)
	}
	objs := make([]*input.Object, len(res.Files))
	for i, f := range res.Files {
		objs[i] = f.Object
	}
	s.Property = newProperty(objs, o.Z.IBT, o.Z.SHSTK)
	s.GOT = newGOT(ctx)
	s.PLT = newPLT()
	s.GOTPLT = newGOTPLT()
	s.GOTPLT.plt = s.PLT
	s.PLT.gotplt = s.GOTPLT
	if o.Z.Now {
		s.GOTNow = newGOTNow(s.GOTPLT, s.GOT)
	}
	if o.Z.IBTPLT || s.Property.IBT() {
		s.PLTSec = newPLTSec(s.PLT)
	}
	s.PLTGOT = newPLTGOT(s.PLTSec != nil)
	if ctx.Dynamic {
		s.DynStr = newStrTab(".dynstr", true)
		s.DynSym = newDynSym(s.DynStr)
		if o.HashStyle != options.HashSysV {
			s.GNUHash = newGNUHash(s.DynSym)
		}
		if o.HashStyle != options.HashGNU {
			s.Hash = newHash(s.DynSym)
		}
		s.Verneed = newVerneed(s.DynStr)
		s.RelaDyn = newRelaDyn(s.DynSym)
		s.RelaPLT = newRelaPLT(s.DynSym, s.GOTPLT, s.PLT)
		s.Dynamic = newDynamic(s.DynStr)
		s.GOTPLT.dynamic = s.Dynamic
	}
	if !ctx.Dynamic {
		s.RelaPLT = newRelaPLT(nil, s.GOTPLT, s.PLT)
	}
	s.EhFrame = newEhFrame()
	if o.EhFrameHdr {
		s.EhFrameHdr = newEhFrameHdr(s.EhFrame)
	}
	if o.Strip != options.StripAll {
		s.Strtab = newStrTab(".strtab", false)
		s.Symtab = newSymtab(s.Strtab)
	}
	if !ctx.Dynamic && s.Symtab != nil {
		s.RelaPLT.Hdr.Link = s.Symtab // as GNU ld links it
	}
	s.Shstrtab = newStrTab(".shstrtab", false)
	return s
}

// Build sizes the sections from the scan's decisions.
func (s *Set) Build(sr *scan.Result) {
	textRel, tlsld := sr.TextRel, sr.TLSLD
	s.textRel = textRel
	s.staticTLS = sr.StaticTLS
	s.copyRelocations()
	globals := s.res.Globals()
	for _, sym := range globals {
		if sym.Has(resolve.NeedCanonicalPLT) && sym.Kind == resolve.Shared {
			sym.CanonicalPLT = true
		}
		if sym.DefinedHere() && (sym.Bind == stbGNUUnique || sym.Type == elf.STT_GNU_IFUNC) {
			s.GNUABI = true
		}
		if sym.Kind == resolve.Undefined && sym.Preemptible && sym.Needs()&(resolve.NeedGOT|resolve.NeedPLT|resolve.NeedDynamic) != 0 {
			sym.Dynamic = true
		}
	}
	for _, f := range s.res.Files {
		for _, sym := range f.Syms {
			n := sym.Needs()
			if n&resolve.NeedGOT != 0 {
				s.GOT.add(sym, reloc.GOTAddr)
			}
			if n&resolve.NeedGOTTP != 0 {
				s.GOT.add(sym, reloc.GOTTPOff)
			}
			if n&resolve.NeedTLSGD != 0 {
				s.GOT.add(sym, reloc.GOTTLSGD)
			}
			if n&resolve.NeedTLSDesc != 0 {
				s.GOT.add(sym, reloc.GOTTLSDesc)
			}
		}
	}
	if tlsld {
		s.GOT.add(nil, reloc.GOTTLSLD)
	}
	for _, sym := range globals {
		if sym.Has(resolve.NeedPLT) && (sym.Preemptible || sym.CanonicalPLT) && !sym.LocalIFunc() {
			if s.usePLTGOT(sym) {
				s.PLTGOT.add(sym)
			} else {
				s.PLT.add(sym)
			}
		}
	}
	// Indirect functions come last in .rela.plt: their resolvers run
	// once the other slots are filled.
	for _, f := range s.res.Files {
		for _, sym := range f.Syms {
			if sym.Has(resolve.NeedPLT) && sym.LocalIFunc() {
				s.PLT.add(sym)
			}
		}
	}
	s.GOTPLT.size()
	s.RelaPLT.size()
	s.EhFrame.build(s.res.Files)
	if s.EhFrameHdr != nil {
		s.EhFrameHdr.size()
	}
	if s.ctx.Dynamic {
		var dyn []*resolve.Symbol
		for _, sym := range globals {
			if sym.Dynamic || sym.CopyReloc {
				dyn = append(dyn, sym)
			}
		}
		if script := s.ctx.Versions; script != nil {
			// GNU ld names each version defined by an absolute
			// symbol of the version, in .dynsym.
			for _, v := range script.Versions {
				dyn = append(dyn, &resolve.Symbol{Name: v.Name, Kind: resolve.Linker, LinkerAbs: true,
					Type: elf.STT_OBJECT, Bind: elf.STB_GLOBAL, Exported: true, Dynamic: true, OutVersion: v.Name,
					GOTIndex: -1, PLTIndex: -1, TLSGDIndex: -1, GOTTPIndex: -1, TLSDescIndex: -1})
			}
		}
		s.DynSym.build(dyn, s.GNUHash != nil)
		if s.GNUHash != nil {
			s.GNUHash.size()
		}
		if s.Hash != nil {
			s.Hash.size()
		}
		first := uint16(2)
		if script := s.ctx.Versions; script != nil {
			base := s.opts.Soname
			if base == "" {
				base = filepath.Base(s.opts.Output)
			}
			s.Verdef = newVerdef(s.DynStr, script, base)
			first += uint16(len(script.Versions))
		}
		s.Verneed.build(s.DynSym.Syms, s.res.Shlibs, first)
		if s.Verneed.Count() > 0 || s.Verdef != nil {
			s.Versym = newVersym(s.DynSym, s.Verneed, s.Verdef)
			s.Versym.size()
		}
		s.reserveRelocations()
		var init, fini *resolve.Symbol
		if sym := s.res.Table.Lookup(s.opts.Init); sym != nil && sym.DefinedHere() {
			init = sym
		}
		if sym := s.res.Table.Lookup(s.opts.Fini); sym != nil && sym.DefinedHere() {
			fini = sym
		}
		s.Dynamic.build(s, init, fini, s.section(".init_array"), s.section(".fini_array"), s.section(".preinit_array"), textRel)
	}
	if s.Symtab != nil {
		s.Symtab.build(s.res.Files, s.res.Globals(), s.opts)
		if s.opts.EmitRelocs {
			s.buildEmitRelocs()
		}
	}
}

// section returns the output section named name, or nil.
func (s *Set) section(name string) *layout.Header {
	for _, o := range s.Sections {
		if o.Hdr.Name == name && o.Hdr.Size > 0 {
			return &o.Hdr
		}
	}
	return nil
}

// copyRelocations gives each symbol that needs a copy relocation room in
// .bss, shared with the library's other names for the same data (so that
// the library's own references, bound to any of them, see the copy).
func (s *Set) copyRelocations() {
	var bss *layout.Section
	for _, o := range s.Sections {
		if o.Hdr.Name == ".bss" && o.Hdr.Alloc() {
			bss = o
		}
	}
	for _, sym := range s.res.Globals() {
		if sym.Kind != resolve.Shared || !sym.Has(resolve.NeedCopy) || sym.CopyReloc {
			continue
		}
		if bss == nil {
			bss = &layout.Section{Hdr: layout.Header{Name: ".bss", Type: elf.SHT_NOBITS, Flags: elf.SHF_ALLOC | elf.SHF_WRITE, Align: 1}}
			s.Sections = append(s.Sections, bss)
		}
		align := uint64(1) << min(bits.TrailingZeros64(sym.Value|1<<5), 5)
		sec := &input.Section{File: s.linker, Name: ".dynbss", Type: elf.SHT_NOBITS, Flags: elf.SHF_ALLOC | elf.SHF_WRITE, Align: align, Size: sym.Size, InOutput: true}
		bss.Members = append(bss.Members, sec)
		sym.CopyReloc = true
		sym.Section = sec
		sym.Value = 0
		sym.Dynamic = true
		s.Copies = append(s.Copies, sym)
		lib := sym.Shlib
		for j := 1; j < len(lib.Syms); j++ {
			alias := lib.Syms[j]
			if alias == nil || alias == sym || alias.Kind != resolve.Shared || alias.Shlib != lib || alias.ShlibIndex != uint32(j) {
				continue
			}
			es := lib.Obj.Symbol(uint32(j))
			if es.Undefined() || es.Value != lib.Obj.Symbol(sym.ShlibIndex).Value || es.Type() != elf.STT_OBJECT {
				continue
			}
			alias.CopyReloc = true
			alias.Section = sec
			alias.Dynamic = true
			s.res.AddExtra(alias)
		}
	}
	if bss != nil {
		bss.Repack()
	}
}

// reserveRelocations sizes .rela.dyn: the GOT's, the copies', then each
// input section's, in link order.
func (s *Set) reserveRelocations() {
	s.GOT.reserve(s.RelaDyn)
	if len(s.Copies) > 0 {
		_, s.copyAt = s.RelaDyn.Reserve(0, uint32(len(s.Copies)))
	}
	for _, f := range s.res.Files {
		for _, sec := range f.Sections {
			if sec == nil || sec.Discarded || sec.DynRelative+sec.DynOther == 0 {
				continue
			}
			sec.RelativeAt, sec.OtherAt = s.RelaDyn.Reserve(sec.DynRelative, sec.DynOther)
		}
	}
}

// Chunks returns every chunk of the output: the output sections of input
// sections and the synthetic ones.
func (s *Set) Chunks() []layout.Chunk {
	var cs []layout.Chunk
	add := func(c layout.Chunk, ok bool) {
		if ok {
			cs = append(cs, c)
		}
	}
	add(s.Interp, s.Interp != nil)
	add(s.Property, s.Property != nil)
	add(s.BuildID, s.BuildID != nil)
	add(s.Hash, s.Hash != nil)
	add(s.GNUHash, s.GNUHash != nil)
	add(s.DynSym, s.DynSym != nil)
	add(s.DynStr, s.DynStr != nil)
	add(s.Versym, s.Versym != nil)
	add(s.Verdef, s.Verdef != nil)
	add(s.Verneed, s.Verneed != nil && s.Verneed.Count() > 0)
	add(s.RelaDyn, s.RelaDyn != nil)
	add(s.RelaPLT, s.RelaPLT != nil)
	add(s.PLT, len(s.PLT.Entries) > 0)
	add(s.PLTGOT, len(s.PLTGOT.Entries) > 0)
	add(s.PLTSec, s.PLTSec != nil && len(s.PLT.Entries) > 0)
	for _, o := range s.Sections {
		cs = append(cs, o)
	}
	add(s.EhFrameHdr, s.EhFrameHdr != nil && s.EhFrame.FDEs > 0)
	add(s.EhFrame, s.EhFrame.FDEs > 0)
	add(s.Dynamic, s.Dynamic != nil)
	withPLT := s.ctx.Dynamic || len(s.PLT.Entries) > 0
	if g := s.GOTNow; g != nil {
		g.withPLT = withPLT
		add(g, len(s.GOT.Entries) > 0 || withPLT)
	} else {
		add(s.GOT, len(s.GOT.Entries) > 0)
		add(s.GOTPLT, withPLT)
	}
	if s.EmitRelocs != nil {
		for _, r := range s.EmitRelocs.Sections {
			cs = append(cs, r)
		}
	}
	add(s.Symtab, s.Symtab != nil)
	add(s.Strtab, s.Strtab != nil)
	add(s.Shstrtab, true)
	return cs
}

// NameSections adds the names of the chunks that are in the output to
// .shstrtab, resolving section links.
func (s *Set) NameSections(chunks []layout.Chunk) {
	for _, c := range chunks {
		s.Shstrtab.Add(c.Header().Name)
	}
	if s.EmitRelocs != nil {
		s.Symtab.addSectionSymbols(chunks)
	}
}

// Placed takes the addresses layout gave: the PLT and GOT entries', the
// TLS segment's and the .eh_frame input sections'.
func (s *Set) Placed(tls layout.Segment) {
	s.TLSStart = tls.Vaddr
	s.TP = tls.Vaddr + tls.Memsz
	if tls.Align > 1 {
		s.TP = (s.TP + tls.Align - 1) &^ (tls.Align - 1)
	}
	if s.DynSym != nil {
		s.DynSym.tlsStart = s.TLSStart
	}
	if s.Symtab != nil {
		s.Symtab.tlsStart = s.TLSStart
		s.Symtab.placed()
	}
	if s.GOTNow != nil {
		s.GOTNow.placed()
	}
	s.PLT.placed()
	s.PLTGOT.placed()
	s.GOT.placed(s.TLSStart, s.TP)
	for _, f := range s.res.Files {
		for _, sec := range f.Sections {
			if sec != nil && sec.Name == ".eh_frame" && sec.Placement != nil {
				sec.OutIndex = s.EhFrame.Hdr.Index
			}
		}
	}
}

// WriteCopies writes the copy relocations.
func (s *Set) WriteCopies(out []byte) {
	for i, sym := range s.Copies {
		s.RelaDyn.Put(out, false, s.copyAt+uint32(i), object.Rela{Off: sym.Addr(), Type: elf.R_X86_64_COPY, Sym: uint32(sym.DynIndex)})
	}
}
