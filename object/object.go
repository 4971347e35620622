// Package object reads one ELF64 x86-64 object the way a dynamic linker
// sees it: through its program headers and its dynamic section, never its
// section headers (stripped files have none).
//
// The same reader serves a file on disk and an object that is already
// mapped in the process: both are a [Source] that hands out the bytes at a
// link-time virtual address. Everything the loader needs afterwards — dynamic
// tags, the dynamic symbol table and its hash tables, symbol versions,
// relocation tables, TLS, RELRO — is decoded from those bytes and checked
// against their bounds, so a hostile file yields an error, never a panic,
// and memory stays proportional to the file's size.
package object

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
)

var le = binary.LittleEndian

// Sizes of the ELF64 records the loader reads.
const (
	ehdrSize = 64
	phdrSize = 56
	dynSize  = 16
	symSize  = 24
	relaSize = 24
	pageSize = 4096
)

// Error is a failure to use an object, with the object's name and a cause
// worded as glibc's ld.so words it where it has words.
type Error struct {
	Name  string // the file or object
	Cause string // e.g. "invalid ELF header", "file too short"
	Err   error  // an underlying system error, if any
}

func (e *Error) Error() string {
	// An error kept only for errors.Is (ErrOtherClass) is the cause
	// itself: it is not said twice.
	if e.Err != nil && ErrorText(e.Err) != e.Cause {
		return fmt.Sprintf("%s: %s: %s", e.Name, e.Cause, ErrorText(e.Err))
	}
	return fmt.Sprintf("%s: %s", e.Name, e.Cause)
}

func (e *Error) Unwrap() error { return e.Err }

// CauseOpen is the cause of an object that cannot be opened; its Err is
// the system's error.
const CauseOpen = "cannot open shared object file"

// ErrOtherClass is returned (wrapped in *Error) for a 32-bit ELF object:
// glibc skips such files while searching and reports
// "wrong ELF class: ELFCLASS32" only when nothing else was found.
var ErrOtherClass = errors.New("wrong ELF class: ELFCLASS32")

// ErrOtherMachine is returned (wrapped in *Error) for an object built for a
// machine other than x86-64; glibc skips such files while searching.
var ErrOtherMachine = errors.New("wrong machine")

// Prog is one program header.
type Prog struct {
	Type   elf.ProgType
	Flags  elf.ProgFlag
	Off    uint64
	Vaddr  uint64
	Filesz uint64
	Memsz  uint64
	Align  uint64
}

// Range is a span of link-time virtual addresses.
type Range struct {
	Addr, Size uint64
}

// TLS describes an object's PT_TLS segment: the initial image of its
// thread-local block and the block's size and alignment.
type TLS struct {
	Image     Range  // initialised data (p_vaddr, p_filesz)
	BlockSize uint64 // p_memsz
	Align     uint64 // p_align
	// FirstByte is p_vaddr modulo p_align: the block's first byte sits
	// that far past an aligned address.
	FirstByte uint64
}

// Object is one ELF object as the dynamic linker sees it.
type Object struct {
	Name  string // how the object was named when it was read
	Type  elf.Type
	Entry uint64
	Progs []Prog
	// Phdr is the link-time address of the program headers in memory
	// (PT_PHDR, or derived from the segment holding them); 0 if none.
	Phdr uint64

	Interp     string // PT_INTERP, if any
	TLS        *TLS   // PT_TLS, if any and non-empty
	Relro      Range  // PT_GNU_RELRO, if any
	StackFlags elf.ProgFlag
	HasStack   bool // PT_GNU_STACK present

	// Dynamic is the PT_DYNAMIC segment's address; zero Size means the
	// object has no dynamic section (a static executable).
	Dynamic Range
	Dyn     Dynamic

	src    Source
	symtab []byte
	strtab string // DT_STRTAB where it lies (see readDynamic)
	kept   keptNames
	nsyms  int
	gnu    *gnuHash
	sysv   *sysvHash
	versym []byte

	// Versions is indexed by a symbol's version index (versym & 0x7fff),
	// as glibc's l_versions: the versions this object needs (from
	// DT_VERNEED) and those it defines (from DT_VERDEF, base excluded).
	Versions []Version
	Verdefs  []Verdef
	Verneeds []Verneed
}

// LoadBounds returns the lowest page-aligned and highest address covered by
// the object's PT_LOAD segments.
func (o *Object) LoadBounds() (lo, hi uint64) {
	first := true
	for _, p := range o.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		start := p.Vaddr &^ (pageSize - 1)
		end := p.Vaddr + p.Memsz
		if first || start < lo {
			lo = start
		}
		if first || end > hi {
			hi = end
		}
		first = false
	}
	return lo, hi
}

