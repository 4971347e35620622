package rtld

import (
	"testing"

	"github.com/ldgo/ldgo/host"
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

// TestStaticBlock: the program's and the libraries' blocks in ldgo's
// static TLS reserve go where glibc's layout puts them, one below the
// other; what does not fit the reserve, or needs more alignment than
// the reserve has (that of glibc's TCB, 64), does not fit.
func TestStaticBlock(t *testing.T) {
	const reserve = host.StaticTLSReserve
	for _, tc := range []struct {
		name string
		top  uint64
		tls  object.TLS
		fits bool
	}{
		{"the program's block, first", 0, object.TLS{BlockSize: 116, Align: 16}, true},
		{"below another, aligned", 128, object.TLS{BlockSize: 56, Align: 32}, true},
		{"an alignment of 1", 3, object.TLS{BlockSize: 5, Align: 1}, true},
		{"no alignment given", 3, object.TLS{BlockSize: 5}, true},
		{"a first byte past an aligned address", 100, object.TLS{BlockSize: 40, Align: 32, FirstByte: 8}, true},
		{"a first byte at the block's size", 0, object.TLS{BlockSize: 24, Align: 64, FirstByte: 24}, true},
		{"filling the reserve", reserve - 64, object.TLS{BlockSize: 64, Align: 64}, true},
		{"past the reserve", reserve - 64, object.TLS{BlockSize: 65, Align: 64}, false},
		{"more aligned than the reserve", 0, object.TLS{BlockSize: 8, Align: 128}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := glibcOffset(tc.top, &tc.tls)
			off, fits := staticBlock(tc.top, &tc.tls)
			if fits != tc.fits {
				t.Errorf("fits %v, want %v", fits, tc.fits)
			}
			if fits && off != want {
				t.Errorf("block at %d below the thread pointer, glibc's layout puts it at %d", off, want)
			}
			if fits && (off < tc.top+tc.tls.BlockSize || (off+tc.tls.FirstByte)%max(tc.tls.Align, 1) != 0) {
				t.Errorf("block at %d overlaps the %d bytes used or is misaligned", off, tc.top)
			}
		})
	}
}
