package synth

import (
	"debug/elf"
	"encoding/binary"
	"slices"

	"github.com/ldgo/ldgo/link/layout"
)

var le = binary.LittleEndian

// StrTab is a string table (.dynstr, .strtab, .shstrtab): each string
// once, NUL-terminated, offset 0 the empty string.
type StrTab struct {
	Hdr   layout.Header
	buf   []byte
	index map[string]uint32
}

func newStrTab(name string, alloc bool) *StrTab {
	t := &StrTab{Hdr: layout.Header{Name: name, Type: elf.SHT_STRTAB, Align: 1}, buf: []byte{0}, index: map[string]uint32{"": 0}}
	if alloc {
		t.Hdr.Flags = elf.SHF_ALLOC
	}
	t.Hdr.Size = 1
	return t
}

func (t *StrTab) Header() *layout.Header { return &t.Hdr }

// Reserve makes room for n more strings of size bytes in all.
func (t *StrTab) Reserve(n, size int) {
	t.buf = slices.Grow(t.buf, size)
	if len(t.index) <= 1 {
		index := make(map[string]uint32, len(t.index)+n)
		for s, off := range t.index {
			index[s] = off
		}
		t.index = index
	}
}

// Add returns the offset of s, adding it if it is new.
func (t *StrTab) Add(s string) uint32 {
	if off, ok := t.index[s]; ok {
		return off
	}
	off := uint32(len(t.buf))
	t.buf = append(t.buf, s...)
	t.buf = append(t.buf, 0)
	t.index[s] = off
	t.Hdr.Size = uint64(len(t.buf))
	return off
}

// Offset returns the offset of a string already added.
func (t *StrTab) Offset(s string) uint32 { return t.index[s] }

func (t *StrTab) Write(b []byte) { copy(b, t.buf) }
