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
	// EhFrame is .rela.eh_frame: every relocation of the input
	// .eh_frame sections with records in the output (EhSections, in
	// order; at says where each section's start), those of the
	// records the output does not have (dropped FDEs, CIEs written
	// once) R_X86_64_NONE, as GNU ld keeps them.
	EhFrame    *RelaSection
	EhSections []*input.Section
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
	// An input .eh_frame none of whose records is written is left out
	// whole, as GNU ld leaves it.
	written := map[*input.Section]bool{}
	for _, r := range s.EhFrame.Records {
		written[r.Sec] = true
	}
	var n uint64
	for _, f := range s.res.Files {
		for _, sec := range f.Sections {
			if written[sec] && sec.Relocs != nil {
				e.at[sec] = n
				e.EhSections = append(e.EhSections, sec)
				n += uint64(sec.Relocs.Len())
			}
		}
	}
	if n > 0 && s.EhFrame.FDEs > 0 {
		e.EhFrame = newRelaSection(s.EhFrame, s.Symtab, n)
		e.Sections = append(e.Sections, e.EhFrame)
		for _, sec := range e.EhSections {
			e.of[sec] = e.EhFrame
		}
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

// ForRelocs returns where sec's kept relocations lo..hi go in out: nil
// if there are none.
func (e *EmitRelocs) ForRelocs(out []byte, sec *input.Section, lo, hi int) []byte {
	b := e.For(out, sec)
	if b == nil {
		return nil
	}
	return b[lo*relaSize : hi*relaSize]
}
