package input

import "github.com/ldgo/ldgo/reloc"

// EhRecord is one record of an .eh_frame section: a CIE (common
// information entry) or an FDE (frame description entry, the unwinding
// rules of one function), with the relocations inside it.
type EhRecord struct {
	Off, Size uint32 // in the section, the length field included
	CIE       bool
	// CIEOff is an FDE's CIE, as an offset in the section.
	CIEOff uint32
	// Relocs is the range of the section's relocations inside the
	// record (relocations are sorted by offset).
	RelocLo, RelocHi int
}

// splitEhFrame divides an .eh_frame section into its records. A zero
// length word ends the section's records (crtend's terminator); the
// output gets one terminator of its own.
func (s *Section) splitEhFrame() error {
	d := s.Data
	var prev uint64
	for i := 0; i < s.Relocs.Len(); i++ {
		off := s.Relocs.At(i).Off
		if off < prev {
			return s.File.errorf("%s: relocations are not sorted by offset", s.Name)
		}
		prev = off
	}
	cies := map[uint32]bool{}
	rel := 0
	for off := uint64(0); off < uint64(len(d)); {
		if uint64(len(d))-off < 4 {
			return s.File.errorf("%s: record at %#x truncated", s.Name, off)
		}
		length := uint64(le.Uint32(d[off:]))
		if length == 0 {
			break
		}
		if length == 0xffffffff {
			return s.File.errorf("%s: 64-bit DWARF record at %#x not supported", s.Name, off)
		}
		if length < 4 || length > uint64(len(d))-off-4 {
			return s.File.errorf("%s: record at %#x extends past the section", s.Name, off)
		}
		r := EhRecord{Off: uint32(off), Size: uint32(4 + length)}
		id := le.Uint32(d[off+4:])
		if id == 0 {
			r.CIE = true
			cies[uint32(off)] = true
		} else {
			if uint64(id) > off+4 || !cies[uint32(off+4-uint64(id))] {
				return s.File.errorf("%s: FDE at %#x does not point to a CIE", s.Name, off)
			}
			r.CIEOff = uint32(off + 4 - uint64(id))
			if length < 12 {
				return s.File.errorf("%s: FDE at %#x too short", s.Name, off)
			}
		}
		end := off + 4 + length
		for rel < s.Relocs.Len() && s.Relocs.At(rel).Off < off {
			rel++
		}
		r.RelocLo = rel
		for rel < s.Relocs.Len() && s.Relocs.At(rel).Off < end {
			rr := s.Relocs.At(rel)
			if st, _ := reloc.Static(rr.Type); rr.Off+uint64(st.Size) > end {
				return s.File.errorf("%s: relocation at %#x crosses the end of its record", s.Name, rr.Off)
			}
			rel++
		}
		r.RelocHi = rel
		s.EhRecords = append(s.EhRecords, r)
		off = end
	}
	return nil
}
