package object

import (
	"bytes"
	"debug/elf"
	"fmt"
)

// The procedure linkage table, as the x86-64 psABI lays it out (section
// "Procedure Linkage Table", small and medium models, and the Intel CET
// chapter's IBT-enabled PLT). GOT is the object's DT_PLTGOT.
//
//	lazy PLT (.plt)                     IBT-enabled PLT (.plt, then .plt.sec)
//	PLT0: push GOT+8(%rip)              PLT0: push GOT+8(%rip)
//	      jmp *GOT+16(%rip)                   [bnd] jmp *GOT+16(%rip)
//	PLTn: jmp *name@GOTPCREL(%rip)      PLTn: endbr64; push $n; [bnd] jmp PLT0
//	      push $n; jmp PLT0             SPLTn: endbr64; [bnd] jmp *name@GOTPCREL(%rip)
//
// A call goes to PLTn (lazy) or SPLTn (IBT). A GOT entry first holds the
// address of its lazy stub: the push in PLTn of a lazy PLT, PLTn itself
// (its endbr64, as the jump to it is indirect) of an IBT one, whatever the
// psABI's CET chapter says of the second PLT. The stubs are found from the
// GOT entries, so no section header is needed; binutils 2.40 writes no bnd
// prefix, older ones did (for MPX): both are read.

// PLTLayout says how an object's PLT is laid out.
type PLTLayout int

const (
	// PLTUnknown: the stubs are not laid out as the psABI lays them
	// out, or the object has none.
	PLTUnknown PLTLayout = iota
	// PLTLazy is the psABI's PLT: each entry jumps through its GOT
	// entry, which first points back at the entry's push.
	PLTLazy
	// PLTIBT is the IBT-enabled pair of tables: the lazy stubs in .plt,
	// the entries code calls in the second PLT (.plt.sec).
	PLTIBT
)

func (l PLTLayout) String() string {
	switch l {
	case PLTLazy:
		return "lazy"
	case PLTIBT:
		return "ibt"
	}
	return "unknown"
}

// PLT is an object's procedure linkage table, decoded from its code.
// Addresses are link-time addresses.
type PLT struct {
	Layout PLTLayout
	// PLT0 is the table's first entry, to which every lazy stub jumps
	// (0 if none was found); PLT0OK reports that it pushes GOT[1] and
	// jumps through GOT[2], as the psABI says.
	PLT0   uint64
	PLT0OK bool
	// BND is set when the jumps carry the bnd prefix (MPX).
	BND   bool
	Slots []PLTSlot
}

// PLTSlot is one DT_JMPREL entry and the code that goes with it.
type PLTSlot struct {
	Type elf.R_X86_64
	GOT  uint64 // the GOT entry (r_offset)
	// Initial is the GOT entry's value before binding: the address of
	// the lazy stub, as the file holds it (0 if it holds none).
	Initial uint64
	// Stub is Initial when the code there is a lazy stub; Pushes is the
	// relocation index it pushes, which must be the slot's own.
	Stub   uint64
	Pushes uint32
	// Entry is the entry callers call, which jumps through GOT: the
	// PLT entry (lazy) or its second-PLT entry (IBT); 0 if none.
	Entry uint64
	// Problem says what does not decode, if anything.
	Problem string
}

var endbr64 = []byte{0xf3, 0x0f, 0x1e, 0xfa}

// DecodePLT decodes the PLT code of the object's DT_JMPREL slots. initial
// gives the value a GOT entry holds before binding; nil reads it from the
// object, right for an object read from its file (an object read from
// memory after relocation holds the run-time values).
func (o *Object) DecodePLT(initial func(got uint64) (uint64, bool)) (*PLT, error) {
	tab, err := o.Relas(o.Dyn.JmpRel)
	if err != nil {
		return nil, err
	}
	if initial == nil {
		initial = o.word
	}
	p := &PLT{Slots: make([]PLTSlot, tab.Len())}
	lazy, ibt := 0, 0
	var ibtGOTs map[uint64]int // GOT entry to slot, for the second PLT
	for i := range p.Slots {
		rel := tab.At(i)
		s := &p.Slots[i]
		s.Type, s.GOT = rel.Type, rel.Off
		v, ok := initial(rel.Off)
		if !ok {
			s.Problem = "GOT entry outside the loaded segments"
			continue
		}
		s.Initial = v
		if v == 0 {
			s.Problem = "the GOT entry holds no lazy stub"
			continue
		}
		kind, pushes, plt0, bnd, problem := o.decodeStub(v)
		if problem != "" {
			s.Problem = problem
			continue
		}
		s.Stub, s.Pushes = v, pushes
		p.BND = p.BND || bnd
		if p.PLT0 == 0 {
			p.PLT0 = plt0
		} else if plt0 != p.PLT0 {
			s.Problem = fmt.Sprintf("the stub jumps to %#x, not to PLT0 at %#x", plt0, p.PLT0)
			continue
		}
		if pushes != uint32(i) && rel.Type == elf.R_X86_64_JMP_SLOT {
			s.Problem = fmt.Sprintf("the stub pushes %d, not the slot's index %d", pushes, i)
		}
		switch kind {
		case PLTLazy:
			lazy++
			// The entry's jmp *GOT(%rip) is the six bytes before its
			// push.
			if got, ok := o.jumpThrough(v-6, false); ok && got == rel.Off {
				s.Entry = v - 6
			} else if s.Problem == "" {
				s.Problem = "no jmp through the GOT entry before the stub"
			}
		case PLTIBT:
			ibt++
			if ibtGOTs == nil {
				ibtGOTs = map[uint64]int{}
			}
			ibtGOTs[rel.Off] = i
		}
	}
	switch {
	case lazy > 0 && ibt == 0:
		p.Layout = PLTLazy
	case ibt > 0 && lazy == 0:
		p.Layout = PLTIBT
	}
	if p.PLT0 != 0 {
		p.PLT0OK = o.checkPLT0(p.PLT0)
	}
	if len(ibtGOTs) > 0 {
		o.findSecondPLT(p, ibtGOTs)
	}
	return p, nil
}

