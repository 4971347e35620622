package reloc

import (
	"debug/elf"
	"encoding/binary"
)

// Relaxation is an instruction rewrite the x86-64 psABI allows a link
// editor when it knows more than the compiler did: that a symbol is
// defined in the output (a GOT load becomes an address computation) or
// that its thread-local storage is the executable's (a call to
// __tls_get_addr becomes a thread-pointer offset).
type Relaxation uint8

const (
	NoRelax Relaxation = iota
	// GOTPCRELX: mov foo@GOTPCREL(%rip),%reg to lea foo(%rip),%reg;
	// call/jmp *foo@GOTPCREL(%rip) to call/jmp foo.
	GOTPCRELXToPCRel
	// GOTPCRELX in a position-dependent output, as GNU ld rewrites it:
	// mov foo@GOTPCREL(%rip),%reg to mov $foo,%reg; test %reg,
	// foo@GOTPCREL(%rip) to test $foo,%reg; binop foo@GOTPCREL(%rip),%reg
	// (adc, add, and, cmp, or, sbb, sub, xor) to binop $foo,%reg. The
	// field is then an R_X86_64_32S (with REX.W) or R_X86_64_32.
	GOTPCRELXToAbs
	// GD to LE: lea x@tlsgd(%rip),%rdi; call __tls_get_addr to
	// mov %fs:0,%rax; add $x@tpoff,%rax.
	GDToLE
	// GD to IE: ... to mov %fs:0,%rax; add x@gottpoff(%rip),%rax.
	GDToIE
	// LD to LE: lea x@tlsld(%rip),%rdi; call __tls_get_addr to the
	// start of the executable's TLS block in %rax.
	LDToLE
	// IE to LE: mov x@gottpoff(%rip),%reg to mov $x@tpoff,%reg.
	IEToLE
	// TLSDESC to LE and IE: lea x@tlsdesc(%rip),%rax to mov
	// $x@tpoff,%rax or mov x@gottpoff(%rip),%rax ...
	DescToLE
	DescToIE
	// ... and the call *x@tlscall(%rax) after it to a nop.
	DescCallToNop
	// TLSCall is the call to __tls_get_addr of a relaxed GD or LD
	// sequence, rewritten with it: nothing more is written.
	TLSCall
)

var le32 = binary.LittleEndian

// before returns the n bytes of b before off as a number, or -1 when the
// section has fewer.
func before(b []byte, off uint64, n int) int {
	if off < uint64(n) || off > uint64(len(b)) {
		return -1
	}
	v := 0
	for _, c := range b[off-uint64(n) : off] {
		v = v<<8 | int(c)
	}
	return v
}

// CanRelaxGOTPCRELX reports whether the instruction a GOTPCRELX or
// REX_GOTPCRELX relocation at off of b applies to is one that can load
// the address itself.
func CanRelaxGOTPCRELX(t elf.R_X86_64, b []byte, off uint64) bool {
	if t == elf.R_X86_64_GOTPCRELX {
		switch before(b, off, 2) {
		case 0xff15, 0xff25: // call/jmp *foo@GOTPCREL(%rip)
			return true
		}
	}
	op, _, ok := gotLoad(t, b, off)
	return ok && op == 0x8b
}

// CanRelaxGOTPCRELXToAbs reports whether the instruction a GOTPCRELX
// or REX_GOTPCRELX relocation at off of b applies to is one
// GOTPCRELXToAbs rewrites: a mov, test or binop reading the GOT entry.
func CanRelaxGOTPCRELXToAbs(t elf.R_X86_64, b []byte, off uint64) bool {
	op, _, ok := gotLoad(t, b, off)
	return ok && (op == 0x8b || op == 0x85 || op&0xc7 == 0x03)
}

