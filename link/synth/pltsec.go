package synth

import (
	"debug/elf"

	"github.com/ldgo/ldgo/link/layout"
)

// PLTSec is .plt.sec, the second PLT of an IBT-enabled output (-z ibt,
// -z ibtplt, or every input marked IBT), laid out as GNU ld 2.40 does:
// calls go to entry n here, endbr64 and a jump through n's .got.plt word;
// that word first leads to .plt's entry n, endbr64, the push of n and a
// jump to PLT0, which is the lazy PLT's. Every target of an indirect
// jump then starts with endbr64.
type PLTSec struct {
	Hdr layout.Header
	plt *PLT
}

func newPLTSec(plt *PLT) *PLTSec {
	s := &PLTSec{Hdr: layout.Header{Name: ".plt.sec", Type: elf.SHT_PROGBITS, Flags: elf.SHF_ALLOC | elf.SHF_EXECINSTR, Align: 16, Entsize: pltEntrySize}, plt: plt}
	plt.sec = s
	return s
}

func (s *PLTSec) Header() *layout.Header {
	s.Hdr.Size = uint64(len(s.plt.Entries)) * pltEntrySize
	return &s.Hdr
}

func (s *PLTSec) Write(b []byte) {
	got := s.plt.gotplt.Hdr.Addr
	for i := range s.plt.Entries {
		e := b[i*pltEntrySize:]
		at := s.Hdr.Addr + uint64(i)*pltEntrySize
		slot := got + uint64(gotPLTReserved+i)*8
		// endbr64; jmpq *slot(%rip); nopw 0(%rax,%rax,1)
		copy(e, []byte{0xf3, 0x0f, 0x1e, 0xfa, 0xff, 0x25, 0, 0, 0, 0, 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00})
		le.PutUint32(e[6:], uint32(slot-(at+10)))
	}
}

// writeIBT writes the lazy stubs of an IBT-enabled .plt after PLT0:
// endbr64; pushq $i; jmpq PLT0; xchg %ax,%ax.
func (p *PLT) writeIBT(b []byte) {
	for i := range p.Entries {
		e := b[(i+1)*pltEntrySize:]
		at := p.entryAddr(i)
		copy(e, []byte{0xf3, 0x0f, 0x1e, 0xfa, 0x68, 0, 0, 0, 0, 0xe9, 0, 0, 0, 0, 0x66, 0x90})
		le.PutUint32(e[5:], uint32(i))
		le.PutUint32(e[10:], uint32(p.Hdr.Addr-(at+14)))
	}
}

// IBT reports whether the output is marked IBT-enabled; false for nil.
func (s *Property) IBT() bool {
	if s == nil {
		return false
	}
	for _, p := range s.props {
		if p.Type == gnuPropertyX86Feature1And && le.Uint32(p.Data)&gnuPropertyX86Feature1IBT != 0 {
			return true
		}
	}
	return false
}