// word reads the 8 bytes at addr.
func (o *Object) word(addr uint64) (uint64, bool) {
	b, err := o.src.Bytes(addr, 8)
	if err != nil {
		return 0, false
	}
	return le.Uint64(b), true
}

// code returns up to n bytes of the object at addr, as many as its
// segment holds: the last stub of a PLT may end its segment.
func (o *Object) code(addr uint64, n int) []byte {
	b := o.segmentTail(addr)
	if len(b) > n {
		b = b[:n]
	}
	return b
}

// decodeStub reads the lazy stub at addr: [endbr64;] push $n; [bnd] jmp
// PLT0.
func (o *Object) decodeStub(addr uint64) (kind PLTLayout, pushes uint32, plt0 uint64, bnd bool, problem string) {
	b := o.code(addr, 16)
	if b == nil {
		return 0, 0, 0, false, "the GOT entry's lazy stub is outside the loaded segments"
	}
	kind, at := PLTLazy, 0
	if bytes.HasPrefix(b, endbr64) {
		kind, at = PLTIBT, 4
	}
	if len(b) < at+5 || b[at] != 0x68 { // push imm32
		return 0, 0, 0, false, fmt.Sprintf("no push at the lazy stub %#x", addr)
	}
	pushes = le.Uint32(b[at+1:])
	at += 5
	if len(b) > at && b[at] == 0xf2 {
		bnd, at = true, at+1
	}
	if len(b) < at+5 || b[at] != 0xe9 { // jmp rel32
		return 0, 0, 0, false, fmt.Sprintf("no jmp after the push of the lazy stub %#x", addr)
	}
	next := addr + uint64(at) + 5
	plt0 = next + uint64(int64(int32(le.Uint32(b[at+1:]))))
	return kind, pushes, plt0, bnd, ""
}

// jumpThrough decodes [endbr64;] [bnd] jmp *disp(%rip) at addr and returns
// the address it jumps through.
func (o *Object) jumpThrough(addr uint64, withEndbr bool) (uint64, bool) {
	b := o.code(addr, 11)
	at := 0
	if withEndbr {
		if !bytes.HasPrefix(b, endbr64) {
			return 0, false
		}
		at = 4
	}
	if len(b) > at && b[at] == 0xf2 {
		at++
	}
	if len(b) < at+6 || b[at] != 0xff || b[at+1] != 0x25 {
		return 0, false
	}
	next := addr + uint64(at) + 6
	return next + uint64(int64(int32(le.Uint32(b[at+2:])))), true
}

// checkPLT0 reports whether PLT0 pushes GOT[1] and jumps through GOT[2].
func (o *Object) checkPLT0(addr uint64) bool {
	b := o.code(addr, 6)
	if len(b) < 6 || b[0] != 0xff || b[1] != 0x35 { // push disp(%rip)
		return false
	}
	pushed := addr + 6 + uint64(int64(int32(le.Uint32(b[2:]))))
	through, ok := o.jumpThrough(addr+6, false)
	got := o.Dyn.PLTGot
	return ok && got != 0 && pushed == got+8 && through == got+16
}

// findSecondPLT finds the second-PLT entry of each IBT slot: 16-byte
// entries of endbr64 and a jump through the slot's GOT entry, after the
// first PLT in the same segment (binutils puts .plt.got between the two).
func (o *Object) findSecondPLT(p *PLT, slots map[uint64]int) {
	for _, seg := range o.Progs {
		if seg.Type != elf.PT_LOAD || p.PLT0 < seg.Vaddr || p.PLT0-seg.Vaddr >= seg.Filesz {
			continue
		}
		end := seg.Vaddr + seg.Filesz
		left := len(slots)
		for addr := (p.PLT0 + 16) &^ 15; addr+16 <= end && left > 0; addr += 16 {
			got, ok := o.jumpThrough(addr, true)
			if !ok {
				continue
			}
			if i, ok := slots[got]; ok && p.Slots[i].Entry == 0 {
				p.Slots[i].Entry = addr
				left--
			}
		}
	}
	for _, i := range slots {
		if s := &p.Slots[i]; s.Entry == 0 && s.Problem == "" {
			s.Problem = "no second-PLT entry jumps through the GOT entry"
		}
	}
}
