package object

import "debug/elf"

// Rela is one Elf64_Rela relocation.
type Rela struct {
	Off    uint64 // r_offset: the link-time address to write
	Type   elf.R_X86_64
	Sym    uint32 // symbol index; 0 for none
	Addend int64
}

// RelaTable is a run of Elf64_Rela entries.
type RelaTable []byte

// Len returns the number of relocations.
func (t RelaTable) Len() int { return len(t) / relaSize }

// At returns relocation i.
func (t RelaTable) At(i int) Rela {
	b := t[i*relaSize:]
	info := le.Uint64(b[8:])
	return Rela{
		Off:    le.Uint64(b),
		Type:   elf.R_X86_64(uint32(info)),
		Sym:    uint32(info >> 32),
		Addend: int64(le.Uint64(b[16:])),
	}
}

// RelaSize is the size of an Elf64_Rela, for the link editor.
const RelaSize = relaSize

// PutRela encodes r as an Elf64_Rela at the start of b (24 bytes), for
// the link editor.
func PutRela(b []byte, r Rela) {
	le.PutUint64(b, r.Off)
	le.PutUint64(b[8:], uint64(r.Sym)<<32|uint64(r.Type))
	le.PutUint64(b[16:], uint64(r.Addend))
}

// Relas returns the relocations in r (DT_RELA or DT_JMPREL's range, or
// part of one).
func (o *Object) Relas(r Range) (RelaTable, error) {
	if r.Size == 0 {
		return nil, nil
	}
	if r.Size%relaSize != 0 {
		return nil, o.errorf("%s relocation table size %d is not a multiple of %d", relaTable(o, r.Addr), r.Size, relaSize)
	}
	b, err := o.src.Bytes(r.Addr, r.Size)
	if err != nil {
		return nil, o.errorf("%s relocation table outside the loaded segments (%d bytes at %#x)", relaTable(o, r.Addr), r.Size, r.Addr)
	}
	return RelaTable(b), nil
}

// RelaEntry names the relocation entry at link-time address entry as
// its table and its index there: DT_JMPREL's when DT_JMPREL's range holds
// it (or starts there), else DT_RELA's.
func (o *Object) RelaEntry(entry uint64) (table string, index uint64) {
	d := &o.Dyn
	inRela := entry >= d.Rela.Addr && entry-d.Rela.Addr < d.Rela.Size
	if d.HasJmpRel && entry >= d.JmpRel.Addr && (entry-d.JmpRel.Addr < d.JmpRel.Size || entry == d.JmpRel.Addr && !inRela) {
		return "DT_JMPREL", (entry - d.JmpRel.Addr) / relaSize
	}
	return "DT_RELA", (entry - d.Rela.Addr) / relaSize
}

// Relr calls fn with the link-time address of every word that a DT_RELR
// table says holds a relative address, in table order.
func (o *Object) Relr(fn func(addr uint64)) error {
	r := o.Dyn.Relr
	if r.Size == 0 {
		return nil
	}
	b, err := o.src.Bytes(r.Addr, r.Size&^7)
	if err != nil {
		return o.errorf("DT_RELR table outside the loaded segments (%d bytes at %#x)", r.Size, r.Addr)
	}
	var where uint64
	for ; len(b) >= 8; b = b[8:] {
		entry := le.Uint64(b)
		if entry&1 == 0 {
			// An address: relocate it and start a bitmap run after it.
			fn(entry)
			where = entry + 8
			continue
		}
		// A bitmap of the 63 words from where on.
		for i := uint64(0); entry>>1 != 0; i++ {
			entry >>= 1
			if entry&1 != 0 {
				fn(where + 8*i)
			}
		}
		where += 63 * 8
	}
	return nil
}

// relaTable is the name of the table at addr.
func relaTable(o *Object, addr uint64) string {
	t, _ := o.RelaEntry(addr)
	return t
}
