package input

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"strings"
	"unsafe"

	"github.com/ldgo/ldgo/object"
	"github.com/ldgo/ldgo/reloc"
)

var le = binary.LittleEndian

// Bounds on what a section may ask for, far beyond any real one, so that
// addresses computed from them cannot wrap.
const (
	maxAlign  = 1 << 32
	maxNobits = 1 << 40
)

const (
	ehdrSize = 64
	shdrSize = 64
	relaSize = 24
)

// Object is a relocatable object file (ET_REL): on its own, or a member
// of an archive.
type Object struct {
	// Name is how messages name the object: its path, or
	// "archive(member)" as GNU ld writes it.
	Name string
	Data []byte
	// Sections is indexed by section header index. Sections that only
	// describe others (symbol and string tables, relocations, groups)
	// and those dropped from every output (SHF_EXCLUDE) are nil.
	Sections []*Section
	// Symbols is the symbol table; index 0 is the null symbol.
	Symbols []Symbol
	// FirstGlobal is the index of the first non-local symbol.
	FirstGlobal int
	Groups      []*Group
	// SourceName is the first STT_FILE symbol's name: the source file
	// GNU ld names in messages without debug information.
	SourceName string
	// HasGNUStack says a .note.GNU-stack section is present; ExecStack
	// that it asks for an executable stack.
	HasGNUStack bool
	ExecStack   bool
	// Properties are the object's .note.gnu.property entries, nil when
	// it has none.
	Properties []Property
	// LTO says the object holds GCC's LTO intermediate code only.
	LTO bool
}

// Symbol is one entry of an object's symbol table.
type Symbol struct {
	Sym  object.Sym
	Name string
	// Shndx is the section index, extended through SHT_SYMTAB_SHNDX.
	Shndx uint32
}

// Defined reports whether the symbol is a definition in this object
// (in a section, absolute, or common).
func (s *Symbol) Defined() bool { return s.Shndx != uint32(elf.SHN_UNDEF) }

// Common reports whether the symbol is a common block.
func (s *Symbol) Common() bool { return s.Shndx == uint32(elf.SHN_COMMON) }

// Absolute reports whether the symbol's value is an absolute address.
func (s *Symbol) Absolute() bool { return s.Shndx == uint32(elf.SHN_ABS) }

// Group is a section group (SHT_GROUP).
type Group struct {
	Signature string
	// SignatureSym is the signature's symbol table index.
	SignatureSym uint32
	COMDAT       bool
	Members      []uint32 // section indices
	// Discarded is set by symbol resolution when another object's
	// group of the same signature is kept.
	Discarded bool
}

// Property is one GNU property (NT_GNU_PROPERTY_TYPE_0).
type Property struct {
	Type uint32
	Data []byte
}

// Error is a problem with an input file, worded as GNU ld words it where
// it has words: "FILE: CAUSE".
type Error struct {
	File  string
	Cause string
}

func (e *Error) Error() string { return e.File + ": " + e.Cause }

func (f *Object) errorf(format string, args ...any) error {
	return &Error{File: f.Name, Cause: fmt.Sprintf(format, args...)}
}

// ParseObject reads a relocatable object from its contents. name names it
// in messages. Everything the link uses is checked against the file's
// bounds here, so later passes index without checking again.
func ParseObject(name string, data []byte) (*Object, error) {
	f := &Object{Name: name, Data: data}
	if err := f.parse(); err != nil {
		return nil, err
	}
	return f, nil
}

type shdr struct {
	name      uint32
	typ       elf.SectionType
	flags     elf.SectionFlag
	off, size uint64
	link      uint32
	info      uint32
	align     uint64
	entsize   uint64
}

