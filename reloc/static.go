package reloc

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
)

// The relocations of relocatable objects (ET_REL), which the link editor
// applies, use more of the psABI's terms than the dynamic ones:
//
//	G    the offset of the symbol's GOT entry from GOT
//	GOT  the address of the global offset table (_GLOBAL_OFFSET_TABLE_)
//	L    the address of the symbol's PLT entry
//
// and, for thread-local storage, the TLS segment's start (the dynamic
// thread vector's offset 0 for the module) and the thread pointer's
// link-time position (TP, the end of the executable's TLS block).

// Formula is a relocation's calculation, named by the psABI's terms.
type Formula uint8

const (
	FormulaNone Formula = iota // nothing is written (R_X86_64_NONE, TLSDESC_CALL)
	SA                         // S + A
	SAP                        // S + A - P
	LAP                        // L + A - P
	GA                         // G + A
	GGOTAP                     // G + GOT + A - P
	GOTAP                      // GOT + A - P
	SAGOT                      // S + A - GOT
	LAGOT                      // L + A - GOT
	ZA                         // Z + A
	DTPOff                     // S + A - the TLS segment's start (@dtpoff)
	TPOff                      // S + A - TP (@tpoff)
)

// Check is how a relocation's field is checked for overflow.
type Check uint8

const (
	NoCheck  Check = iota // the field is as wide as the value
	Signed                // the value must fit the field sign-extended
	Unsigned              // the value must fit the field zero-extended
	Either                // either reading fits (GNU ld's "bitfield")
)

// GOTUse says what kind of GOT entry a relocation refers to.
type GOTUse uint8

const (
	NoGOT      GOTUse = iota
	GOTAddr           // one word: the symbol's address (GLOB_DAT/RELATIVE)
	GOTTPOff          // one word: the symbol's offset from TP (initial exec)
	GOTTLSGD          // two words: module id and offset (general dynamic)
	GOTTLSLD          // two words: the module's id and 0 (local dynamic)
	GOTTLSDesc        // two words: a TLS descriptor
)

// StaticType describes how the link editor applies one relocation type.
type StaticType struct {
	Formula Formula
	Size    uint8 // bytes written at P
	Check   Check
	GOT     GOTUse
	// PCRelative says the value is relative to the place, so an
	// absolute address cannot be made position-independent by a
	// dynamic relocation.
	PCRelative bool
}

var staticTypes = map[elf.R_X86_64]StaticType{
	elf.R_X86_64_NONE:            {Formula: FormulaNone},
	elf.R_X86_64_64:              {Formula: SA, Size: 8},
	elf.R_X86_64_PC32:            {Formula: SAP, Size: 4, Check: Signed, PCRelative: true},
	elf.R_X86_64_GOT32:           {Formula: GA, Size: 4, Check: Signed, GOT: GOTAddr},
	elf.R_X86_64_PLT32:           {Formula: LAP, Size: 4, Check: Signed, PCRelative: true},
	elf.R_X86_64_GOTPCREL:        {Formula: GGOTAP, Size: 4, Check: Signed, GOT: GOTAddr, PCRelative: true},
	elf.R_X86_64_32:              {Formula: SA, Size: 4, Check: Unsigned},
	elf.R_X86_64_32S:             {Formula: SA, Size: 4, Check: Signed},
	elf.R_X86_64_16:              {Formula: SA, Size: 2, Check: Either},
	elf.R_X86_64_PC16:            {Formula: SAP, Size: 2, Check: Signed, PCRelative: true},
	elf.R_X86_64_8:               {Formula: SA, Size: 1, Check: Either},
	elf.R_X86_64_PC8:             {Formula: SAP, Size: 1, Check: Signed, PCRelative: true},
	elf.R_X86_64_DTPOFF64:        {Formula: DTPOff, Size: 8},
	elf.R_X86_64_TPOFF64:         {Formula: TPOff, Size: 8},
	elf.R_X86_64_TLSGD:           {Formula: GGOTAP, Size: 4, Check: Signed, GOT: GOTTLSGD, PCRelative: true},
	elf.R_X86_64_TLSLD:           {Formula: GGOTAP, Size: 4, Check: Signed, GOT: GOTTLSLD, PCRelative: true},
	elf.R_X86_64_DTPOFF32:        {Formula: DTPOff, Size: 4, Check: Signed},
	elf.R_X86_64_GOTTPOFF:        {Formula: GGOTAP, Size: 4, Check: Signed, GOT: GOTTPOff, PCRelative: true},
	elf.R_X86_64_TPOFF32:         {Formula: TPOff, Size: 4, Check: Signed},
	elf.R_X86_64_PC64:            {Formula: SAP, Size: 8, PCRelative: true},
	elf.R_X86_64_GOTOFF64:        {Formula: SAGOT, Size: 8},
	elf.R_X86_64_GOTPC32:         {Formula: GOTAP, Size: 4, Check: Signed, PCRelative: true},
	elf.R_X86_64_GOT64:           {Formula: GA, Size: 8, GOT: GOTAddr},
	elf.R_X86_64_GOTPCREL64:      {Formula: GGOTAP, Size: 8, GOT: GOTAddr, PCRelative: true},
	elf.R_X86_64_GOTPC64:         {Formula: GOTAP, Size: 8, PCRelative: true},
	elf.R_X86_64_GOTPLT64:        {Formula: GA, Size: 8, GOT: GOTAddr},
	elf.R_X86_64_PLTOFF64:        {Formula: LAGOT, Size: 8},
	elf.R_X86_64_SIZE32:          {Formula: ZA, Size: 4, Check: Unsigned},
	elf.R_X86_64_SIZE64:          {Formula: ZA, Size: 8},
	elf.R_X86_64_GOTPC32_TLSDESC: {Formula: GGOTAP, Size: 4, Check: Signed, GOT: GOTTLSDesc, PCRelative: true},
	elf.R_X86_64_TLSDESC_CALL:    {Formula: FormulaNone},
	elf.R_X86_64_GOTPCRELX:       {Formula: GGOTAP, Size: 4, Check: Signed, GOT: GOTAddr, PCRelative: true},
	elf.R_X86_64_REX_GOTPCRELX:   {Formula: GGOTAP, Size: 4, Check: Signed, GOT: GOTAddr, PCRelative: true},
}

