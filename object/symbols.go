package object

import (
	"debug/elf"
	"fmt"
)

// Sym is one dynamic symbol table entry.
type Sym struct {
	Name  uint32 // offset in the dynamic string table
	Info  byte
	Other byte
	Shndx elf.SectionIndex
	Value uint64
	Size  uint64
}

// Bind returns the symbol's binding (STB_*).
func (s *Sym) Bind() elf.SymBind { return elf.SymBind(s.Info >> 4) }

// Type returns the symbol's type (STT_*).
func (s *Sym) Type() elf.SymType { return elf.SymType(s.Info & 0xf) }

// Visibility returns the symbol's visibility (STV_*).
func (s *Sym) Visibility() elf.SymVis { return elf.SymVis(s.Other & 3) }

// Undefined reports whether the symbol is a reference, not a definition.
func (s *Sym) Undefined() bool { return s.Shndx == elf.SHN_UNDEF }

// gnuHash is a DT_GNU_HASH table.
type gnuHash struct {
	nbuckets  uint32
	symoffset uint32
	bloomMask uint32 // bloom size - 1 (a power of two)
	shift     uint32
	bloom     []byte
	buckets   []byte
	chains    []byte // from symoffset on
}

// sysvHash is a DT_HASH table.
type sysvHash struct {
	nbuckets uint32
	buckets  []byte
	chains   []byte
}

// GNUHash is the DT_GNU_HASH function of a symbol name.
func GNUHash(name string) uint32 {
	h := uint32(5381)
	for i := 0; i < len(name); i++ {
		h = h*33 + uint32(name[i])
	}
	return h
}

// SysVHash is the DT_HASH (and version-name) hash of a name.
func SysVHash(name string) uint32 {
	var h uint32
	for i := 0; i < len(name); i++ {
		h = h<<4 + uint32(name[i])
		g := h & 0xf0000000
		if g != 0 {
			h ^= g >> 24
		}
		h &^= g
	}
	return h
}

func (o *Object) readSymbols() error {
	d := &o.Dyn
	if d.symtabAddr == 0 {
		return nil
	}
	if d.HasGNUHash {
		if err := o.readGNUHash(d.gnuAddr); err != nil {
			return err
		}
	}
	if d.HasHash {
		if err := o.readSysVHash(d.hashAddr); err != nil {
			return err
		}
	}
	// The symbol count: DT_HASH states it; with only DT_GNU_HASH it is
	// one past the last chain that any bucket reaches. A GNU hash table
	// that hashes nothing (a non-PIE program exports no symbol) says
	// nothing of the undefined symbols above symoffset, and without
	// either table only relocations reference symbols: then the table
	// runs to the next dynamic table after it, as linkers lay them out.
	switch {
	case o.sysv != nil:
		o.nsyms = len(o.sysv.chains) / 4
	case o.gnu != nil && !o.gnu.empty():
		n, err := o.gnu.count()
		if err != nil {
			return o.errorf("%v", err)
		}
		o.nsyms = n
	default:
		o.nsyms = int(o.tableExtent(d.symtabAddr) / symSize)
	}
	tab, err := o.src.Bytes(d.symtabAddr, uint64(o.nsyms)*symSize)
	if err != nil {
		return o.errorf("symbol table (%d symbols) outside the loaded segments", o.nsyms)
	}
	o.symtab = tab
	if d.versymAddr != 0 {
		vs, err := o.src.Bytes(d.versymAddr, uint64(o.nsyms)*2)
		if err != nil {
			return o.errorf("version symbol table outside the loaded segments")
		}
		o.versym = vs
	}
	return nil
}

