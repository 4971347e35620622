package namespace_test

import (
	"testing"

	"github.com/ldgo/ldgo/namespace"
	"github.com/ldgo/ldgo/object"
)

// glibcOffset is where glibc 2.36's _dl_determine_tlsoffset (TLS variant
// II, elf/dl-tls.c) puts a block below the static TLS used so far, when
// no gap left by an earlier block's alignment takes it:
//
//	firstbyte = (-l_tls_firstbyte_offset) & (l_tls_align - 1)
//	off = roundup (offset + l_tls_blocksize - firstbyte, l_tls_align) + firstbyte
func glibcOffset(offset uint64, t *object.TLS) uint64 {
	align := max(t.Align, 1)
	firstbyte := -t.FirstByte & (align - 1)
	return (offset+t.BlockSize-firstbyte+align-1)/align*align + firstbyte
}

// TestStaticTLSFormula: a block laid out below top bytes already used
// (one block of alignment 1, which leaves no gap) goes where glibc's
// formula puts it, aligned and clear of what is used; the thread
// pointer's alignment is the largest of the blocks' and the TCB's (64).
func TestStaticTLSFormula(t *testing.T) {
	for _, tc := range []struct {
		name      string
		top       uint64
		tls       object.TLS
		wantAlign uint64
	}{
		{"the first block", 0, object.TLS{BlockSize: 116, Align: 16}, 64},
		{"below another, aligned", 128, object.TLS{BlockSize: 56, Align: 32}, 64},
		{"an alignment of 1", 3, object.TLS{BlockSize: 5, Align: 1}, 64},
		{"no alignment given", 3, object.TLS{BlockSize: 5}, 64},
		{"a first byte past an aligned address", 100, object.TLS{BlockSize: 40, Align: 32, FirstByte: 8}, 64},
		{"a first byte at the block's size", 0, object.TLS{BlockSize: 24, Align: 64, FirstByte: 24}, 64},
		{"more aligned than the TCB", 10, object.TLS{BlockSize: 8, Align: 4096}, 4096},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blocks := []*object.TLS{{BlockSize: tc.top, Align: 1}, &tc.tls}
			if tc.top == 0 {
				blocks = blocks[1:]
			}
			offs, st := namespace.StaticTLSLayout(blocks, 0)
			off := offs[len(offs)-1]
			if want := glibcOffset(tc.top, &tc.tls); off != want {
				t.Errorf("block at %d below the thread pointer, glibc's layout puts it at %d", off, want)
			}
			if off < tc.top+tc.tls.BlockSize || (off+tc.tls.FirstByte)%max(tc.tls.Align, 1) != 0 {
				t.Errorf("block at %d overlaps the %d bytes used or is misaligned", off, tc.top)
			}
			if st.Used != off || st.Align != tc.wantAlign {
				t.Errorf("used %d, thread pointer aligned to %d; want %d and %d", st.Used, st.Align, off, tc.wantAlign)
			}
		})
	}
}
