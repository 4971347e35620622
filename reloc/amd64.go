// Package reloc says what each x86-64 relocation writes: the dynamic ones
// the run-time linker applies (Apply, Word) and the static ones of
// relocatable objects the link editor applies (Static, in static.go).
// The formulas are the psABI's, in its terms:
//
//	A  the addend
//	B  the base address of the object being relocated (l_addr)
//	P  the place: the run-time address being written
//	S  the run-time address of the symbol the relocation refers to
//	Z  the size of that symbol
//
// plus, for thread-local storage, the defining module's id and its static
// TLS offset. Values are written through an image.Image, so the file image
// of the analysis commands and the process memory of `ldgo run` share this
// one implementation.
package reloc

import (
	"debug/elf"
	"fmt"
	"math"
	"strings"

	"github.com/ldgo/ldgo/image"
	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/lookup"
)

// R_X86_64_RELATIVE64 is not named by debug/elf.
const R_X86_64_RELATIVE64 elf.R_X86_64 = 38

// Class returns the lookup class of a relocation type (glibc's
// elf_machine_type_class).
func Class(t elf.R_X86_64) lookup.Class {
	switch t {
	case elf.R_X86_64_JMP_SLOT, elf.R_X86_64_DTPMOD64, elf.R_X86_64_DTPOFF64,
		elf.R_X86_64_TPOFF64, elf.R_X86_64_TLSDESC:
		return lookup.ClassPLT
	case elf.R_X86_64_COPY:
		return lookup.ClassCopy
	}
	return 0
}

// UsesSymbol reports whether a relocation of type t looks its symbol up.
func UsesSymbol(t elf.R_X86_64) bool {
	switch t {
	case elf.R_X86_64_NONE, elf.R_X86_64_RELATIVE, R_X86_64_RELATIVE64, elf.R_X86_64_IRELATIVE:
		return false
	}
	return true
}

// Env is what relocations need beyond memory: running IFUNC resolvers
// (through the image) and the thread-local storage layout.
type Env interface {
	image.Image
	// StaticTLSOffset returns def's offset below the thread pointer,
	// giving it static TLS if it has none yet.
	StaticTLSOffset(def *linkmap.Map) (uint64, error)
	// TLSDescriptor returns the two words of a TLS descriptor for the
	// variable at offset off in def's block (def nil: an unresolved weak
	// reference, with off the addend).
	TLSDescriptor(def *linkmap.Map, off uint64) (entry, arg uint64, err error)
}

// Terms are the values a relocation's formula uses.
type Terms struct {
	A int64
	B uint64
	P uint64
	// S is the symbol's run-time address; zero when the reference is an
	// unresolved weak one (Def nil).
	S uint64
	Z uint64
	// Def is the defining object; nil for relocations without a symbol
	// and for unresolved weak references.
	Def *linkmap.Map
	// Value is the symbol's st_value: for TLS symbols, the offset in the
	// defining module's block.
	Value uint64
	// IFunc says S is an IFUNC resolver to call for the real address.
	IFunc bool
	// RefSize is the referencing symbol's size (for COPY).
	RefSize uint64

	// The link editor's terms (see static.go): G, the GOT entry's
	// offset from GOT; GOT, the global offset table's address; L, the
	// PLT entry's address; TLS, the TLS segment's start; TP, the
	// thread pointer's link-time position.
	G, GOT, L, TLS, TP uint64
}

// Warning is a problem glibc reports without failing. A Verbose one
// glibc reports only when LD_WARN is set (dl_verbose), as ldd sets it.
type Warning struct {
	Msg     string
	Verbose bool
}

func (w *Warning) Error() string { return w.Msg }

// Word returns the word a relocation of type t with terms v writes at P,
// for the relocations whose value is an address known without running
// anything: RELATIVE (B + A), GLOB_DAT and JUMP_SLOT (S), 64 (S + A),
// their symbol not an IFUNC. Most relocations are of these types, and
// their words can be written in batches; ok is false for the rest, which
// Apply does.
func Word(t elf.R_X86_64, v *Terms) (word uint64, ok bool) {
	switch t {
	case elf.R_X86_64_RELATIVE, R_X86_64_RELATIVE64:
		return v.B + uint64(v.A), true
	case elf.R_X86_64_GLOB_DAT, elf.R_X86_64_JMP_SLOT:
		return v.S, !v.IFunc
	case elf.R_X86_64_64:
		return v.S + uint64(v.A), !v.IFunc
	}
	return 0, false
}