// Bytes returns n bytes at the link-time address addr.
func (o *Object) Bytes(addr, n uint64) ([]byte, error) {
	return o.src.Bytes(addr, n)
}

// Source returns the bytes the object was read from.
func (o *Object) Source() Source { return o.src }

// Parse reads an object whose ELF header and program headers are given,
// taking everything else from src. name is used in errors.
//
// When dynRelocated is set, the pointer-valued dynamic tags that glibc's
// ld.so adjusts in place (DT_STRTAB, DT_SYMTAB, DT_HASH, ...) already hold
// run-time addresses and base is subtracted from them: this is how an
// object that glibc loaded looks in memory.
func Parse(name string, hdr Header, progs []Prog, src Source, base uint64, dynRelocated bool) (*Object, error) {
	o := &Object{
		Name:  name,
		Type:  hdr.Type,
		Entry: hdr.Entry,
		Progs: progs,
		src:   src,
	}
	if err := o.readProgs(hdr); err != nil {
		return nil, err
	}
	if err := o.readInterp(); err != nil {
		return nil, err
	}
	if o.Dynamic.Size == 0 {
		return o, nil
	}
	if err := o.readDynamic(base, dynRelocated); err != nil {
		return nil, err
	}
	if err := o.readSymbols(); err != nil {
		return nil, err
	}
	if err := o.readVersions(); err != nil {
		return nil, err
	}
	return o, nil
}

func (o *Object) errorf(format string, args ...any) error {
	return &Error{Name: o.Name, Cause: fmt.Sprintf(format, args...)}
}

func (o *Object) readProgs(hdr Header) error {
	nload := 0
	for _, p := range o.Progs {
		switch p.Type {
		case elf.PT_LOAD:
			if (p.Vaddr-p.Off)&(pageSize-1) != 0 {
				return o.errorf("ELF load command address/offset not page-aligned")
			}
			if p.Filesz > p.Memsz {
				return o.errorf("ELF load command has file size beyond memory size")
			}
			if p.Vaddr+p.Memsz < p.Vaddr {
				return o.errorf("ELF load command wraps the address space")
			}
			nload++
		case elf.PT_DYNAMIC:
			if p.Filesz == 0 {
				return o.errorf("object file has no dynamic section")
			}
			o.Dynamic = Range{p.Vaddr, p.Memsz}
		case elf.PT_PHDR:
			o.Phdr = p.Vaddr
		case elf.PT_TLS:
			if p.Memsz == 0 {
				continue
			}
			if p.Filesz > p.Memsz {
				return o.errorf("PT_TLS has file size beyond memory size")
			}
			t := &TLS{Image: Range{p.Vaddr, p.Filesz}, BlockSize: p.Memsz, Align: p.Align}
			if p.Align != 0 {
				if p.Align&(p.Align-1) != 0 {
					return o.errorf("PT_TLS alignment %#x is not a power of two", p.Align)
				}
				t.FirstByte = p.Vaddr & (p.Align - 1)
			}
			o.TLS = t
		case elf.PT_GNU_RELRO:
			o.Relro = Range{p.Vaddr, p.Memsz}
		case elf.PT_GNU_STACK:
			o.StackFlags = p.Flags
			o.HasStack = true
		}
	}
	if nload == 0 {
		return o.errorf("object file has no loadable segments")
	}
	if o.Phdr == 0 {
		// Without PT_PHDR the headers are where the segment mapping
		// file offset e_phoff puts them, as glibc computes.
		for _, p := range o.Progs {
			if p.Type == elf.PT_LOAD && p.Off <= hdr.Phoff && hdr.Phoff+uint64(len(o.Progs))*phdrSize <= p.Off+p.Filesz {
				o.Phdr = p.Vaddr + hdr.Phoff - p.Off
				break
			}
		}
	}
	return nil
}

// readInterp reads the PT_INTERP string.
func (o *Object) readInterp() error {
	for _, p := range o.Progs {
		if p.Type == elf.PT_INTERP {
			b, err := o.src.Bytes(p.Vaddr, p.Filesz)
			if err != nil {
				return o.errorf("PT_INTERP outside the loaded segments")
			}
			o.Interp = cstring(b)
		}
	}
	return nil
}

// cstring returns b up to its first NUL byte.
func cstring(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