func (o *Object) readGNUHash(addr uint64) error {
	hdr, err := o.src.Bytes(addr, 16)
	if err != nil {
		return o.errorf("GNU hash table outside the loaded segments")
	}
	h := &gnuHash{
		nbuckets:  le.Uint32(hdr),
		symoffset: le.Uint32(hdr[4:]),
		shift:     le.Uint32(hdr[12:]),
	}
	bloomSize := le.Uint32(hdr[8:])
	if bloomSize == 0 || bloomSize&(bloomSize-1) != 0 {
		return o.errorf("GNU hash table bloom filter size %d is not a power of two", bloomSize)
	}
	h.bloomMask = bloomSize - 1
	addr += 16
	if h.bloom, err = o.src.Bytes(addr, uint64(bloomSize)*8); err != nil {
		return o.errorf("GNU hash bloom filter outside the loaded segments")
	}
	addr += uint64(bloomSize) * 8
	if h.buckets, err = o.src.Bytes(addr, uint64(h.nbuckets)*4); err != nil {
		return o.errorf("GNU hash buckets outside the loaded segments")
	}
	addr += uint64(h.nbuckets) * 4
	// The chain array's length is not stated: it ends where the next
	// table begins (the symbol table, as linkers lay them out) or with
	// its segment, and a walk stops there.
	h.chains = o.segmentTail(addr)
	h.chains = h.chains[:min(uint64(len(h.chains)), o.tableExtent(addr))&^3]
	o.gnu = h
	return nil
}

// tableExtent bounds a table at addr whose length is not stated: it ends
// where the next dynamic table begins, or at the end of its segment.
func (o *Object) tableExtent(addr uint64) uint64 {
	end := uint64(len(o.segmentTail(addr)))
	d := &o.Dyn
	for _, next := range []uint64{d.symtabAddr, d.strtabAddr, d.hashAddr, d.gnuAddr, d.versymAddr, d.verdefAddr, d.verneedAddr, d.Rela.Addr, d.JmpRel.Addr, d.Relr.Addr} {
		if next > addr && next-addr < end {
			end = next - addr
		}
	}
	return end
}

// segmentTail returns the bytes from addr to the end of the file contents
// of the PT_LOAD segment that holds addr, or nil when none does: the
// extent of a table whose length is not stated.
func (o *Object) segmentTail(addr uint64) []byte {
	for _, p := range o.Progs {
		if p.Type == elf.PT_LOAD && addr >= p.Vaddr && addr-p.Vaddr < p.Filesz {
			b, _ := o.src.Bytes(addr, p.Filesz-(addr-p.Vaddr))
			return b
		}
	}
	return nil
}

func (h *gnuHash) bucket(i uint32) uint32 { return le.Uint32(h.buckets[4*i:]) }

// chain returns the chain word of symbol idx, and false past the table.
func (h *gnuHash) chain(idx uint32) (uint32, bool) {
	if idx < h.symoffset {
		return 0, false
	}
	off := uint64(idx-h.symoffset) * 4
	if off+4 > uint64(len(h.chains)) {
		return 0, false
	}
	return le.Uint32(h.chains[off:]), true
}

// empty reports whether no bucket holds a symbol.
func (h *gnuHash) empty() bool {
	for i := uint32(0); i < h.nbuckets; i++ {
		if h.bucket(i) != 0 {
			return false
		}
	}
	return true
}

// count returns the number of symbols: one past the end of the last
// chain, which starts at the highest symbol a bucket names.
func (h *gnuHash) count() (int, error) {
	var last, bucket uint32
	for i := uint32(0); i < h.nbuckets; i++ {
		if b := h.bucket(i); b > last {
			last, bucket = b, i
		}
	}
	if last < h.symoffset {
		return 0, fmt.Errorf("GNU hash bucket %d starts at symbol %d, below the first hashed symbol %d", bucket, last, h.symoffset)
	}
	for idx := last; ; idx++ {
		w, ok := h.chain(idx)
		if !ok && idx == last {
			return 0, fmt.Errorf("GNU hash bucket %d starts at symbol %d, past the end of the chain array (symbol %d)", bucket, last, uint64(h.symoffset)+uint64(len(h.chains)/4))
		}
		if !ok {
			return 0, fmt.Errorf("GNU hash chain of bucket %d (from symbol %d) has no end: the chain array ends at symbol %d", bucket, last, idx)
		}
		if w&1 != 0 {
			return int(idx) + 1, nil
		}
	}
}