// gotLoad returns the opcode of the instruction whose RIP-relative
// operand (ModRM mod 00, r/m 101) a GOTPCRELX relocation at off is,
// and its REX prefix (REX_GOTPCRELX; -1 for none).
func gotLoad(t elf.R_X86_64, b []byte, off uint64) (op byte, rex int, ok bool) {
	n := 2
	if t == elf.R_X86_64_REX_GOTPCRELX {
		n = 3
	}
	v := before(b, off, n)
	if v < 0 || v&0xc7 != 0x05 {
		return 0, 0, false
	}
	rex = -1
	if n == 3 {
		if rex = v >> 16; rex&0xf0 != 0x40 {
			return 0, 0, false
		}
	}
	return byte(v >> 8), rex, true
}

// GOTPCRELXAbsType is the type of the field GOTPCRELXToAbs makes of the
// instruction at off of b (before the rewrite): R_X86_64_32S for a
// 64-bit operand (REX.W), whose immediate is sign-extended, else
// R_X86_64_32.
func GOTPCRELXAbsType(t elf.R_X86_64, b []byte, off uint64) elf.R_X86_64 {
	if _, rex, ok := gotLoad(t, b, off); ok && rex >= 0 && rex&0x8 != 0 {
		return elf.R_X86_64_32S
	}
	return elf.R_X86_64_32
}

// tlsCallAt reports whether the relocation after a TLSGD or TLSLD one at
// off is the call to __tls_get_addr that the psABI's sequence puts where
// it is (a call, or a call through the GOT).
func tlsCallAt(gd bool, b []byte, off uint64, nextType elf.R_X86_64, nextOff uint64) bool {
	switch nextType {
	case elf.R_X86_64_PLT32, elf.R_X86_64_PC32:
		if gd {
			// 66 48 8d 3d [off] 66 66 48 e8 [off+8]
			return nextOff == off+8 && before(b, off+8, 4) == 0x666648e8 && before(b, off, 4) == 0x66488d3d
		}
		// 48 8d 3d [off] e8 [off+5]
		return nextOff == off+5 && before(b, off+5, 1) == 0xe8 && before(b, off, 3) == 0x488d3d
	case elf.R_X86_64_GOTPCREL, elf.R_X86_64_GOTPCRELX, elf.R_X86_64_REX_GOTPCRELX:
		if gd {
			// 66 48 8d 3d [off] 66 48 ff 15 [off+8]
			return nextOff == off+8 && before(b, off+8, 4) == 0x6648ff15 && before(b, off, 4) == 0x66488d3d
		}
		// 48 8d 3d [off] ff 15 [off+6]
		return nextOff == off+6 && before(b, off+6, 2) == 0xff15 && before(b, off, 3) == 0x488d3d
	}
	return false
}

// CanRelaxTLSCall reports whether a TLSGD (gd) or TLSLD relocation at
// off of b, followed by a relocation of type nextType at nextOff, is the
// psABI's sequence, which GDToLE, GDToIE and LDToLE rewrite.
func CanRelaxTLSCall(gd bool, b []byte, off uint64, nextType elf.R_X86_64, nextOff uint64) bool {
	end := off + 10 // LD's rewrite
	if gd {
		end = off + 12
	}
	if end > uint64(len(b)) {
		return false
	}
	return tlsCallAt(gd, b, off, nextType, nextOff)
}

// CanRelaxIE reports whether a GOTTPOFF relocation at off applies to a
// mov from the GOT, which IEToLE rewrites.
func CanRelaxIE(b []byte, off uint64) bool {
	v := before(b, off, 3)
	return v >= 0 && (v>>16 == 0x48 || v>>16 == 0x4c) && v>>8&0xff == 0x8b && v&0xc7 == 0x05
}

// CanRelaxDesc reports whether a GOTPC32_TLSDESC relocation at off
// applies to lea x@tlsdesc(%rip), %reg.
func CanRelaxDesc(b []byte, off uint64) bool {
	v := before(b, off, 3)
	return v >= 0 && (v>>16 == 0x48 || v>>16 == 0x4c) && v>>8&0xff == 0x8d && v&0xc7 == 0x05
}

