package reloc_test

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/ldgo/ldgo/image"
	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/lookup"
	"github.com/ldgo/ldgo/reloc"
)

// The terms of the relocations below, in the psABI's letters (x86-64
// psABI, table "Relocation Types"): an object loaded at B, a place P in
// its data, a symbol at S of size Z in another object, a symbol near P
// (near), one at a low address of a non-PIE executable (low).
const (
	B    = 0x7f0000000000
	P    = B + 0x3010
	S    = 0x7f1000001040
	Z    = 24
	near = B + 0x1000
	low  = 0x400000
)

// Thread-local storage: the defining module's id, its block's offset
// below the thread pointer, a variable's offset in the block (st_value).
const (
	modID     = 3
	tlsOffset = 0x90
	tlsValue  = 0x10
)

// Addresses a test's IFUNC resolvers are at, and what they return.
const (
	resolver       = B + 0x1200
	resolved       = 0x7f2000000000
	symbolResolver = S
	symbolResolved = 0x7f3000000000
)

// memory is a file image holding the place (its bytes 0xaa until written)
// and the other object's symbol (bytes 0, 1, 2...), as the relocations'
// Env: with the resolvers above, and with TLS descriptors that say which
// variable they were asked for.
type memory struct {
	*image.File
	descriptors []string
}

func newMemory() *memory {
	img := image.NewFile()
	img.Add(image.Segment{Addr: P &^ 0xff, Size: 0x200, Data: bytes.Repeat([]byte{0xaa}, 0x200), Writable: true})
	lib := make([]byte, 0x100)
	for i := range lib {
		lib[i] = byte(i)
	}
	img.Add(image.Segment{Addr: S &^ 0xff, Size: 0x100, Data: lib})
	return &memory{File: img}
}

func (m *memory) CallIFunc(addr uint64) (uint64, error) {
	switch addr {
	case resolver:
		return resolved, nil
	case symbolResolver:
		return symbolResolved, nil
	}
	return 0, fmt.Errorf("no IFUNC resolver at %#x", addr)
}

func (m *memory) StaticTLSOffset(def *linkmap.Map) (uint64, error) {
	if !def.HasStaticTLS {
		return 0, errors.New("cannot allocate memory in static TLS block")
	}
	return def.TLSOffset, nil
}

const descEntry, descArg = 0xe0e0, 0xa0a0

func (m *memory) TLSDescriptor(def *linkmap.Map, off uint64) (uint64, uint64, error) {
	who := "undefined weak"
	if def != nil {
		who = fmt.Sprintf("module %d", def.TLSModID)
	}
	m.descriptors = append(m.descriptors, fmt.Sprintf("%s offset %#x", who, off))
	return descEntry, descArg + off, nil
}

// The defining objects.
var (
	lib    = &linkmap.Map{Name: "lib.so"}
	tlsLib = &linkmap.Map{Name: "tls.so", TLSModID: modID, TLSOffset: tlsOffset, HasStaticTLS: true}
	// dynTLS has its TLS in per-thread blocks only.
	dynTLS = &linkmap.Map{Name: "dyn.so", TLSModID: modID}
)

// le32 and le64 are values as a relocation writes them, in two's
// complement: le32 the low 32 bits of one.
func le32(v int64) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(v)) }
func le64(v ...int64) []byte {
	var b []byte
	for _, w := range v {
		b = binary.LittleEndian.AppendUint64(b, uint64(w))
	}
	return b
}

