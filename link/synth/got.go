package synth

import (
	"debug/elf"

	"github.com/ldgo/ldgo/link/layout"
	"github.com/ldgo/ldgo/link/resolve"
	"github.com/ldgo/ldgo/link/scan"
	"github.com/ldgo/ldgo/object"
	"github.com/ldgo/ldgo/reloc"
)

const relaSize = object.RelaSize

// RelaDyn is .rela.dyn. Its RELATIVE relocations come first (counted by
// DT_RELACOUNT), then the others; each producer (the GOT, the copy
// relocations, every input section) reserves its places while the
// section is sized and writes them itself, in parallel with the others.
type RelaDyn struct {
	Hdr       layout.Header
	nRelative uint32
	nOther    uint32
}

func newRelaDyn(dynsym *DynSym) *RelaDyn {
	return &RelaDyn{Hdr: layout.Header{Name: ".rela.dyn", Type: elf.SHT_RELA, Flags: elf.SHF_ALLOC, Align: 8, Entsize: relaSize, Link: dynsym}}
}

func (r *RelaDyn) Header() *layout.Header { return &r.Hdr }

// Reserve reserves relative and other relocations and returns where
// they start.
func (r *RelaDyn) Reserve(relative, other uint32) (relAt, otherAt uint32) {
	relAt, otherAt = r.nRelative, r.nOther
	r.nRelative += relative
	r.nOther += other
	r.Hdr.Size = uint64(r.nRelative+r.nOther) * relaSize
	return relAt, otherAt
}

// RelativeCount is the number of RELATIVE relocations.
func (r *RelaDyn) RelativeCount() uint32 { return r.nRelative }

// Put writes a relocation at its reserved place in the output file out.
func (r *RelaDyn) Put(out []byte, relative bool, at uint32, rel object.Rela) {
	if !relative {
		at += r.nRelative
	}
	object.PutRela(out[r.Hdr.Offset+uint64(at)*relaSize:], rel)
}

// GOT is .got: a word for each symbol whose address is loaded from it,
// and for thread-local storage a word with a variable's offset from the
// thread pointer (initial exec), two with its module id and offset
// (general dynamic, and once for local dynamic), or a TLS descriptor.
type GOT struct {
	Hdr     layout.Header
	Entries []GOTEntry
	words   int
	ctx     *scan.Context
	relAt   uint32
	otherAt uint32
	rela    *RelaDyn
	// tlsld is the word of the local-dynamic pair, -1 if none.
	tlsld int
	// TLSLDAddr is the pair's address once laid out.
	TLSLDAddr uint64
	// The TLS segment's start and the thread pointer (see Placed).
	tlsStart, tp uint64
}

// GOTEntry is one entry: a symbol and what the entry holds of it.
type GOTEntry struct {
	Sym  *resolve.Symbol // nil for the local-dynamic pair
	Use  reloc.GOTUse
	word int
}

func newGOT(ctx *scan.Context) *GOT {
	return &GOT{Hdr: layout.Header{Name: ".got", Type: elf.SHT_PROGBITS, Flags: elf.SHF_ALLOC | elf.SHF_WRITE, Align: 8, Entsize: 8}, ctx: ctx, tlsld: -1}
}

func (g *GOT) Header() *layout.Header { return &g.Hdr }

// add adds an entry of the kind use for s, if s has none yet.
func (g *GOT) add(s *resolve.Symbol, use reloc.GOTUse) {
	var index *int32
	words := 1
	switch use {
	case reloc.GOTAddr:
		index = &s.GOTIndex
	case reloc.GOTTPOff:
		index = &s.GOTTPIndex
	case reloc.GOTTLSGD:
		index, words = &s.TLSGDIndex, 2
	case reloc.GOTTLSDesc:
		index, words = &s.TLSDescIndex, 2
	case reloc.GOTTLSLD:
		if g.tlsld >= 0 {
			return
		}
		g.tlsld, words = g.words, 2
		s = nil
	}
	if index != nil {
		if *index >= 0 {
			return
		}
		*index = int32(g.words)
	}
	g.Entries = append(g.Entries, GOTEntry{Sym: s, Use: use, word: g.words})
	g.words += words
	g.Hdr.Size = uint64(g.words) * 8
}

