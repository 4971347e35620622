package synth

import (
	"cmp"
	"debug/elf"
	"slices"

	"github.com/ldgo/ldgo/link/input"
	"github.com/ldgo/ldgo/link/layout"
	"github.com/ldgo/ldgo/link/resolve"
	"github.com/ldgo/ldgo/link/scan"
)

// EhFrame is the output .eh_frame: the inputs' CIEs and FDEs, with the
// FDEs of code not in the output left out, CIEs that are the same bytes
// with the same relocations written once, and one terminator at the end.
type EhFrame struct {
	Hdr     layout.Header
	Records []EhRecord
	FDEs    int
}

// EhRecord is a record placed in the output.
type EhRecord struct {
	File *resolve.File
	Sec  *input.Section
	Rec  *input.EhRecord
	Off  uint64 // in the output .eh_frame
	// CIEOff is an FDE's CIE in the output .eh_frame.
	CIEOff uint64
}

func newEhFrame() *EhFrame {
	return &EhFrame{Hdr: layout.Header{Name: ".eh_frame", Type: elf.SHT_PROGBITS, Flags: elf.SHF_ALLOC, Align: 8}}
}

func (e *EhFrame) Header() *layout.Header { return &e.Hdr }

// cieKey identifies a CIE by its bytes and what its relocations refer to.
func cieKey(f *resolve.File, sec *input.Section, rec *input.EhRecord) string {
	b := append([]byte(nil), sec.Data[rec.Off:rec.Off+rec.Size]...)
	for i := rec.RelocLo; i < rec.RelocHi; i++ {
		r := sec.Relocs.At(i)
		sym := f.Syms[r.Sym]
		b = le.AppendUint64(b, r.Off-uint64(rec.Off))
		b = le.AppendUint32(b, uint32(r.Type))
		b = le.AppendUint64(b, uint64(r.Addend))
		if sym.Local {
			// A local symbol (a section) is its object's own.
			b = append(b, f.Name...)
			b = append(b, 0)
		}
		b = append(b, sym.Name...)
		b = append(b, 0)
	}
	return string(b)
}

// build places the records of the files' .eh_frame sections.
func (e *EhFrame) build(files []*resolve.File) {
	cies := map[string]uint64{}
	var off uint64
	for _, f := range files {
		for _, sec := range f.Sections {
			if sec == nil || sec.Discarded || sec.Name != ".eh_frame" || sec.Type == elf.SHT_NOBITS {
				continue
			}
			placed := make(map[uint32]uint64) // input offset → output offset
			local := map[uint32]uint64{}      // this section's CIEs, placed
			start := off
			for i := range sec.EhRecords {
				rec := &sec.EhRecords[i]
				if rec.CIE {
					continue
				}
				if !scan.FDELive(f, sec, *rec) {
					continue
				}
				cieOut, ok := local[rec.CIEOff]
				if !ok {
					ci := slices.IndexFunc(sec.EhRecords, func(r input.EhRecord) bool { return r.Off == rec.CIEOff })
					cie := &sec.EhRecords[ci]
					key := cieKey(f, sec, cie)
					if at, dup := cies[key]; dup {
						cieOut = at
					} else {
						cieOut = off
						cies[key] = off
						e.Records = append(e.Records, EhRecord{File: f, Sec: sec, Rec: cie, Off: off})
						off += uint64(cie.Size)
					}
					local[rec.CIEOff] = cieOut
					placed[rec.CIEOff] = cieOut
				}
				e.Records = append(e.Records, EhRecord{File: f, Sec: sec, Rec: rec, Off: off, CIEOff: cieOut})
				placed[rec.Off] = off
				off += uint64(rec.Size)
				e.FDEs++
			}
			sec.Placement = e.placement(sec, placed, start)
			sec.InOutput = true
		}
	}
	e.Hdr.Size = off + 4
}

// placement maps an offset of an input .eh_frame (a symbol in it) to its
// output address. An offset in no record kept is where the section's
// next record would be: crtbeginT's __EH_FRAME_BEGIN__ (offset 0 of an
// empty .eh_frame) is the start of the records after it, which a static
// program's unwinder walks from there.
func (e *EhFrame) placement(sec *input.Section, placed map[uint32]uint64, start uint64) func(uint64) uint64 {
	return func(off uint64) uint64 {
		at := start
		for _, r := range sec.EhRecords {
			out, ok := placed[r.Off]
			switch {
			case off >= uint64(r.Off) && off < uint64(r.Off+r.Size) && ok:
				return e.Hdr.Addr + out + off - uint64(r.Off)
			case uint64(r.Off) >= off:
				return e.Hdr.Addr + at
			case ok && out >= at:
				at = out + uint64(r.Size)
			}
		}
		return e.Hdr.Addr + at
	}
}

// EhFrameHdr is .eh_frame_hdr: a pointer to .eh_frame and a table of
// every FDE sorted by the address of its code, for the unwinder's
// binary search (PT_GNU_EH_FRAME).
type EhFrameHdr struct {
	Hdr     layout.Header
	ehFrame *EhFrame
}

// FDE is one entry of the search table.
type FDE struct {
	PC, Addr uint64
}

func newEhFrameHdr(eh *EhFrame) *EhFrameHdr {
	return &EhFrameHdr{Hdr: layout.Header{Name: ".eh_frame_hdr", Type: elf.SHT_PROGBITS, Flags: elf.SHF_ALLOC, Align: 4}, ehFrame: eh}
}

func (h *EhFrameHdr) Header() *layout.Header { return &h.Hdr }

func (h *EhFrameHdr) size() { h.Hdr.Size = 12 + 8*uint64(h.ehFrame.FDEs) }

const (
	dwEhPePcrelSdata4   = 0x1b
	dwEhPeUdata4        = 0x03
	dwEhPeDatarelSdata4 = 0x3b
)

// Write writes the header and the table of fdes (which it sorts).
func (h *EhFrameHdr) Write(b []byte, fdes []FDE) {
	b[0] = 1
	b[1] = dwEhPePcrelSdata4
	b[2] = dwEhPeUdata4
	b[3] = dwEhPeDatarelSdata4
	le.PutUint32(b[4:], uint32(h.ehFrame.Hdr.Addr-(h.Hdr.Addr+4)))
	le.PutUint32(b[8:], uint32(len(fdes)))
	slices.SortFunc(fdes, func(a, b FDE) int { return cmp.Compare(a.PC, b.PC) })
	for i, f := range fdes {
		le.PutUint32(b[12+8*i:], uint32(f.PC-h.Hdr.Addr))
		le.PutUint32(b[16+8*i:], uint32(f.Addr-h.Hdr.Addr))
	}
}
