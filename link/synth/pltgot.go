package synth

import (
	"debug/elf"

	"github.com/ldgo/ldgo/link/layout"
	"github.com/ldgo/ldgo/link/resolve"
)

// PLTGOT is .plt.got, as GNU ld makes it: for a function the output
// both calls through the PLT and loads the address of from the GOT, a
// stub that jumps through that GOT entry (bound at load time by its
// GLOB_DAT relocation) instead of a lazy PLT entry and a .got.plt word:
// jmp *GOT(%rip); xchg %ax,%ax, or endbr64; jmp *GOT(%rip); nopw in an
// IBT-enabled output.
type PLTGOT struct {
	Hdr     layout.Header
	Entries []*resolve.Symbol
	ibt     bool
}

func newPLTGOT(ibt bool) *PLTGOT {
	size := uint64(8)
	if ibt {
		size = 16
	}
	return &PLTGOT{Hdr: layout.Header{Name: ".plt.got", Type: elf.SHT_PROGBITS, Flags: elf.SHF_ALLOC | elf.SHF_EXECINSTR, Align: size, Entsize: size}, ibt: ibt}
}

func (p *PLTGOT) Header() *layout.Header { return &p.Hdr }

// usePLTGOT says whether calls to s go through .plt.got, by GNU ld's
// rule: s would have a PLT entry and has a GOT entry, is not an indirect
// function, and nothing needs its PLT entry as its address (a canonical
// PLT entry, or in an executable a dynamic relocation to the function's
// address, which must compare equal to the executable's).
func (s *Set) usePLTGOT(sym *resolve.Symbol) bool {
	return s.ctx.Dynamic && sym.Preemptible && !sym.CanonicalPLT && sym.Has(resolve.NeedGOT) && !sym.IFunc() &&
		!(!s.ctx.Shared && sym.Has(resolve.NeedDynamic))
}

func (p *PLTGOT) add(s *resolve.Symbol) {
	if s.PLTGOT {
		return
	}
	s.PLTGOT = true
	p.Entries = append(p.Entries, s)
	p.Hdr.Size = uint64(len(p.Entries)) * p.Hdr.Entsize
}

func (p *PLTGOT) placed() {
	for i, s := range p.Entries {
		s.PLTAddr = p.Hdr.Addr + uint64(i)*p.Hdr.Entsize
	}
}

func (p *PLTGOT) Write(b []byte) {
	for i, s := range p.Entries {
		e := b[uint64(i)*p.Hdr.Entsize:]
		at := p.Hdr.Addr + uint64(i)*p.Hdr.Entsize
		if p.ibt {
			// endbr64; jmpq *got(%rip); nopw 0(%rax,%rax,1)
			copy(e, []byte{0xf3, 0x0f, 0x1e, 0xfa, 0xff, 0x25, 0, 0, 0, 0, 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00})
			le.PutUint32(e[6:], uint32(s.GOTAddr-(at+10)))
			continue
		}
		// jmpq *got(%rip); xchg %ax,%ax
		copy(e, []byte{0xff, 0x25, 0, 0, 0, 0, 0x66, 0x90})
		le.PutUint32(e[2:], uint32(s.GOTAddr-(at+6)))
	}
}