// dynamicRelocs returns how many RELATIVE and other dynamic relocations
// an entry takes.
func (g *GOT) dynamicRelocs(e GOTEntry) (relative, other uint32) {
	c := g.ctx
	switch e.Use {
	case reloc.GOTAddr:
		switch c.GOTEntry(e.Sym) {
		case scan.Relative:
			return 1, 0
		case scan.Symbolic:
			return 0, 1
		}
	case reloc.GOTTPOff:
		if c.Dynamic && (c.Shared || e.Sym.Preemptible) {
			return 0, 1
		}
	case reloc.GOTTLSGD:
		switch {
		case !c.Dynamic:
		case e.Sym.Preemptible:
			return 0, 2
		default:
			return 0, 1
		}
	case reloc.GOTTLSLD, reloc.GOTTLSDesc:
		if c.Dynamic {
			return 0, 1
		}
	}
	return 0, 0
}

func (g *GOT) reserve(rela *RelaDyn) {
	g.rela = rela
	var nrel, nother uint32
	for _, e := range g.Entries {
		r, o := g.dynamicRelocs(e)
		nrel += r
		nother += o
	}
	if nrel+nother > 0 {
		g.relAt, g.otherAt = rela.Reserve(nrel, nother)
	}
}

func (g *GOT) placed(tlsStart, tp uint64) {
	g.tlsStart, g.tp = tlsStart, tp
	for _, e := range g.Entries {
		addr := g.Hdr.Addr + uint64(e.word)*8
		switch e.Use {
		case reloc.GOTAddr:
			e.Sym.GOTAddr = addr
		case reloc.GOTTPOff:
			e.Sym.GOTTPAddr = addr
		case reloc.GOTTLSGD:
			e.Sym.TLSGDAddr = addr
		case reloc.GOTTLSDesc:
			e.Sym.TLSDescAddr = addr
		case reloc.GOTTLSLD:
			g.TLSLDAddr = addr
		}
	}
}

// Write fills the entries and writes their dynamic relocations; out is
// the whole output file.
func (g *GOT) Write(out []byte) {
	b := out[g.Hdr.Offset:]
	rel, other := g.relAt, g.otherAt
	putOther := func(r object.Rela) {
		g.rela.Put(out, false, other, r)
		other++
	}
	for _, e := range g.Entries {
		s := e.Sym
		w := b[e.word*8:]
		addr := g.Hdr.Addr + uint64(e.word)*8
		var symIndex uint32
		if s != nil && s.Preemptible {
			symIndex = uint32(s.DynIndex)
		}
		switch e.Use {
		case reloc.GOTAddr:
			switch g.ctx.GOTEntry(s) {
			case scan.Symbolic:
				putOther(object.Rela{Off: addr, Type: elf.R_X86_64_GLOB_DAT, Sym: symIndex})
			case scan.Relative:
				le.PutUint64(w, s.Addr())
				g.rela.Put(out, true, rel, object.Rela{Off: addr, Type: elf.R_X86_64_RELATIVE, Addend: int64(s.Addr())})
				rel++
			default:
				le.PutUint64(w, s.Addr())
			}
		case reloc.GOTTPOff:
			if _, o := g.dynamicRelocs(e); o > 0 {
				putOther(object.Rela{Off: addr, Type: elf.R_X86_64_TPOFF64, Sym: symIndex, Addend: g.blockOffset(s)})
			} else {
				le.PutUint64(w, s.Addr()-g.tp)
			}
		case reloc.GOTTLSGD:
			_, o := g.dynamicRelocs(e)
			switch o {
			case 2:
				putOther(object.Rela{Off: addr, Type: elf.R_X86_64_DTPMOD64, Sym: symIndex})
				putOther(object.Rela{Off: addr + 8, Type: elf.R_X86_64_DTPOFF64, Sym: symIndex})
			case 1:
				putOther(object.Rela{Off: addr, Type: elf.R_X86_64_DTPMOD64})
				le.PutUint64(w[8:], uint64(g.blockOffset(s)))
			default:
				le.PutUint64(w, 1) // the executable's module id
				le.PutUint64(w[8:], uint64(g.blockOffset(s)))
			}
		case reloc.GOTTLSLD:
			if g.ctx.Dynamic {
				putOther(object.Rela{Off: addr, Type: elf.R_X86_64_DTPMOD64})
			} else {
				le.PutUint64(w, 1)
			}
		case reloc.GOTTLSDesc:
			putOther(object.Rela{Off: addr, Type: elf.R_X86_64_TLSDESC, Sym: symIndex, Addend: g.blockOffset(s)})
		}
	}
}

