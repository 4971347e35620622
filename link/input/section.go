package input

import (
	"debug/elf"

	"github.com/ldgo/ldgo/object"
)

// Section is one section of a relocatable object that may go to the
// output. Its contents are the input file's bytes (mapped, not copied).
//
// The fields after the section header's are filled in by the passes that
// follow reading, each named with its field; a pass only writes the
// fields of the sections it owns, so files can be worked on in parallel.
type Section struct {
	File    *Object
	Index   uint32 // section header index in File
	Name    string
	Type    elf.SectionType
	Flags   elf.SectionFlag
	Align   uint64
	Entsize uint64
	Size    uint64
	Data    []byte // nil for SHT_NOBITS
	Link    uint32
	Info    uint32
	// Relocs are the section's relocations (its SHT_RELA section),
	// each checked: a known type, a symbol in range, a field inside
	// the section.
	Relocs object.RelaTable
	Group  *Group // the section group it belongs to, if any
	// EhRecords are the CIEs and FDEs of an .eh_frame section.
	EhRecords []EhRecord

	// Keep says a linker script's KEEP names the section: garbage
	// collection keeps it whatever refers to it.
	Keep bool

	// Discarded is set by symbol resolution (a COMDAT group kept from
	// another object) and by garbage collection.
	Discarded bool
	// Offset is the section's offset in its output section, FileOff in
	// the output file, Addr its address; set by layout. OutIndex is the
	// index of the output section header it is part of.
	Addr     uint64
	Offset   uint64
	FileOff  uint64
	OutIndex uint32
	// InOutput says an output section (or the synthetic section that
	// owns it) took the section; set by layout.
	InOutput bool
	// Generated says the link editor made the section (the merged
	// pieces of SHF_MERGE sections, listed in Merged): its Data is
	// written as it is.
	Generated bool
	Merged    []*Section
	// Placement, for sections whose bytes are not copied as one block
	// (.eh_frame), maps an input offset to an output address; set by
	// the synthetic section that owns them.
	Placement func(off uint64) uint64

	// Decided holds the relocation scan's decision of each relocation,
	// packed by package scan, for the writer to make it by.
	Decided []uint16

	// DynRelative and DynOther count the dynamic relocations the
	// section's relocations produce (RELATIVE ones, and the rest);
	// set by the relocation scan. RelativeAt and OtherAt are where in
	// .rela.dyn they are written; set when .rela.dyn is sized.
	DynRelative, DynOther uint32
	RelativeAt, OtherAt   uint32
}

// Dropped stands for a section that no output takes (.note.gnu.property,
// LTO data, SHF_EXCLUDE sections): symbols defined in it are as if in a
// discarded section. It is never written to.
var Dropped = &Section{Name: "*dropped*", Discarded: true, File: &Object{Name: "*dropped*"}}

// IsMerged reports whether the section's pieces went to a merged
// section: a relocation against its section symbol then maps the value
// plus the addend, not the value alone.
func (s *Section) IsMerged() bool { return s.Flags&elf.SHF_MERGE != 0 && s.Placement != nil }

// Alloc reports whether the section occupies memory at run time.
func (s *Section) Alloc() bool { return s.Flags&elf.SHF_ALLOC != 0 }

// AddrOf returns the output address of offset off in the section.
func (s *Section) AddrOf(off uint64) uint64 {
	if s.Placement != nil {
		return s.Placement(off)
	}
	return s.Addr + off
}

// String names the section as GNU ld does in messages: "file(.text)".
func (s *Section) String() string { return s.File.Name + "(" + s.Name + ")" }
