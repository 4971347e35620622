package synth

import (
	"debug/elf"
	"math/bits"
	"slices"

	"github.com/ldgo/ldgo/link/layout"
	"github.com/ldgo/ldgo/link/resolve"
	"github.com/ldgo/ldgo/object"
)

// DynSym is .dynsym: the symbols the output exports and imports. The
// ones a lookup can find (definitions, and canonical PLT entries, which
// glibc treats as definitions for non-PLT lookups) come last, ordered by
// GNU hash bucket as .gnu.hash requires.
type DynSym struct {
	Hdr    layout.Header
	Syms   []*resolve.Symbol // index i+1
	names  []uint32
	hashes []uint32 // GNU hashes of the hashed part
	// FirstHashed is the dynamic symbol index of the first hashed one.
	FirstHashed int
	nbuckets    uint32
	strtab      *StrTab
	tlsStart    uint64
}

// Hashed reports whether a lookup can find sym in the output.
func Hashed(s *resolve.Symbol) bool {
	return s.Exported || s.CopyReloc || s.CanonicalPLT
}

func newDynSym(strtab *StrTab) *DynSym {
	return &DynSym{Hdr: layout.Header{Name: ".dynsym", Type: elf.SHT_DYNSYM, Flags: elf.SHF_ALLOC, Align: 8, Entsize: object.SymSize, Info: 1, Link: strtab, KeepEmpty: true}, strtab: strtab}
}

func (d *DynSym) Header() *layout.Header { return &d.Hdr }

// build orders syms, gives each its index and names them in the string
// table; gnuBuckets says whether .gnu.hash is written (and so the order
// matters).
func (d *DynSym) build(syms []*resolve.Symbol, gnu bool) {
	var unhashed, hashed []*resolve.Symbol
	for _, s := range syms {
		if Hashed(s) {
			hashed = append(hashed, s)
		} else {
			unhashed = append(unhashed, s)
		}
	}
	d.FirstHashed = 1 + len(unhashed)
	d.nbuckets = gnuBuckets(len(hashed))
	if gnu {
		type hs struct {
			s *resolve.Symbol
			h uint32
		}
		hh := make([]hs, len(hashed))
		for i, s := range hashed {
			hh[i] = hs{s, object.GNUHash(s.NameInDynsym())}
		}
		slices.SortStableFunc(hh, func(a, b hs) int {
			return int(a.h%d.nbuckets) - int(b.h%d.nbuckets)
		})
		for i := range hh {
			hashed[i] = hh[i].s
			d.hashes = append(d.hashes, hh[i].h)
		}
	}
	d.Syms = append(unhashed, hashed...)
	for i, s := range d.Syms {
		s.DynIndex = int32(i + 1)
		d.names = append(d.names, d.strtab.Add(s.NameInDynsym()))
	}
	d.Hdr.Size = uint64(len(d.Syms)+1) * object.SymSize
}

func (d *DynSym) Write(b []byte) {
	for i, s := range d.Syms {
		e := outSymbol(s, d.tlsStart)
		// Of the visibilities, only protected is in .dynsym.
		if s.Vis != elf.STV_PROTECTED || !(s.DefinedHere() || s.CopyReloc) {
			e.other = byte(elf.STV_DEFAULT)
		}
		if !(s.DefinedHere() || s.CopyReloc) && s.CanonicalPLT {
			e.value = s.PLTAddr
		}
		e.put(b[(i+1)*object.SymSize:], d.names[i])
	}
}

// symEntry is an output symbol table entry but its name.
type symEntry struct {
	info, other byte
	shndx       uint16
	value, size uint64
}

// outSymbol is sym's entry in an output symbol table: a definition with
// its address (a TLS symbol's offset in the block, tlsStart its start),
// or an import, weak if all references are and typed by its
// definition (an indirect function is a function to the importer).
func outSymbol(s *resolve.Symbol, tlsStart uint64) symEntry {
	bind, typ := s.Bind, s.Type
	e := symEntry{other: byte(s.Vis)}
	switch {
	case s.Type == elf.STT_FILE:
		e.shndx = uint16(elf.SHN_ABS)
	case s.DefinedHere() || s.CopyReloc:
		e.value, e.size = s.DefAddr(), s.Size
		e.shndx = sectionIndex(s)
		if s.Type == elf.STT_TLS {
			e.value -= tlsStart
		}
	default:
		bind = elf.STB_GLOBAL
		if !s.StrongRef {
			bind = elf.STB_WEAK
		}
		switch {
		case s.Kind == resolve.Undefined:
			typ = elf.STT_NOTYPE
		case typ == elf.STT_GNU_IFUNC:
			typ = elf.STT_FUNC
		}
	}
	if s.Local {
		bind = elf.STB_LOCAL
	}
	e.info = byte(bind)<<4 | byte(typ)&0xf
	return e
}