// blockOffset is a local TLS symbol's offset in the output's TLS block
// (the addend of a dynamic relocation that names no symbol); zero for a
// symbol the dynamic linker finds itself.
func (g *GOT) blockOffset(s *resolve.Symbol) int64 {
	if s.Preemptible {
		return 0
	}
	return int64(s.Addr() - g.tlsStart)
}

// GOTPLT is .got.plt: three words the dynamic linker uses (the address
// of _DYNAMIC, then its own two: the object and the resolver), then one
// per PLT entry, first pointing back into the entry for lazy binding.
type GOTPLT struct {
	Hdr     layout.Header
	plt     *PLT
	dynamic *Dynamic
}

const gotPLTReserved = 3

func newGOTPLT() *GOTPLT {
	return &GOTPLT{Hdr: layout.Header{Name: ".got.plt", Type: elf.SHT_PROGBITS, Flags: elf.SHF_ALLOC | elf.SHF_WRITE, Align: 8, Entsize: 8, Size: gotPLTReserved * 8}}
}

func (g *GOTPLT) Header() *layout.Header { return &g.Hdr }

func (g *GOTPLT) size() {
	g.Hdr.Size = uint64(gotPLTReserved+len(g.plt.Entries)) * 8
}

func (g *GOTPLT) Write(b []byte) {
	if g.dynamic != nil {
		le.PutUint64(b, g.dynamic.Hdr.Addr)
	}
	for i := range g.plt.Entries {
		le.PutUint64(b[(gotPLTReserved+i)*8:], g.plt.lazyAddr(i))
	}
}

// PLT is .plt: lazy-binding stubs. Entry 0 pushes GOT[1] and jumps to
// GOT[2], the dynamic linker's resolver; entry n jumps through its
// .got.plt word, which first leads to the push of n and a jump to entry
// 0.
type PLT struct {
	Hdr     layout.Header
	Entries []*resolve.Symbol
	gotplt  *GOTPLT
	// sec is .plt.sec when the PLT is IBT-enabled (pltsec.go); nil
	// otherwise.
	sec *PLTSec
}

const pltEntrySize = 16

func newPLT() *PLT {
	return &PLT{Hdr: layout.Header{Name: ".plt", Type: elf.SHT_PROGBITS, Flags: elf.SHF_ALLOC | elf.SHF_EXECINSTR, Align: 16, Entsize: pltEntrySize}}
}

func (p *PLT) Header() *layout.Header { return &p.Hdr }

func (p *PLT) add(s *resolve.Symbol) {
	if s.PLTIndex >= 0 {
		return
	}
	s.PLTIndex = int32(len(p.Entries))
	p.Entries = append(p.Entries, s)
	p.Hdr.Size = uint64(len(p.Entries)+1) * pltEntrySize
}

func (p *PLT) entryAddr(i int) uint64 { return p.Hdr.Addr + uint64(i+1)*pltEntrySize }

func (p *PLT) placed() {
	for i, s := range p.Entries {
		s.PLTAddr = p.callAddr(i)
	}
}

// callAddr is where calls to entry i go: the entry, or its .plt.sec
// entry when the PLT is IBT-enabled.
func (p *PLT) callAddr(i int) uint64 {
	if p.sec != nil {
		return p.sec.Hdr.Addr + uint64(i)*pltEntrySize
	}
	return p.entryAddr(i)
}

// lazyAddr is where entry i's .got.plt word first leads: the push of i,
// after the jump through the word (or the entry's endbr64, which the
// indirect jump needs, in an IBT-enabled PLT).
func (p *PLT) lazyAddr(i int) uint64 {
	if p.sec != nil {
		return p.entryAddr(i)
	}
	return p.entryAddr(i) + 6
}