func (o *Object) readSysVHash(addr uint64) error {
	hdr, err := o.src.Bytes(addr, 8)
	if err != nil {
		return o.errorf("hash table outside the loaded segments")
	}
	h := &sysvHash{nbuckets: le.Uint32(hdr)}
	nchain := le.Uint32(hdr[4:])
	if h.buckets, err = o.src.Bytes(addr+8, uint64(h.nbuckets)*4); err != nil {
		return o.errorf("hash buckets outside the loaded segments")
	}
	if h.chains, err = o.src.Bytes(addr+8+uint64(h.nbuckets)*4, uint64(nchain)*4); err != nil {
		return o.errorf("hash chains outside the loaded segments")
	}
	o.sysv = h
	return nil
}

// NumSymbols returns the number of entries in the dynamic symbol table.
func (o *Object) NumSymbols() int { return o.nsyms }

// Symbol returns symbol i; i must be below NumSymbols.
func (o *Object) Symbol(i uint32) Sym {
	return ReadSym(o.symtab[uint64(i)*symSize:])
}

// SymSize is the size of an Elf64_Sym record.
const SymSize = symSize

// ReadSym decodes the Elf64_Sym record at the start of b, which holds at
// least SymSize bytes: a dynamic symbol here, and the symbols of
// relocatable objects for the link editor.
func ReadSym(b []byte) Sym {
	return Sym{
		Name:  le.Uint32(b),
		Info:  b[4],
		Other: b[5],
		Shndx: elf.SectionIndex(le.Uint16(b[6:])),
		Value: le.Uint64(b[8:]),
		Size:  le.Uint64(b[16:]),
	}
}

// SymbolName returns the name of symbol i.
func (o *Object) SymbolName(i uint32) string {
	return o.String(le.Uint32(o.symtab[uint64(i)*symSize:]))
}

// CheckSymbolName reports a symbol i whose name does not start inside
// the string table, where glibc would read whatever lies past it.
func (o *Object) CheckSymbolName(i uint32) error {
	if off := le.Uint32(o.symtab[uint64(i)*symSize:]); uint64(off) >= uint64(len(o.strtab)) {
		return fmt.Errorf("symbol %d: name offset %#x outside the string table (%d bytes)", i, off, len(o.strtab))
	}
	return nil
}

// SymbolNameIs reports whether symbol i is named name, without finding
// where its name ends first.
func (o *Object) SymbolNameIs(i uint32, name string) bool {
	return o.nameIs(le.Uint32(o.symtab[uint64(i)*symSize:]), name)
}

// nameIs reports whether the string at offset off is name, without
// allocating.
func (o *Object) nameIs(off uint32, name string) bool {
	end := uint64(off) + uint64(len(name))
	if end >= uint64(len(o.strtab)) {
		return false
	}
	return o.strtab[end] == 0 && o.strtab[off:end] == name
}

// Versym returns the version index word of symbol i (0 when the object has
// no DT_VERSYM).
func (o *Object) Versym(i uint32) uint16 {
	if o.versym == nil {
		return 0
	}
	return le.Uint16(o.versym[2*uint64(i):])
}

// HasVersym reports whether the object has a DT_VERSYM table.
func (o *Object) HasVersym() bool { return o.versym != nil }

// HasHashTable reports whether the object can be searched for symbols.
func (o *Object) HasHashTable() bool {
	return (o.gnu != nil && o.gnu.nbuckets > 0) || (o.sysv != nil && o.sysv.nbuckets > 0)
}

// Hash is a symbol name hashed once for every table it is looked up in.
type Hash struct {
	Name     string
	GNU      uint32 // valid after Fill
	gnuDone  bool
	sysv     uint32
	sysvDone bool
}

// NewHash hashes name for lookups.
func NewHash(name string) Hash { return Hash{Name: name, GNU: GNUHash(name), gnuDone: true} }

// LazyHash is name for a lookup that may be answered without a search (a
// bind cache's replay): its hash is computed by Fill, when needed.
func LazyHash(name string) Hash { return Hash{Name: name} }

