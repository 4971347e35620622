package synth

import (
	"debug/elf"
	"slices"

	"github.com/ldgo/ldgo/link/input"
	"github.com/ldgo/ldgo/link/layout"
)

// Interp is .interp: the dynamic linker's path.
type Interp struct {
	Hdr  layout.Header
	Path string
}

func newInterp(path string) *Interp {
	return &Interp{Hdr: layout.Header{Name: ".interp", Type: elf.SHT_PROGBITS, Flags: elf.SHF_ALLOC, Align: 1, Size: uint64(len(path) + 1)}, Path: path}
}

func (s *Interp) Header() *layout.Header { return &s.Hdr }
func (s *Interp) Write(b []byte)         { copy(b, s.Path) }

// BuildID is .note.gnu.build-id. Its descriptor is computed over the
// whole output once written, with the descriptor itself zero (as GNU ld
// computes it); Write leaves it zero.
type BuildID struct {
	Hdr   layout.Header
	Style string // sha1, md5, uuid, or 0x hex
	Size  int    // of the descriptor
}

const ntGNUBuildID = 3

func newBuildID(style string) *BuildID {
	n := 20
	switch {
	case style == "md5" || style == "uuid":
		n = 16
	case len(style) > 2 && style[:2] == "0x":
		n = (len(style) - 2) / 2
	}
	return &BuildID{Hdr: layout.Header{Name: ".note.gnu.build-id", Type: elf.SHT_NOTE, Flags: elf.SHF_ALLOC, Align: 4, Size: uint64(16 + align4(n))}, Style: style, Size: n}
}

func (s *BuildID) Header() *layout.Header { return &s.Hdr }

func (s *BuildID) Write(b []byte) {
	le.PutUint32(b, 4)
	le.PutUint32(b[4:], uint32(s.Size))
	le.PutUint32(b[8:], ntGNUBuildID)
	copy(b[12:], "GNU\x00")
}

// DescOffset is the descriptor's offset in the section.
func (s *BuildID) DescOffset() uint64 { return 16 }

func align4(n int) int { return (n + 3) &^ 3 }

// Property is .note.gnu.property: the GNU properties of the output, the
// inputs' combined. For an x86 feature word that is an AND (IBT, SHSTK)
// every input must have it; for the ISA words that are ORs (the ISA
// level needed) any input's bits count.
type Property struct {
	Hdr   layout.Header
	props []input.Property
}

const (
	gnuPropertyX86UInt32AndLo  = 0xc0000002
	gnuPropertyX86UInt32AndHi  = 0xc0007fff
	gnuPropertyX86UInt32OrLo   = 0xc0008000
	gnuPropertyX86UInt32OrHi   = 0xc000ffff
	gnuPropertyX86Feature1And  = 0xc0000002
	gnuPropertyX86Feature1IBT  = 1
	gnuPropertyX86Feature1SHSK = 2
)

// newProperty combines the objects' properties; it returns nil when the
// output has none.
func newProperty(objs []*input.Object, ibt, shstk bool) *Property {
	isAnd := func(t uint32) bool { return t >= gnuPropertyX86UInt32AndLo && t <= gnuPropertyX86UInt32AndHi }
	isOr := func(t uint32) bool { return t >= gnuPropertyX86UInt32OrLo && t <= gnuPropertyX86UInt32OrHi }
	vals := map[uint32]uint32{}
	count := map[uint32]int{} // objects having an AND property
	var order []uint32
	for _, o := range objs {
		for _, p := range o.Properties {
			if len(p.Data) != 4 || !isAnd(p.Type) && !isOr(p.Type) {
				continue
			}
			v := le.Uint32(p.Data)
			if _, ok := vals[p.Type]; !ok {
				order = append(order, p.Type)
				vals[p.Type] = v
			} else if isAnd(p.Type) {
				vals[p.Type] &= v
			} else {
				vals[p.Type] |= v
			}
			count[p.Type]++
		}
	}
	for t := range vals {
		if isAnd(t) && count[t] < len(objs) {
			vals[t] = 0 // an object without it has none of its features
		}
	}
	if ibt || shstk {
		t := uint32(gnuPropertyX86Feature1And)
		if _, ok := vals[t]; !ok {
			order = append(order, t)
		}
		if ibt {
			vals[t] |= gnuPropertyX86Feature1IBT
		}
		if shstk {
			vals[t] |= gnuPropertyX86Feature1SHSK
		}
	}
	slices.Sort(order)
	p := &Property{Hdr: layout.Header{Name: ".note.gnu.property", Type: elf.SHT_NOTE, Flags: elf.SHF_ALLOC, Align: 8}}
	for _, t := range order {
		if vals[t] == 0 {
			continue
		}
		d := make([]byte, 4)
		le.PutUint32(d, vals[t])
		p.props = append(p.props, input.Property{Type: t, Data: d})
	}
	if len(p.props) == 0 {
		return nil
	}
	p.Hdr.Size = 16 + uint64(len(p.props))*16
	return p
}

func (s *Property) Header() *layout.Header { return &s.Hdr }

func (s *Property) Write(b []byte) {
	le.PutUint32(b, 4)
	le.PutUint32(b[4:], uint32(len(s.props)*16))
	le.PutUint32(b[8:], 5) // NT_GNU_PROPERTY_TYPE_0
	copy(b[12:], "GNU\x00")
	for i, p := range s.props {
		e := b[16+16*i:]
		le.PutUint32(e, p.Type)
		le.PutUint32(e[4:], uint32(len(p.Data)))
		copy(e[8:], p.Data)
	}
}
