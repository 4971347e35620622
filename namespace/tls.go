package namespace

import (
	"strconv"
	"strings"

	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/object"
)

// tcbAlignment is x86-64's TCB_ALIGNMENT.
const tcbAlignment = 64

// assignTLS gives an object with a PT_TLS segment the next module id, in
// load order (the program's is 1), as glibc numbers them.
func (ns *Namespace) assignTLS(m *linkmap.Map) {
	if m.Obj == nil || m.Obj.TLS == nil || m.TLSModID != 0 {
		return
	}
	ns.tlsNext++
	m.TLSModID = ns.tlsNext
}

// LayoutStaticTLS places the TLS blocks of the objects loaded at start-up
// below the thread pointer, as StaticTLSLayout does, and records each
// one's offset. It returns the static TLS size used and the largest
// alignment.
func (ns *Namespace) LayoutStaticTLS() (used, maxAlign uint64) {
	var maps []*linkmap.Map
	var blocks []*object.TLS
	for _, m := range ns.Chain {
		if m.Faked || m.Obj == nil || m.Obj.TLS == nil || m.HasStaticTLS {
			continue
		}
		maps, blocks = append(maps, m), append(blocks, m.Obj.TLS)
	}
	offs, st := StaticTLSLayout(blocks, 0)
	for i, m := range maps {
		m.TLSOffset, m.HasStaticTLS = offs[i], true
	}
	return st.Used, st.Align
}

// StaticTLS is the static TLS of a process as glibc 2.36 accounts for it
// (TLS_TCB_AT_TP: blocks below the thread pointer, at offsets counted
// down from it): the blocks of the objects loaded at start-up, then a
// surplus, where objects loaded later that need static TLS take room
// while there is some.
type StaticTLS struct {
	Used  uint64 // dl_tls_static_used: the offset below which room is free
	End   uint64 // dl_tls_static_size less the TCB: where the surplus ends
	Align uint64 // dl_tls_static_align: the thread pointer's alignment
}

// StaticTLSLayout places blocks, the TLS segments of the objects loaded
// at start-up in module-id order (the program's first), as glibc's
// _dl_determine_tlsoffset does: each at the lowest offset that fits its
// size and alignment, reusing a gap alignment left before, with surplus
// bytes of room left after them. It returns each block's offset (the
// block starts that far below the thread pointer).
func StaticTLSLayout(blocks []*object.TLS, surplus uint64) ([]uint64, StaticTLS) {
	maxAlign := uint64(tcbAlignment)
	var freeTop, freeBottom, offset uint64
	offs := make([]uint64, len(blocks))
	for i, t := range blocks {
		align := max(t.Align, 1)
		firstByte := -t.FirstByte & (align - 1)
		maxAlign = max(maxAlign, align)
		if freeBottom-freeTop >= t.BlockSize {
			off := roundUp(freeTop+t.BlockSize-firstByte, align) + firstByte
			if off <= freeBottom {
				freeTop = off
				offs[i] = off
				continue
			}
		}
		off := roundUp(offset+t.BlockSize-firstByte, align) + firstByte
		if off > offset+t.BlockSize+(freeBottom-freeTop) {
			freeTop = offset
			freeBottom = off - t.BlockSize
		}
		offset = off
		offs[i] = off
	}
	return offs, StaticTLS{Used: offset, End: roundUp(offset+surplus, maxAlign), Align: maxAlign}
}

// Allocate finds room for the block of an object loaded after start-up
// that needs static TLS, as glibc's _dl_try_allocate_static_tls does, and
// returns its offset; false when glibc fails with "cannot allocate memory
// in static TLS block": the alignment is more than the thread pointer's,
// or the rest of the surplus is too small.
func (s *StaticTLS) Allocate(t *object.TLS) (uint64, bool) {
	align := max(t.Align, 1)
	if align > s.Align || s.End < s.Used {
		return 0, false
	}
	free := s.End - s.Used
	size := t.BlockSize + t.FirstByte
	if free < size {
		return 0, false
	}
	n := (free - size) / align
	off := s.Used + free - n*align - t.FirstByte
	s.Used = off
	return off, true
}

// glibc's surplus of static TLS (elf/dl-tls.c): room for the
// initial-exec TLS of libc and of other libraries in each namespace, and
// the part dlopen'ed objects may take to speed up dynamic TLS.
const (
	libcIETLS   = 144
	otherIETLS  = 144
	defaultNNS  = 4
	maxNNS      = 16 // DL_NNS
	optionalTLS = 512
	legacyTLS   = 1664 - ((defaultNNS-1)*libcIETLS + defaultNNS*otherIETLS + optionalTLS)
)

// StaticTLSSurplus is glibc's dl_tls_static_surplus for a process whose
// environment holds tunables (GLIBC_TUNABLES' value, "" without):
// glibc.rtld.nns and glibc.rtld.optional_static_tls change it.
func StaticTLSSurplus(tunables string) uint64 {
	nns, opt := uint64(defaultNNS), uint64(optionalTLS)
	for _, t := range strings.Split(tunables, ":") {
		name, val, ok := strings.Cut(t, "=")
		if !ok {
			continue
		}
		v, ok := tunableNumber(val)
		if !ok {
			continue
		}
		switch name {
		case "glibc.rtld.nns":
			if v >= 1 && v <= maxNNS {
				nns = v
			}
		case "glibc.rtld.optional_static_tls":
			opt = v
		}
	}
	return (nns-1)*libcIETLS + nns*otherIETLS + opt + legacyTLS
}

// tunableNumber reads a tunable's value as glibc does: hexadecimal after
// 0x, octal after 0, decimal otherwise, the whole value or nothing.
// (glibc also ignores a value outside a tunable's range.)
func tunableNumber(s string) (uint64, bool) {
	base := 10
	switch {
	case len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X"):
		s, base = s[2:], 16
	case len(s) > 1 && s[0] == '0':
		s, base = s[1:], 8
	}
	v, err := strconv.ParseUint(s, base, 64)
	return v, err == nil
}

func roundUp(x, align uint64) uint64 { return (x + align - 1) / align * align }