func (f *Object) parse() error {
	d := f.Data
	if len(d) < ehdrSize || string(d[:4]) != elf.ELFMAG {
		return f.errorf("file not recognized: file format not recognized")
	}
	if elf.Class(d[elf.EI_CLASS]) != elf.ELFCLASS64 || elf.Data(d[elf.EI_DATA]) != elf.ELFDATA2LSB {
		return f.errorf("file in wrong format")
	}
	if m := elf.Machine(le.Uint16(d[18:])); m != elf.EM_X86_64 {
		return f.errorf("file in wrong format (machine %v)", m)
	}
	if t := elf.Type(le.Uint16(d[16:])); t != elf.ET_REL {
		return f.errorf("not a relocatable object (type %v)", t)
	}
	shoff := le.Uint64(d[40:])
	shentsize := le.Uint16(d[58:])
	shnum := uint64(le.Uint16(d[60:]))
	shstrndx := uint32(le.Uint16(d[62:]))
	if shoff == 0 {
		return f.errorf("file has no section headers")
	}
	if shentsize != shdrSize {
		return f.errorf("file in wrong format (section header size %d)", shentsize)
	}
	if shoff > uint64(len(d)) || uint64(len(d))-shoff < shdrSize {
		return f.errorf("file truncated: section headers outside the file")
	}
	first := readShdr(d[shoff:])
	if shnum == 0 {
		shnum = first.size
	}
	if shstrndx == uint32(elf.SHN_XINDEX) {
		shstrndx = first.link
	}
	if shnum > (uint64(len(d))-shoff)/shdrSize {
		return f.errorf("file truncated: %d section headers do not fit the file", shnum)
	}
	hdrs := make([]shdr, shnum)
	for i := range hdrs {
		h := readShdr(d[shoff+uint64(i)*shdrSize:])
		if h.typ != elf.SHT_NOBITS && h.typ != elf.SHT_NULL && (h.off > uint64(len(d)) || h.size > uint64(len(d))-h.off) {
			return f.errorf("file truncated: section %d lies outside the file", i)
		}
		if h.align == 0 {
			h.align = 1
		}
		if h.align&(h.align-1) != 0 || h.align > maxAlign {
			return f.errorf("section %d: alignment %#x is not a power of two up to %#x", i, h.align, maxAlign)
		}
		if h.typ == elf.SHT_NOBITS && h.size > maxNobits {
			return f.errorf("section %d: size %#x too large", i, h.size)
		}
		hdrs[i] = h
	}
	if shstrndx == 0 || uint64(shstrndx) >= shnum || hdrs[shstrndx].typ != elf.SHT_STRTAB {
		return f.errorf("section name string table index %d is not a string table", shstrndx)
	}
	shstr := f.bytes(hdrs[shstrndx])
	name := func(i int) (string, error) {
		off := hdrs[i].name
		if uint64(off) >= uint64(len(shstr)) {
			return "", f.errorf("section %d: name offset %#x outside the section name table", i, off)
		}
		return cstr(shstr[off:]), nil
	}

	f.Sections = make([]*Section, shnum)
	symtab := -1
	for i := 1; i < len(hdrs); i++ {
		h := hdrs[i]
		n, err := name(i)
		if err != nil {
			return err
		}
		switch h.typ {
		case elf.SHT_SYMTAB:
			if symtab >= 0 {
				return f.errorf("more than one symbol table")
			}
			symtab = i
			continue
		case elf.SHT_STRTAB, elf.SHT_RELA, elf.SHT_GROUP, elf.SHT_SYMTAB_SHNDX, elf.SHT_NULL:
			continue
		case elf.SHT_REL:
			return f.errorf("section %s: SHT_REL relocations are not used on x86-64", n)
		}
		if strings.HasPrefix(n, ".gnu.lto_") {
			f.LTO = true
		}
		switch n {
		case ".note.GNU-stack":
			f.HasGNUStack = true
			f.ExecStack = h.flags&elf.SHF_EXECINSTR != 0
			continue
		case ".note.gnu.property":
			if err := f.readProperties(f.bytes(h)); err != nil {
				return err
			}
			continue
		}
		if h.flags&shfExclude != 0 || strings.HasPrefix(n, ".gnu.lto_") {
			continue
		}
		s := &Section{
			File: f, Index: uint32(i), Name: n, Type: h.typ, Flags: h.flags,
			Align: h.align, Entsize: h.entsize, Size: h.size, Link: h.link, Info: h.info,
		}
		if h.typ != elf.SHT_NOBITS {
			s.Data = f.bytes(h)
		}
		f.Sections[i] = s
	}
	if symtab >= 0 {
		if err := f.readSymbols(hdrs, symtab); err != nil {
			return err
		}
	}
	for i := 1; i < len(hdrs); i++ {
		var err error
		switch hdrs[i].typ {
		case elf.SHT_RELA:
			err = f.readRelocs(hdrs, i, symtab)
		case elf.SHT_GROUP:
			err = f.readGroup(hdrs, i, symtab)
		}
		if err != nil {
			return err
		}
	}
	for _, s := range f.Sections {
		if s != nil && s.Name == ".eh_frame" {
			if err := s.splitEhFrame(); err != nil {
				return err
			}
		}
	}
	return nil
}

func readShdr(b []byte) shdr {
	return shdr{
		name:    le.Uint32(b[0:]),
		typ:     elf.SectionType(le.Uint32(b[4:])),
		flags:   elf.SectionFlag(le.Uint64(b[8:])),
		off:     le.Uint64(b[24:]),
		size:    le.Uint64(b[32:]),
		link:    le.Uint32(b[40:]),
		info:    le.Uint32(b[44:]),
		align:   le.Uint64(b[48:]),
		entsize: le.Uint64(b[56:]),
	}
}

