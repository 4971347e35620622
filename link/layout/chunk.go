// Package layout decides where everything goes in the output: which
// output section each input section joins (GNU ld's default script's
// rules: .text.* into .text, .rodata.* into .rodata, .init_array.N by
// priority, ...), the order of the output sections, the segments that
// hold them (read-only, code and data apart, as -z separate-code; RELRO
// ending on a page boundary, as GNU ld places it), and the address and
// file offset of every section.
//
// Everything laid out is a Chunk: an output section made of input
// sections (Section), or a synthetic section the link editor writes
// itself (package synth). Sizes are known before Assign; Assign gives
// addresses and offsets and returns the program headers.
package layout

import (
	"debug/elf"

	"github.com/ldgo/ldgo/link/input"
	"github.com/ldgo/ldgo/link/script"
)

// Chunk is a part of the output with a section header.
type Chunk interface {
	Header() *Header
}

// Header is a chunk's section header, and where it was placed.
type Header struct {
	Name    string
	Type    elf.SectionType
	Flags   elf.SectionFlag
	Align   uint64
	Entsize uint64
	Size    uint64
	// Link and InfoChunk name the sections sh_link and sh_info refer
	// to; Info is a plain sh_info value otherwise.
	Link      Chunk
	InfoChunk Chunk
	Info      uint32
	// KeepEmpty keeps the section in the output with size zero.
	KeepEmpty bool
	// Emptied are the empty output sections Order left out after this
	// one: Assign places their (empty) members at its end, so that
	// the symbols defined in them have addresses, as in GNU ld.
	Emptied []*Section

	// Set by Assign.
	Addr   uint64
	Offset uint64
	Index  uint32 // section header index
	Relro  bool
}

// Alloc reports whether the chunk is loaded.
func (h *Header) Alloc() bool { return h.Flags&elf.SHF_ALLOC != 0 }

// Section is an output section made of input sections.
type Section struct {
	Hdr     Header
	Members []*input.Section
	// Insert is where a linker script's INSERT puts the section; nil
	// for the default layout's sections.
	Insert *script.Insert
}

func (s *Section) Header() *Header { return &s.Hdr }

// pack gives each member its offset in the section and sets the
// section's size and alignment.
func (s *Section) pack() {
	var off uint64
	align := s.Hdr.Align
	for _, m := range s.Members {
		off = alignUp(off, m.Align)
		m.Offset = off
		off += m.Size
		align = max(align, m.Align)
	}
	s.Hdr.Size = off
	s.Hdr.Align = max(align, 1)
}

// place sets the members' addresses and output section index once the
// section has its own.
func (s *Section) place() {
	for _, m := range s.Members {
		m.Addr = s.Hdr.Addr + m.Offset
		m.FileOff = s.Hdr.Offset + m.Offset
		m.OutIndex = s.Hdr.Index
		for _, in := range m.Merged {
			in.OutIndex = s.Hdr.Index
		}
	}
}

func alignUp(v, a uint64) uint64 {
	if a <= 1 {
		return v
	}
	return (v + a - 1) &^ (a - 1)
}

// Repack lays the members out again after some were added.
func (s *Section) Repack() { s.pack() }