// Relax rewrites the instructions of relaxation r for the relocation of
// type t at off of b, and writes val where the rewritten instruction
// takes it:
//
//	GOTPCRELXToPCRel  S + A - P
//	GOTPCRELXToAbs    S
//	GDToLE, IEToLE, DescToLE  the variable's offset from TP
//	GDToIE            its GOT entry's address - P (the rewritten add ends
//	                  12 bytes after P)
//	DescToIE          its GOT entry's address + A - P
//	LDToLE            the size of the executable's TLS block (TP minus
//	                  its start)
//
// nextType is the type of the relocation after it (the __tls_get_addr
// call of GD and LD). The Can functions must have said yes.
func Relax(r Relaxation, t elf.R_X86_64, b []byte, off uint64, nextType elf.R_X86_64, val uint64) {
	switch r {
	case GOTPCRELXToPCRel:
		switch before(b, off, 2) {
		case 0xff15: // call *x(%rip) -> addr32 call x
			b[off-2], b[off-1] = 0x67, 0xe8
		case 0xff25: // jmp *x(%rip) -> jmp x; nop
			b[off-2], b[off-1] = 0xe9, 0
			le32.PutUint32(b[off-1:], uint32(val+1))
			b[off+3] = 0x90
			return
		default: // mov -> lea
			b[off-2] = 0x8d
		}
		le32.PutUint32(b[off:], uint32(val))
	case GOTPCRELXToAbs:
		// The register moves from ModRM's reg field to r/m (mod 11),
		// and REX.R to REX.B; reg takes the opcode extension.
		op, reg := b[off-2], b[off-1]>>3&7
		switch {
		case op == 0x8b: // mov -> mov $imm32 (c7 /0)
			b[off-2], b[off-1] = 0xc7, 0xc0|reg
		case op == 0x85: // test -> test $imm32 (f7 /0)
			b[off-2], b[off-1] = 0xf7, 0xc0|reg
		default: // binop -> binop $imm32 (81 /digit)
			b[off-2], b[off-1] = 0x81, 0xc0|op&0x38|reg
		}
		if t == elf.R_X86_64_REX_GOTPCRELX {
			rex := b[off-3]
			b[off-3] = rex&^0x4 | rex&0x4>>2
		}
		le32.PutUint32(b[off:], uint32(val))
	case GDToLE, GDToIE:
		// mov %fs:0,%rax, then add $x@tpoff,%rax or add x@gottpoff(%rip),%rax
		seq := []byte{0x64, 0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0, 0x48, 0x81, 0xc0, 0, 0, 0, 0}
		if r == GDToIE {
			seq[10], seq[11] = 0x03, 0x05
			val -= 12
		}
		copy(b[off-4:], seq)
		le32.PutUint32(b[off+8:], uint32(val))
	case LDToLE:
		if nextType == elf.R_X86_64_PLT32 || nextType == elf.R_X86_64_PC32 {
			// xor %eax,%eax; mov %fs:(%rax),%rax; sub $size,%rax
			copy(b[off-3:], []byte{0x31, 0xc0, 0x64, 0x48, 0x8b, 0x00, 0x48, 0x2d, 0, 0, 0, 0})
			le32.PutUint32(b[off+5:], uint32(val))
			return
		}
		// xor %rax,%rax; mov %fs:(%rax),%rax; sub $size,%rax
		copy(b[off-3:], []byte{0x48, 0x31, 0xc0, 0x64, 0x48, 0x8b, 0x00, 0x48, 0x2d, 0, 0, 0, 0})
		le32.PutUint32(b[off+6:], uint32(val))
	case IEToLE, DescToLE:
		// mov x(%rip),%reg or lea x(%rip),%reg -> mov $x,%reg
		reg := b[off-1] >> 3 & 7
		if b[off-3] == 0x4c {
			b[off-3] = 0x49
		}
		b[off-2] = 0xc7
		b[off-1] = 0xc0 | reg
		le32.PutUint32(b[off:], uint32(val))
	case DescToIE:
		b[off-2] = 0x8b // lea -> mov
		le32.PutUint32(b[off:], uint32(val))
	case DescCallToNop:
		b[off], b[off+1] = 0x66, 0x90 // call *(%rax) -> xchg %ax,%ax
	}
}