// bytes returns a section's contents; the bounds were checked.
func (f *Object) bytes(h shdr) []byte {
	if h.typ == elf.SHT_NOBITS {
		return nil
	}
	return f.Data[h.off : h.off+h.size : h.off+h.size]
}

// cstr returns b up to its first NUL as a string sharing b's memory: the
// input stays mapped for the whole link, and names are many.
func cstr(b []byte) string {
	n := 0
	for n < len(b) && b[n] != 0 {
		n++
	}
	if n == 0 {
		return ""
	}
	return unsafe.String(&b[0], n)
}

func (f *Object) readSymbols(hdrs []shdr, idx int) error {
	h := hdrs[idx]
	if h.entsize != object.SymSize || h.size%object.SymSize != 0 {
		return f.errorf("symbol table entry size %d, size %d", h.entsize, h.size)
	}
	if h.link == 0 || uint64(h.link) >= uint64(len(hdrs)) || hdrs[h.link].typ != elf.SHT_STRTAB {
		return f.errorf("symbol table's string table index %d is not a string table", h.link)
	}
	strtab := f.bytes(hdrs[h.link])
	var shndx []byte
	for i := range hdrs {
		if hdrs[i].typ == elf.SHT_SYMTAB_SHNDX && hdrs[i].link == uint32(idx) {
			shndx = f.bytes(hdrs[i])
		}
	}
	raw := f.bytes(h)
	n := len(raw) / object.SymSize
	if h.info > uint32(n) {
		return f.errorf("symbol table: first global %d beyond its %d symbols", h.info, n)
	}
	f.FirstGlobal = int(h.info)
	f.Symbols = make([]Symbol, n)
	for i := range f.Symbols {
		s := object.ReadSym(raw[i*object.SymSize:])
		if uint64(s.Name) >= uint64(len(strtab)) && s.Name != 0 {
			return f.errorf("symbol %d: name offset %#x outside the string table", i, s.Name)
		}
		sym := Symbol{Sym: s, Shndx: uint32(s.Shndx)}
		if s.Name != 0 {
			sym.Name = cstr(strtab[s.Name:])
		}
		if s.Shndx == elf.SHN_XINDEX {
			if uint64(i)*4+4 > uint64(len(shndx)) {
				return f.errorf("symbol %d: extended section index missing", i)
			}
			sym.Shndx = le.Uint32(shndx[i*4:])
		}
		switch {
		case sym.Shndx == uint32(elf.SHN_UNDEF), sym.Shndx == uint32(elf.SHN_ABS), sym.Shndx == uint32(elf.SHN_COMMON):
		case uint64(sym.Shndx) >= uint64(len(hdrs)) || sym.Shndx >= uint32(elf.SHN_LORESERVE) && s.Shndx != elf.SHN_XINDEX:
			return f.errorf("symbol %d (%s): section index %d out of range", i, sym.Name, sym.Shndx)
		}
		if i < f.FirstGlobal && s.Bind() != elf.STB_LOCAL && i != 0 {
			return f.errorf("symbol %d (%s): non-local symbol before the first global", i, sym.Name)
		}
		if s.Type() == elf.STT_FILE && f.SourceName == "" {
			f.SourceName = sym.Name
		}
		if s.Type() == elf.STT_SECTION && int(sym.Shndx) < len(hdrs) && sym.Shndx != 0 {
			// A section symbol is named by its section, as GNU ld
			// names it in messages ("against `.rodata'").
			if sec := f.Sections[sym.Shndx]; sec != nil {
				sym.Name = sec.Name
			}
		}
		if sym.Name == "__gnu_lto_slim" {
			f.LTO = true
		}
		f.Symbols[i] = sym
	}
	return nil
}

