package namespace

import "github.com/ldgo/ldgo/linkmap"

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
// below the thread pointer, in chain order, with glibc's
// _dl_determine_tlsoffset for TLS_TCB_AT_TP: each block at the lowest
// offset that fits its size and alignment, reusing the gaps alignment
// leaves. It returns the static TLS size used and the largest alignment.
func (ns *Namespace) LayoutStaticTLS() (used, maxAlign uint64) {
	maxAlign = tcbAlignment
	var freeTop, freeBottom, offset uint64
	for _, m := range ns.Chain {
		if m.Faked || m.Obj == nil || m.Obj.TLS == nil || m.HasStaticTLS {
			continue
		}
		t := m.Obj.TLS
		align := max(t.Align, 1)
		firstByte := -t.FirstByte & (align - 1)
		maxAlign = max(maxAlign, align)
		if freeBottom-freeTop >= t.BlockSize {
			off := roundUp(freeTop+t.BlockSize-firstByte, align) + firstByte
			if off <= freeBottom {
				freeTop = off
				m.TLSOffset, m.HasStaticTLS = off, true
				continue
			}
		}
		off := roundUp(offset+t.BlockSize-firstByte, align) + firstByte
		if off > offset+t.BlockSize+(freeBottom-freeTop) {
			freeTop = offset
			freeBottom = off - t.BlockSize
		}
		offset = off
		m.TLSOffset, m.HasStaticTLS = off, true
	}
	return offset, maxAlign
}

func roundUp(x, align uint64) uint64 { return (x + align - 1) / align * align }