// Static returns how the link editor applies relocation type t; ok is
// false for a type that may not appear in a relocatable object (the
// dynamic-only ones) or that it does not know.
func Static(t elf.R_X86_64) (st StaticType, ok bool) {
	if uint(t) >= uint(len(staticByType)) {
		return StaticType{}, false
	}
	e := &staticByType[t]
	return e.StaticType, e.known
}

// staticByType is staticTypes indexed by type: the link editor asks for
// every relocation of every input, several times, and a map's lookup
// was a tenth of a link's time.
var staticByType = func() (table [64]struct {
	StaticType
	known bool
}) {
	for t, st := range staticTypes {
		table[t].StaticType, table[t].known = st, true
	}
	return table
}()

// Calculate returns the formula's value for the terms v. For the link
// editor, S is the symbol's link-time address, P the place's, and TLS
// and TP the TLS segment's start and the thread pointer.
func (f Formula) Calculate(v *Terms) uint64 {
	a := uint64(v.A)
	switch f {
	case SA:
		return v.S + a
	case SAP:
		return v.S + a - v.P
	case LAP:
		return v.L + a - v.P
	case GA:
		return v.G + a
	case GGOTAP:
		return v.G + v.GOT + a - v.P
	case GOTAP:
		return v.GOT + a - v.P
	case SAGOT:
		return v.S + a - v.GOT
	case LAGOT:
		return v.L + a - v.GOT
	case ZA:
		return v.Z + a
	case DTPOff:
		return v.S + a - v.TLS
	case TPOff:
		return v.S + a - v.TP
	}
	return 0
}

// OverflowError is a value that does not fit its relocation's field, in
// GNU ld's words ("relocation truncated to fit: R_X86_64_32 against ...").
type OverflowError struct {
	Type  elf.R_X86_64
	Value uint64
}

func (e *OverflowError) Error() string {
	return fmt.Sprintf("relocation truncated to fit: %s", e.Type)
}

// Put writes the value val of a relocation of type t (described by st)
// into b, which holds at least st.Size bytes, and checks that it fits.
func (st StaticType) Put(t elf.R_X86_64, b []byte, val uint64) error {
	le := binary.LittleEndian
	switch st.Size {
	case 0:
		return nil
	case 1:
		b[0] = byte(val)
	case 2:
		le.PutUint16(b, uint16(val))
	case 4:
		le.PutUint32(b, uint32(val))
	case 8:
		le.PutUint64(b, val)
		return nil
	}
	if !fits(st.Check, val, uint(st.Size)*8) {
		return &OverflowError{Type: t, Value: val}
	}
	return nil
}

// fits reports whether val fits a field of bits bits as check says.
func fits(check Check, val uint64, bits uint) bool {
	signedOK := int64(val) >= -(1<<(bits-1)) && int64(val) < 1<<(bits-1)
	unsignedOK := val < 1<<bits
	switch check {
	case Signed:
		return signedOK
	case Unsigned:
		return unsignedOK
	case Either:
		return signedOK || unsignedOK
	}
	return true
}

// Read returns the st.Size bytes at b as an unsigned value (for the
// relocations whose addend the place holds, and for tests).
func (st StaticType) Read(b []byte) uint64 {
	le := binary.LittleEndian
	switch st.Size {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(le.Uint16(b))
	case 4:
		return uint64(le.Uint32(b))
	case 8:
		return le.Uint64(b)
	}
	return 0
}