// TestFormulas applies each relocation type to the place P and compares
// what it wrote there with the psABI's formula for it, computed here, and
// what glibc's elf_machine_rela does beyond the formula (overflow
// warnings, COPY sizes, IFUNC resolvers, unresolved weak references).
func TestFormulas(t *testing.T) {
	for _, tc := range []struct {
		name      string
		typ       elf.R_X86_64
		terms     reloc.Terms // P is set to P
		skipIFunc bool
		want      []byte // the bytes written at P; nil for none
		warning   string
		verbose   bool // the warning is glibc's for LD_WARN only
		err       string
		desc      string // the TLS descriptor asked for
	}{
		{name: "NONE writes nothing", typ: elf.R_X86_64_NONE, terms: reloc.Terms{S: S, A: 8, Def: lib}},

		{name: "64: S + A", typ: elf.R_X86_64_64, terms: reloc.Terms{S: S, A: 16, Def: lib}, want: le64(S + 16)},
		{name: "64: S + A, negative addend", typ: elf.R_X86_64_64, terms: reloc.Terms{S: S, A: -4, Def: lib}, want: le64(S - 4)},
		{name: "64: an unresolved weak symbol is 0", typ: elf.R_X86_64_64, terms: reloc.Terms{A: 16}, want: le64(16)},

		{name: "PC32: S + A - P", typ: elf.R_X86_64_PC32, terms: reloc.Terms{S: near, A: -4, Def: lib}, want: le32(near - 4 - P)},
		{name: "PC32: out of range, written and warned", typ: elf.R_X86_64_PC32, terms: reloc.Terms{S: S, A: -4, Def: lib},
			want: le32(S - 4 - P), warning: "causes overflow in R_X86_64_PC32 relocation"},

		{name: "GLOB_DAT: S, no addend", typ: elf.R_X86_64_GLOB_DAT, terms: reloc.Terms{S: S, A: 16, Def: lib}, want: le64(S)},
		{name: "JUMP_SLOT: S, no addend", typ: elf.R_X86_64_JMP_SLOT, terms: reloc.Terms{S: S, A: 16, Def: lib}, want: le64(S)},
		{name: "RELATIVE: B + A", typ: elf.R_X86_64_RELATIVE, terms: reloc.Terms{B: B, A: 0x1234}, want: le64(B + 0x1234)},
		{name: "RELATIVE64: B + A", typ: reloc.R_X86_64_RELATIVE64, terms: reloc.Terms{B: B, A: 0x1234}, want: le64(B + 0x1234)},

		{name: "32: S + A", typ: elf.R_X86_64_32, terms: reloc.Terms{S: low, A: 8, Def: lib}, want: le32(low + 8)},
		{name: "32: out of range, written and warned", typ: elf.R_X86_64_32, terms: reloc.Terms{S: S, A: 8, Def: lib},
			want: le32(S + 8), warning: "causes overflow in R_X86_64_32 relocation"},

		{name: "SIZE64: Z + A", typ: elf.R_X86_64_SIZE64, terms: reloc.Terms{S: S, Z: Z, A: 16, Def: lib}, want: le64(Z + 16)},
		{name: "SIZE32: Z + A", typ: elf.R_X86_64_SIZE32, terms: reloc.Terms{S: S, Z: Z, A: 16, Def: lib}, want: le32(Z + 16)},
		// glibc checks SIZE32 as it checks 32 (the case falls through).
		{name: "SIZE32: out of range, written and warned", typ: elf.R_X86_64_SIZE32, terms: reloc.Terms{S: S, Z: Z, A: -32, Def: lib},
			want: le32(Z - 32), warning: "causes overflow in R_X86_64_32 relocation"},

		{name: "DTPMOD64: the module id", typ: elf.R_X86_64_DTPMOD64, terms: reloc.Terms{Value: tlsValue, Def: tlsLib}, want: le64(modID)},
		{name: "DTPMOD64: nothing for an unresolved weak symbol", typ: elf.R_X86_64_DTPMOD64, terms: reloc.Terms{}},
		{name: "DTPOFF64: the offset in the module's block", typ: elf.R_X86_64_DTPOFF64, terms: reloc.Terms{Value: tlsValue, A: 8, Def: tlsLib}, want: le64(tlsValue + 8)},
		{name: "DTPOFF64: nothing for an unresolved weak symbol", typ: elf.R_X86_64_DTPOFF64, terms: reloc.Terms{A: 8}},
		{name: "TPOFF64: the offset from the thread pointer, negative", typ: elf.R_X86_64_TPOFF64, terms: reloc.Terms{Value: tlsValue, A: 8, Def: tlsLib},
			want: le64(tlsValue + 8 - tlsOffset)},
		{name: "TPOFF64: a module without static TLS", typ: elf.R_X86_64_TPOFF64, terms: reloc.Terms{Value: tlsValue, Def: dynTLS},
			err: "cannot allocate memory in static TLS block"},
		{name: "TPOFF64: nothing for an unresolved weak symbol", typ: elf.R_X86_64_TPOFF64, terms: reloc.Terms{A: 8}},
		{name: "TLSDESC: a descriptor for the variable", typ: elf.R_X86_64_TLSDESC, terms: reloc.Terms{Value: tlsValue, A: 8, Def: tlsLib},
			want: le64(descEntry, descArg+tlsValue+8), desc: "module 3 offset 0x18"},
		{name: "TLSDESC: an unresolved weak symbol's descriptor", typ: elf.R_X86_64_TLSDESC, terms: reloc.Terms{A: 8},
			want: le64(descEntry, descArg+8), desc: "undefined weak offset 0x8"},

		{name: "COPY: the symbol's bytes", typ: elf.R_X86_64_COPY, terms: reloc.Terms{S: S, Z: Z, RefSize: Z, Def: lib},
			want: []byte{0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57}},
		{name: "COPY: a larger definition, the copy's size and a warning", typ: elf.R_X86_64_COPY, terms: reloc.Terms{S: S, Z: 32, RefSize: 4, Def: lib},
			want: []byte{0x40, 0x41, 0x42, 0x43}, warning: "has different size in shared object, consider re-linking"},
		{name: "COPY: a smaller definition, its size and a warning for LD_WARN", typ: elf.R_X86_64_COPY, terms: reloc.Terms{S: S, Z: 2, RefSize: Z, Def: lib},
			want: []byte{0x40, 0x41}, warning: "has different size in shared object, consider re-linking", verbose: true},
		{name: "COPY: nothing for a missing definition", typ: elf.R_X86_64_COPY, terms: reloc.Terms{RefSize: Z}},

		{name: "IRELATIVE: the resolver at B + A", typ: elf.R_X86_64_IRELATIVE, terms: reloc.Terms{B: B, A: resolver - B}, want: le64(resolved)},
		{name: "IRELATIVE: B + A, resolvers not run", typ: elf.R_X86_64_IRELATIVE, terms: reloc.Terms{B: B, A: resolver - B}, skipIFunc: true, want: le64(resolver)},
		{name: "GLOB_DAT of an IFUNC: its resolver's answer", typ: elf.R_X86_64_GLOB_DAT, terms: reloc.Terms{S: S, IFunc: true, Def: lib}, want: le64(symbolResolved)},
		{name: "64 of an IFUNC: its resolver's answer + A", typ: elf.R_X86_64_64, terms: reloc.Terms{S: S, A: 8, IFunc: true, Def: lib}, want: le64(symbolResolved + 8)},
		{name: "JUMP_SLOT of an IFUNC, resolvers not run", typ: elf.R_X86_64_JMP_SLOT, terms: reloc.Terms{S: S, IFunc: true, Def: lib}, skipIFunc: true, want: le64(S)},

		// Types a dynamic linker does not meet: glibc's _dl_reloc_bad_type.
		{name: "32S is not a dynamic relocation", typ: elf.R_X86_64_32S, terms: reloc.Terms{S: S, Def: lib}, err: "unexpected reloc type 0x0b"},
		{name: "PC64 is not a dynamic relocation", typ: elf.R_X86_64_PC64, terms: reloc.Terms{S: S, Def: lib}, err: "unexpected reloc type 0x18"},
		{name: "GOTPCRELX is not a dynamic relocation", typ: elf.R_X86_64_GOTPCRELX, terms: reloc.Terms{S: S, Def: lib}, err: "unexpected reloc type 0x29"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := newMemory()
			terms := tc.terms
			terms.P = P
			err := reloc.Apply(mem, lib, tc.typ, &terms, tc.skipIFunc)
			var warning *reloc.Warning
			switch {
			case errors.As(err, &warning):
				if warning.Msg != tc.warning || warning.Verbose != tc.verbose {
					t.Errorf("warning %q (verbose %v), want %q (verbose %v)", warning.Msg, warning.Verbose, tc.warning, tc.verbose)
				}
			case err != nil:
				if err.Error() != tc.err {
					t.Errorf("error %q, want %q", err, tc.err)
				}
			case tc.err != "" || tc.warning != "":
				t.Errorf("no error or warning, want %q%q", tc.err, tc.warning)
			}
			got := make([]byte, 32)
			if err := mem.ReadAt(got, P); err != nil {
				t.Fatal(err)
			}
			want := append(append([]byte{}, tc.want...), bytes.Repeat([]byte{0xaa}, 32-len(tc.want))...)
			if !bytes.Equal(got, want) {
				t.Errorf("wrote\n\t% x\nwant\n\t% x", got, want)
			}
			if got := fmt.Sprint(mem.descriptors); got != fmt.Sprint(nonEmpty(tc.desc)) {
				t.Errorf("TLS descriptors asked for: %s, want %s", got, nonEmpty(tc.desc))
			}
		})
	}
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// TestClasses: the lookup class of each type, glibc's
// elf_machine_type_class for x86-64: PLT for JUMP_SLOT and the TLS
// references, COPY for COPY, none for the rest.
func TestClasses(t *testing.T) {
	for typ, want := range map[elf.R_X86_64]lookup.Class{
		elf.R_X86_64_JMP_SLOT: lookup.ClassPLT,
		elf.R_X86_64_DTPMOD64: lookup.ClassPLT,
		elf.R_X86_64_DTPOFF64: lookup.ClassPLT,
		elf.R_X86_64_TPOFF64:  lookup.ClassPLT,
		elf.R_X86_64_TLSDESC:  lookup.ClassPLT,
		elf.R_X86_64_COPY:     lookup.ClassCopy,
		elf.R_X86_64_GLOB_DAT: 0,
		elf.R_X86_64_64:       0,
		elf.R_X86_64_PC32:     0,
		elf.R_X86_64_32:       0,
		elf.R_X86_64_SIZE64:   0,
	} {
		if got := reloc.Class(typ); got != want {
			t.Errorf("Class(%v) = %d, want %d", typ, got, want)
		}
	}
}
