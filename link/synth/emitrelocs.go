package synth

import (
	"debug/elf"

	"github.com/ldgo/ldgo/link/input"
	"github.com/ldgo/ldgo/link/layout"
)

// EmitRelocs are the relocation sections --emit-relocs keeps in the
// output, as GNU ld does: for each output section made of input
// sections with relocations, .rela<name> with all of them, in member
// order, rewritten to the output's addresses and .symtab (the writer
// fills them, output.Output.relocate, as it applies them).
type EmitRelocs struct {
	Sections []*RelaSection
	// at is where an input section's relocations start in its
	// output section's RelaSection, in entries.
	at map[*input.Section]uint64
	of map[*input.Section]*RelaSection
	// EhFrame is .rela.eh_frame, ehAt each record's first entry in it
	// (the records of EhFrame.Records, which are written in order).
	EhFrame *RelaSection
	ehAt    []uint64
}

// RelaSection is one kept relocation section.
type RelaSection struct{ Hdr layout.Header }

func (r *RelaSection) Header() *layout.Header { return &r.Hdr }

func newRelaSection(target layout.Chunk, symtab *Symtab, n uint64) *RelaSection {
	return &RelaSection{Hdr: layout.Header{Name: ".rela" + target.Header().Name, Type: elf.SHT_RELA, Flags: elf.SHF_INFO_LINK,
		Align: 8, Entsize: relaSize, Size: n * relaSize, Link: symtab, InfoChunk: target}}
}

// buildEmitRelocs sizes the relocation sections of s's output sections
// and of .eh_frame.
func (s *Set) buildEmitRelocs() {
	e := &EmitRelocs{at: map[*input.Section]uint64{}, of: map[*input.Section]*RelaSection{}}
	for _, o := range s.Sections {
		var n uint64
		for _, m := range o.Members {
			if m.Relocs == nil || m.Discarded {
				continue
			}
			e.at[m] = n
			n += uint64(m.Relocs.Len())
		}
		if n == 0 {
			continue
		}
		r := newRelaSection(o, s.Symtab, n)
		for _, m := range o.Members {
			if _, ok := e.at[m]; ok {
				e.of[m] = r
			}
		}
		e.Sections = append(e.Sections, r)
	}
	var n uint64
	for _, rec := range s.EhFrame.Records {
		e.ehAt = append(e.ehAt, n)
		n += uint64(rec.Rec.RelocHi - rec.Rec.RelocLo)
	}
	if n > 0 && s.EhFrame.FDEs > 0 {
		e.EhFrame = newRelaSection(s.EhFrame, s.Symtab, n)
		e.Sections = append(e.Sections, e.EhFrame)
	}
	s.EmitRelocs = e
}

// For returns where the kept relocations of sec go in out: nil if
// there are none.
func (e *EmitRelocs) For(out []byte, sec *input.Section) []byte {
	if e == nil {
		return nil
	}
	r, ok := e.of[sec]
	if !ok || r.Hdr.Index == 0 {
		return nil
	}
	start := r.Hdr.Offset + e.at[sec]*relaSize
	return out[start : start+uint64(sec.Relocs.Len())*relaSize]
}

// ForEhRecord returns where the kept relocations of .eh_frame record i
// (of EhFrame.Records) go in out: nil if there are none.
func (e *EmitRelocs) ForEhRecord(out []byte, i int, n int) []byte {
	if e == nil || e.EhFrame == nil || e.EhFrame.Hdr.Index == 0 {
		return nil
	}
	start := e.EhFrame.Hdr.Offset + e.ehAt[i]*relaSize
	return out[start : start+uint64(n)*relaSize]
}
