package layout

import (
	"cmp"
	"debug/elf"
	"slices"
	"unsafe"

	"github.com/ldgo/ldgo/link/input"
)

// merged is the link editor's object for the sections it makes of
// merged ones.
var merged = &input.Object{Name: "<merged>"}

// piece maps a piece of an input section to its place in the merged
// section.
type piece struct{ in, out uint64 }

// Merge replaces the SHF_MERGE members of each output section by one
// section of their pieces (NUL-terminated strings, or constants of
// sh_entsize bytes), each distinct piece once, as GNU ld merges them.
// Symbols in the merged sections keep their places through the input
// sections' Placement; a relocation against a merged section's symbol
// maps the symbol's value plus its addend (MergedOffset).
func Merge(sections []*Section) {
	for _, o := range sections {
		type key struct {
			entsize, align uint64
			strings        bool
		}
		keyOf := func(m *input.Section) key { return key{m.Entsize, m.Align, m.Flags&elf.SHF_STRINGS != 0} }
		groups := map[key]*mergeGroup{}
		var members []*input.Section
		// Each group's buffer and index are sized once for all its
		// inputs' bytes: grown as they came, they were a third of
		// the merging.
		sizes := map[key]int{}
		for _, m := range o.Members {
			if mergeable(m) {
				sizes[keyOf(m)] += len(m.Data)
			}
		}
		for _, m := range o.Members {
			if !mergeable(m) {
				members = append(members, m)
				continue
			}
			k := keyOf(m)
			g := groups[k]
			if g == nil {
				g = &mergeGroup{index: make(map[string]uint64, sizes[k]/32), align: m.Align, data: make([]byte, 0, sizes[k]),
					out: &input.Section{File: merged, Name: m.Name, Type: m.Type, Flags: m.Flags, Align: m.Align, Entsize: m.Entsize, InOutput: true, Generated: true}}
				groups[k] = g
				members = append(members, g.out)
			}
			g.add(m)
		}
		if len(groups) == 0 {
			continue
		}
		for _, g := range groups {
			g.out.Data = g.data
			g.out.Size = uint64(len(g.data))
			g.out.Merged = g.inputs
		}
		o.Members = members
		o.pack()
	}
}

// mergeable says a section's contents can be split into pieces.
func mergeable(s *input.Section) bool {
	if s.Flags&elf.SHF_MERGE == 0 || s.Entsize == 0 || s.Relocs != nil || s.Type == elf.SHT_NOBITS || s.Size%s.Entsize != 0 {
		return false
	}
	if s.Flags&elf.SHF_STRINGS != 0 {
		// The last string must be terminated.
		n := s.Entsize
		end := s.Data[len(s.Data)-int(n):]
		for _, c := range end {
			if c != 0 {
				return false
			}
		}
	}
	return len(s.Data) > 0
}

type mergeGroup struct {
	out    *input.Section
	data   []byte
	index  map[string]uint64
	align  uint64
	inputs []*input.Section
}

func (g *mergeGroup) add(s *input.Section) {
	n := s.Entsize
	guess := uint64(len(s.Data)) / n
	if s.Flags&elf.SHF_STRINGS != 0 {
		guess /= 16 // strings of C programs average about that
	}
	pieces := make([]piece, 0, guess+1)
	for off := uint64(0); off < uint64(len(s.Data)); {
		end := off + n
		if s.Flags&elf.SHF_STRINGS != 0 {
			for end = off; end+n <= uint64(len(s.Data)); end += n {
				if allZero(s.Data[end : end+n]) {
					break
				}
			}
			end += n
		}
		// The key is the input's own bytes, which stay as they are
		// (mapped read-only) for the whole link: no copy per piece.
		p := unsafe.String(&s.Data[off], end-off)
		at, ok := g.index[p]
		if !ok {
			for uint64(len(g.data))%g.align != 0 {
				g.data = append(g.data, 0)
			}
			at = uint64(len(g.data))
			g.data = append(g.data, p...)
			g.index[p] = at
		}
		pieces = append(pieces, piece{off, at})
		off = end
	}
	s.InOutput = true
	g.inputs = append(g.inputs, s)
	out := g.out
	s.Placement = func(off uint64) uint64 {
		i, found := slices.BinarySearchFunc(pieces, off, func(p piece, off uint64) int { return cmp.Compare(p.in, off) })
		if !found {
			i--
		}
		if i < 0 {
			return out.Addr
		}
		return out.Addr + pieces[i].out + off - pieces[i].in
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