func (p *PLT) Write(b []byte) {
	got := p.gotplt.Hdr.Addr
	// pushq GOT+8(%rip); jmpq *GOT+16(%rip); nopl 0(%rax)
	copy(b, []byte{0xff, 0x35, 0, 0, 0, 0, 0xff, 0x25, 0, 0, 0, 0, 0x0f, 0x1f, 0x40, 0x00})
	le.PutUint32(b[2:], uint32(got+8-(p.Hdr.Addr+6)))
	le.PutUint32(b[8:], uint32(got+16-(p.Hdr.Addr+12)))
	if p.sec != nil {
		p.writeIBT(b)
		return
	}
	for i := range p.Entries {
		e := b[(i+1)*pltEntrySize:]
		at := p.entryAddr(i)
		slot := got + uint64(gotPLTReserved+i)*8
		// jmpq *slot(%rip); pushq $i; jmpq PLT0
		copy(e, []byte{0xff, 0x25, 0, 0, 0, 0, 0x68, 0, 0, 0, 0, 0xe9, 0, 0, 0, 0})
		le.PutUint32(e[2:], uint32(slot-(at+6)))
		le.PutUint32(e[7:], uint32(i))
		le.PutUint32(e[12:], uint32(p.Hdr.Addr-(at+16)))
	}
}

// RelaPLT is .rela.plt: a JUMP_SLOT relocation per PLT entry.
type RelaPLT struct {
	Hdr layout.Header
	plt *PLT
}

// newRelaPLT makes .rela.plt; link is .dynsym, or in a static executable
// (whose .rela.plt has only IRELATIVE relocations, run by the C
// library's start-up between __rela_iplt_start and __rela_iplt_end)
// nil.
func newRelaPLT(link layout.Chunk, gotplt *GOTPLT, plt *PLT) *RelaPLT {
	return &RelaPLT{Hdr: layout.Header{Name: ".rela.plt", Type: elf.SHT_RELA, Flags: elf.SHF_ALLOC | elf.SHF_INFO_LINK, Align: 8, Entsize: relaSize, Link: link, InfoChunk: gotplt}, plt: plt}
}

func (r *RelaPLT) Header() *layout.Header { return &r.Hdr }

func (r *RelaPLT) size() { r.Hdr.Size = uint64(len(r.plt.Entries)) * relaSize }

func (r *RelaPLT) Write(b []byte) {
	got := r.plt.gotplt.Hdr.Addr
	for i, s := range r.plt.Entries {
		slot := got + uint64(gotPLTReserved+i)*8
		if s.LocalIFunc() {
			object.PutRela(b[i*relaSize:], object.Rela{Off: slot, Type: elf.R_X86_64_IRELATIVE, Addend: int64(s.DefAddr())})
			continue
		}
		object.PutRela(b[i*relaSize:], object.Rela{Off: slot, Type: elf.R_X86_64_JMP_SLOT, Sym: uint32(s.DynIndex)})
	}
}

// GOTNow is .got under -z now, as GNU ld lays it out: .got.plt's words
// (the dynamic linker's three and the PLT's, all bound at load time and
// protected by RELRO with the rest) and then .got's entries, in one
// section; _GLOBAL_OFFSET_TABLE_ and DT_PLTGOT are its start. The two
// parts keep their own types, placed inside it (placed).
type GOTNow struct {
	Hdr     layout.Header
	plt     *GOTPLT
	got     *GOT
	withPLT bool // the output has .got.plt's words
}

func newGOTNow(plt *GOTPLT, got *GOT) *GOTNow {
	return &GOTNow{Hdr: layout.Header{Name: ".got", Type: elf.SHT_PROGBITS, Flags: elf.SHF_ALLOC | elf.SHF_WRITE, Align: 8, Entsize: 8}, plt: plt, got: got}
}

func (g *GOTNow) Header() *layout.Header {
	g.Hdr.Size = g.got.Hdr.Size
	if g.withPLT {
		g.Hdr.Size += g.plt.Hdr.Size
	}
	return &g.Hdr
}

// placed places the parts in the section.
func (g *GOTNow) placed() {
	h, at := &g.Hdr, uint64(0)
	if g.withPLT {
		g.plt.Hdr.Addr, g.plt.Hdr.Offset, g.plt.Hdr.Index = h.Addr, h.Offset, h.Index
		at = g.plt.Hdr.Size
	}
	g.got.Hdr.Addr, g.got.Hdr.Offset, g.got.Hdr.Index = h.Addr+at, h.Offset+at, h.Index
}

// Write writes both parts; out is the whole output file.
func (g *GOTNow) Write(out []byte) {
	if g.withPLT {
		g.plt.Write(out[g.plt.Hdr.Offset : g.plt.Hdr.Offset+g.plt.Hdr.Size])
	}
	g.got.Write(out)
}