// Fill computes the name's GNU hash if it is not yet known.
func (h *Hash) Fill() {
	if !h.gnuDone {
		h.GNU, h.gnuDone = GNUHash(h.Name), true
	}
}

// MayDefine is the GNU hash table's Bloom filter: false means o surely
// does not define the name, true that it may. Without a GNU hash table
// it is always true. h's GNU hash must be known (NewHash, or Fill): the
// test is small enough to be inlined into a search loop without it.
func (o *Object) MayDefine(h *Hash) bool {
	g := o.gnu
	if g == nil {
		return true
	}
	return g.nbuckets != 0 && BloomTest(g.bloom, g.bloomMask, g.shift, h.GNU)
}

// BloomTest is the GNU hash table's Bloom filter test of the name hash h,
// over the filter's words with their index mask and the second hash's
// shift: false means the name is surely not in the table.
func BloomTest(words []byte, mask, shift, h uint32) bool {
	w := le.Uint64(words[8*((h/64)&mask):])
	return (w>>(h%64))&(w>>((h>>shift)%64))&1 != 0
}

// BloomFilter returns the GNU hash table's Bloom filter words, with the
// word-index mask and the second hash's shift, for a search that tests
// many objects' filters in a row (as MayDefine does for one). ok is false
// when the object has no GNU hash table: every name may be in it. An
// object whose table is empty has a filter of no words.
func (o *Object) BloomFilter() (words []byte, mask, shift uint32, ok bool) {
	g := o.gnu
	if g == nil {
		return nil, 0, 0, false
	}
	if g.nbuckets == 0 {
		return nil, 0, 0, true
	}
	return g.bloom, g.bloomMask, g.shift, true
}

// DynamicSymbols returns where the dynamic symbol and string tables are,
// as addresses before relocation, with the symbol count and the string
// table's size: what a reader of the mapped object (dladdr) needs.
func (o *Object) DynamicSymbols() (symtab uint64, nsyms int, strtab, strsz uint64) {
	return o.Dyn.symtabAddr, o.nsyms, o.Dyn.strtabAddr, o.Dyn.strtabSize
}

// Candidates calls yield with the index of each symbol in o whose name is
// h.Name, in hash-chain order, as glibc's do_lookup_x walks them: through
// the GNU hash table (after its Bloom filter) when there is one, else the
// SysV table. It stops when yield returns false.
func (o *Object) Candidates(h *Hash, yield func(idx uint32) bool) {
	if g := o.gnu; g != nil {
		if g.nbuckets == 0 {
			return
		}
		h.Fill()
		if !BloomTest(g.bloom, g.bloomMask, g.shift, h.GNU) {
			return
		}
		idx := g.bucket(h.GNU % g.nbuckets)
		if idx == 0 {
			return
		}
		for ; ; idx++ {
			w, ok := g.chain(idx)
			if !ok || uint64(idx) >= uint64(o.nsyms) {
				return
			}
			if (w^h.GNU)>>1 == 0 && o.nameIs(le.Uint32(o.symtab[uint64(idx)*symSize:]), h.Name) {
				if !yield(idx) {
					return
				}
			}
			if w&1 != 0 {
				return
			}
		}
	}
	if s := o.sysv; s != nil {
		if s.nbuckets == 0 {
			return
		}
		if !h.sysvDone {
			h.sysv, h.sysvDone = SysVHash(h.Name), true
		}
		nchain := uint32(len(s.chains) / 4)
		idx := le.Uint32(s.buckets[4*(h.sysv%s.nbuckets):])
		// A chain can loop in a hostile file: no chain is longer than
		// the table.
		for steps := uint32(0); idx != 0 && idx < nchain && steps <= nchain; steps++ {
			if uint64(idx) < uint64(o.nsyms) && o.nameIs(le.Uint32(o.symtab[uint64(idx)*symSize:]), h.Name) {
				if !yield(idx) {
					return
				}
			}
			idx = le.Uint32(s.chains[4*idx:])
		}
	}
}