func (f *Object) readRelocs(hdrs []shdr, idx, symtab int) error {
	h := hdrs[idx]
	if h.entsize != relaSize || h.size%relaSize != 0 {
		return f.errorf("relocation section %d: entry size %d, size %d", idx, h.entsize, h.size)
	}
	if h.info == 0 || uint64(h.info) >= uint64(len(hdrs)) {
		return f.errorf("relocation section %d applies to section %d, which does not exist", idx, h.info)
	}
	switch hdrs[h.info].typ {
	case elf.SHT_RELA, elf.SHT_REL, elf.SHT_SYMTAB, elf.SHT_STRTAB, elf.SHT_GROUP, elf.SHT_NULL:
		return f.errorf("relocation section %d applies to section %d, which cannot be relocated", idx, h.info)
	}
	if int(h.link) != symtab {
		return f.errorf("relocation section %d does not use the symbol table", idx)
	}
	target := f.Sections[h.info]
	if target == nil {
		// Relocations of a section not carried over (SHF_EXCLUDE,
		// .note.gnu.property, LTO data) go with it.
		return nil
	}
	if target.Relocs != nil {
		return f.errorf("section %s has more than one relocation section", target.Name)
	}
	rels := object.RelaTable(f.bytes(h))
	nsyms := uint32(len(f.Symbols))
	for i := 0; i < rels.Len(); i++ {
		r := rels.At(i)
		st, ok := reloc.Static(r.Type)
		if !ok {
			return f.errorf("%s: unsupported relocation type %s (%d)", target.Name, relocName(r.Type), uint32(r.Type))
		}
		if r.Sym >= nsyms {
			return f.errorf("%s: relocation %d: symbol index %d out of range", target.Name, i, r.Sym)
		}
		if r.Off > target.Size || target.Size-r.Off < uint64(st.Size) {
			return f.errorf("%s: relocation %d: offset %#x outside the section (size %#x)", target.Name, i, r.Off, target.Size)
		}
		if target.Type == elf.SHT_NOBITS && r.Type != elf.R_X86_64_NONE {
			return f.errorf("%s: relocation %d in a section without contents", target.Name, i)
		}
	}
	target.Relocs = rels
	return nil
}

func relocName(t elf.R_X86_64) string {
	s := t.String()
	if strings.HasPrefix(s, "R_X86_64_") {
		return s
	}
	return fmt.Sprintf("%#x", uint32(t))
}

const grpComdat = 1

// shfExclude is SHF_EXCLUDE, which debug/elf does not name.
const shfExclude elf.SectionFlag = 0x80000000

func (f *Object) readGroup(hdrs []shdr, idx, symtab int) error {
	h := hdrs[idx]
	b := f.bytes(h)
	if len(b) < 4 || len(b)%4 != 0 {
		return f.errorf("group section %d: size %d", idx, len(b))
	}
	if int(h.link) != symtab || symtab < 0 {
		return f.errorf("group section %d does not use the symbol table", idx)
	}
	if uint64(h.info) >= uint64(len(f.Symbols)) {
		return f.errorf("group section %d: signature symbol %d out of range", idx, h.info)
	}
	g := &Group{Signature: f.Symbols[h.info].Name, SignatureSym: h.info, COMDAT: le.Uint32(b)&grpComdat != 0}
	for off := 4; off < len(b); off += 4 {
		m := le.Uint32(b[off:])
		if m == 0 || uint64(m) >= uint64(len(hdrs)) || hdrs[m].typ == elf.SHT_GROUP {
			return f.errorf("group section %d: member %d is not a section that can be grouped", idx, m)
		}
		g.Members = append(g.Members, m)
	}
	for _, m := range g.Members {
		if s := f.Sections[m]; s != nil {
			if s.Group != nil {
				return f.errorf("section %s is in more than one group", s.Name)
			}
			s.Group = g
		}
	}
	f.Groups = append(f.Groups, g)
	return nil
}

const ntGNUPropertyType0 = 5

// readProperties reads a .note.gnu.property section.
func (f *Object) readProperties(b []byte) error {
	f.Properties = []Property{}
	for len(b) > 0 {
		if len(b) < 12 {
			return f.errorf(".note.gnu.property: truncated note")
		}
		namesz, descsz, typ := le.Uint32(b), le.Uint32(b[4:]), le.Uint32(b[8:])
		nameEnd := 12 + align(uint64(namesz), 4)
		descEnd := nameEnd + align(uint64(descsz), 8)
		if nameEnd > uint64(len(b)) || descEnd > uint64(len(b)) {
			return f.errorf(".note.gnu.property: truncated note")
		}
		desc := b[nameEnd : nameEnd+uint64(descsz)]
		if typ == ntGNUPropertyType0 && cstr(b[12:nameEnd]) == "GNU" {
			for len(desc) > 0 {
				if len(desc) < 8 {
					return f.errorf(".note.gnu.property: truncated property")
				}
				pt, sz := le.Uint32(desc), uint64(le.Uint32(desc[4:]))
				end := 8 + align(sz, 8)
				if 8+sz > uint64(len(desc)) {
					return f.errorf(".note.gnu.property: truncated property")
				}
				f.Properties = append(f.Properties, Property{Type: pt, Data: desc[8 : 8+sz]})
				if end > uint64(len(desc)) {
					end = uint64(len(desc))
				}
				desc = desc[end:]
			}
		}
		b = b[descEnd:]
	}
	return nil
}

func align(v, a uint64) uint64 { return (v + a - 1) &^ (a - 1) }