// Apply writes relocation t with terms v. It returns a *Warning for what
// glibc only warns about (overflow, COPY size mismatch), after writing.
func Apply(env Env, m *linkmap.Map, t elf.R_X86_64, v *Terms, skipIFunc bool) error {
	if w, ok := Word(t, v); ok {
		return image.Write64(env, v.P, w)
	}
	switch t {
	case elf.R_X86_64_NONE:
		return nil
	case elf.R_X86_64_IRELATIVE:
		target := v.B + uint64(v.A)
		if !skipIFunc {
			r, err := env.CallIFunc(target)
			if err != nil {
				return err
			}
			target = r
		}
		return image.Write64(env, v.P, target)
	}

	S := v.S
	if v.IFunc && v.Def != nil && !skipIFunc {
		r, err := env.CallIFunc(S)
		if err != nil {
			return err
		}
		S = r
	}
	switch t {
	case elf.R_X86_64_GLOB_DAT, elf.R_X86_64_JMP_SLOT, elf.R_X86_64_64:
		// An IFUNC's address is its resolver's answer (or, not
		// running it, the resolver's own).
		resolved := *v
		resolved.S, resolved.IFunc = S, false
		w, _ := Word(t, &resolved)
		return image.Write64(env, v.P, w)
	case elf.R_X86_64_32, elf.R_X86_64_SIZE32:
		val := S + uint64(v.A)
		if t == elf.R_X86_64_SIZE32 {
			// Z + A, checked as R_X86_64_32 is: glibc's case falls
			// through to it.
			val = v.Z + uint64(v.A)
		}
		if err := image.Write32(env, v.P, uint32(val)); err != nil {
			return err
		}
		if val > math.MaxUint32 {
			return &Warning{Msg: "causes overflow in R_X86_64_32 relocation"}
		}
		return nil
	case elf.R_X86_64_PC32:
		val := S + uint64(v.A) - v.P
		if err := image.Write32(env, v.P, uint32(val)); err != nil {
			return err
		}
		if int64(val) != int64(int32(val)) {
			return &Warning{Msg: "causes overflow in R_X86_64_PC32 relocation"}
		}
		return nil
	case elf.R_X86_64_SIZE64:
		return image.Write64(env, v.P, v.Z+uint64(v.A))
	case elf.R_X86_64_DTPMOD64:
		if v.Def == nil {
			return nil
		}
		return image.Write64(env, v.P, v.Def.TLSModID)
	case elf.R_X86_64_DTPOFF64:
		if v.Def == nil {
			return nil
		}
		return image.Write64(env, v.P, v.Value+uint64(v.A))
	case elf.R_X86_64_TPOFF64:
		if v.Def == nil {
			return nil
		}
		off, err := env.StaticTLSOffset(v.Def)
		if err != nil {
			return err
		}
		// The block lies below the thread pointer: a negative offset.
		return image.Write64(env, v.P, v.Value+uint64(v.A)-off)
	case elf.R_X86_64_TLSDESC:
		var entry, arg uint64
		var err error
		if v.Def == nil {
			entry, arg, err = env.TLSDescriptor(nil, uint64(v.A))
		} else {
			entry, arg, err = env.TLSDescriptor(v.Def, v.Value+uint64(v.A))
		}
		if err != nil {
			return err
		}
		if err := image.Write64(env, v.P, entry); err != nil {
			return err
		}
		return image.Write64(env, v.P+8, arg)
	case elf.R_X86_64_COPY:
		if v.Def == nil {
			return nil
		}
		if err := image.Copy(env, v.P, S, min(v.Z, v.RefSize)); err != nil {
			return err
		}
		if v.Z != v.RefSize {
			return &Warning{Msg: "has different size in shared object, consider re-linking", Verbose: v.Z < v.RefSize}
		}
		return nil
	}
	return BadTypeError{Map: m, Type: t}
}

// BadTypeError is a relocation type the dynamic linker does not handle.
type BadTypeError struct {
	Map  *linkmap.Map
	Type elf.R_X86_64
	PLT  bool
}

// Error is glibc's message (_dl_reloc_bad_type): two hex digits, or
// eight for a type above 0xff.
func (e BadTypeError) Error() string {
	kind := "reloc"
	if e.PLT {
		kind = "PLT reloc"
	}
	digits := 2
	if e.Type > 0xff {
		digits = 8
	}
	return fmt.Sprintf("unexpected %s type 0x%0*x", kind, digits, uint32(e.Type))
}

// TypeName is the psABI's name of relocation type t, as readelf prints
// it, or "type 0x..." for a type without one.
func TypeName(t elf.R_X86_64) string {
	switch t {
	case elf.R_X86_64_JMP_SLOT:
		return "R_X86_64_JUMP_SLOT"
	case R_X86_64_RELATIVE64:
		return "R_X86_64_RELATIVE64"
	}
	// debug/elf names an unknown type after the known one below it.
	if s := t.String(); strings.HasPrefix(s, "R_X86_64_") && !strings.Contains(s, "+") {
		return s
	}
	return fmt.Sprintf("type %#x", uint32(t))
}

// Size returns how many bytes at P Apply writes for a relocation of type
// t with terms v: none for a type it does not know.
func Size(t elf.R_X86_64, v *Terms) uint64 {
	switch t {
	case elf.R_X86_64_64, elf.R_X86_64_GLOB_DAT, elf.R_X86_64_JMP_SLOT,
		elf.R_X86_64_RELATIVE, R_X86_64_RELATIVE64, elf.R_X86_64_IRELATIVE, elf.R_X86_64_SIZE64:
		return 8
	case elf.R_X86_64_32, elf.R_X86_64_PC32, elf.R_X86_64_SIZE32:
		return 4
	case elf.R_X86_64_DTPMOD64, elf.R_X86_64_DTPOFF64, elf.R_X86_64_TPOFF64:
		if v.Def == nil {
			return 0
		}
		return 8
	case elf.R_X86_64_TLSDESC:
		return 16
	case elf.R_X86_64_COPY:
		if v.Def == nil {
			return 0
		}
		return min(v.Z, v.RefSize)
	}
	return 0
}