func (e symEntry) put(b []byte, name uint32) {
	le.PutUint32(b, name)
	b[4], b[5] = e.info, e.other
	le.PutUint16(b[6:], e.shndx)
	le.PutUint64(b[8:], e.value)
	le.PutUint64(b[16:], e.size)
}

// sectionIndex is a defined symbol's st_shndx in the output.
func sectionIndex(s *resolve.Symbol) uint16 {
	switch {
	case s.Absolute():
		return uint16(elf.SHN_ABS)
	case s.Kind == resolve.Linker:
		return uint16(s.OutIndex)
	case s.Section != nil:
		return uint16(s.Section.OutIndex)
	}
	return uint16(elf.SHN_ABS)
}

// gnuBuckets is the number of .gnu.hash buckets for n symbols.
func gnuBuckets(n int) uint32 { return uint32(max(n/4, 1)) }

// GNUHash is .gnu.hash, over DynSym's hashed part with object.GNUHash, the
// function `ldgo run` looks symbols up with.
type GNUHash struct {
	Hdr       layout.Header
	dynsym    *DynSym
	maskWords uint32
}

const gnuHashShift = 26

func newGNUHash(dynsym *DynSym) *GNUHash {
	return &GNUHash{Hdr: layout.Header{Name: ".gnu.hash", Type: elf.SHT_GNU_HASH, Flags: elf.SHF_ALLOC, Align: 8, Link: dynsym, KeepEmpty: true}, dynsym: dynsym}
}

func (g *GNUHash) Header() *layout.Header { return &g.Hdr }

func (g *GNUHash) size() {
	n := len(g.dynsym.hashes)
	g.maskWords = 1
	if words := n * 12 / 64; words > 1 {
		g.maskWords = 1 << bits.Len(uint(words-1))
	}
	g.Hdr.Size = 16 + uint64(g.maskWords)*8 + uint64(g.dynsym.nbuckets)*4 + uint64(n)*4
}

func (g *GNUHash) Write(b []byte) {
	d := g.dynsym
	nb := d.nbuckets
	le.PutUint32(b, nb)
	le.PutUint32(b[4:], uint32(d.FirstHashed))
	le.PutUint32(b[8:], g.maskWords)
	le.PutUint32(b[12:], gnuHashShift)
	bloom := b[16:]
	buckets := bloom[g.maskWords*8:]
	chains := buckets[nb*4:]
	for i, h := range d.hashes {
		w := (h / 64) & (g.maskWords - 1)
		v := le.Uint64(bloom[w*8:])
		v |= 1<<(h%64) | 1<<((h>>gnuHashShift)%64)
		le.PutUint64(bloom[w*8:], v)
		bucket := h % nb
		idx := uint32(d.FirstHashed + i)
		if le.Uint32(buckets[bucket*4:]) == 0 {
			le.PutUint32(buckets[bucket*4:], idx)
		}
		last := i == len(d.hashes)-1 || d.hashes[i+1]%nb != bucket
		c := h &^ 1
		if last {
			c |= 1
		}
		le.PutUint32(chains[i*4:], c)
	}
}

// Hash is .hash, the SysV hash table, with object.SysVHash.
type Hash struct {
	Hdr      layout.Header
	dynsym   *DynSym
	nbuckets uint32
}

func newHash(dynsym *DynSym) *Hash {
	return &Hash{Hdr: layout.Header{Name: ".hash", Type: elf.SHT_HASH, Flags: elf.SHF_ALLOC, Align: 8, Entsize: 4, Link: dynsym, KeepEmpty: true}, dynsym: dynsym}
}

func (h *Hash) Header() *layout.Header { return &h.Hdr }

func (h *Hash) size() {
	n := len(h.dynsym.Syms) + 1
	h.nbuckets = uint32(max(n/2, 1))
	h.Hdr.Size = 8 + uint64(h.nbuckets)*4 + uint64(n)*4
}

func (h *Hash) Write(b []byte) {
	n := uint32(len(h.dynsym.Syms) + 1)
	le.PutUint32(b, h.nbuckets)
	le.PutUint32(b[4:], n)
	buckets := b[8:]
	chains := buckets[h.nbuckets*4:]
	for i, s := range h.dynsym.Syms {
		idx := uint32(i + 1)
		bk := object.SysVHash(s.NameInDynsym()) % h.nbuckets
		le.PutUint32(chains[idx*4:], le.Uint32(buckets[bk*4:]))
		le.PutUint32(buckets[bk*4:], idx)
	}
}
