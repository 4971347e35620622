package object

import (
	"debug/elf"
	"strings"
	"unsafe"
)

// Tags that debug/elf does not name.
const (
	DT_RELRSZ  elf.DynTag = 35
	DT_RELR    elf.DynTag = 36
	DT_RELRENT elf.DynTag = 37
)

// Dynamic holds the decoded dynamic section. Where a tag appears more than
// once the last one counts, as in glibc's l_info.
type Dynamic struct {
	Tags []DynTag // every entry before DT_NULL, in order

	Needed     []string // DT_NEEDED, in order
	Auxiliary  []string // DT_AUXILIARY
	Filter     []string // DT_FILTER
	Soname     string
	HasSoname  bool
	Rpath      string // DT_RPATH, ignored by glibc when DT_RUNPATH is present
	HasRpath   bool
	Runpath    string
	HasRunpath bool

	Flags  elf.DynFlag
	Flags1 elf.DynFlag1
	// Symbolic, TextRel and BindNow are set by their own tags or by the
	// matching DT_FLAGS/DT_FLAGS_1 bits, as glibc folds them.
	Symbolic bool
	TextRel  bool
	BindNow  bool

	Init         uint64
	Fini         uint64
	InitArray    Range
	FiniArray    Range
	PreinitArray Range

	Rela      Range // DT_RELA/DT_RELASZ
	RelaCount uint64
	JmpRel    Range // DT_JMPREL/DT_PLTRELSZ
	HasJmpRel bool
	PLTRel    elf.DynTag
	Relr      Range
	HasRel    bool // DT_REL: not used on x86-64, rejected
	PLTGot    uint64
	Debug     bool // DT_DEBUG present

	HasHash     bool
	HasGNUHash  bool
	strtabAddr  uint64
	strtabSize  uint64
	symtabAddr  uint64
	hashAddr    uint64
	gnuAddr     uint64
	versymAddr  uint64
	verdefAddr  uint64
	verdefNum   uint64
	hasVerdef   bool
	verneedAddr uint64
	verneedNum  uint64
	hasVerneed  bool
}

// DynTag is one dynamic-section entry.
type DynTag struct {
	Tag elf.DynTag
	Val uint64
}

// relocatedTags are the pointer tags glibc's ld.so rewrites in place
// (elf_get_dynamic_info) when the dynamic section is writable.
func relocatedTag(t elf.DynTag) bool {
	switch t {
	case elf.DT_HASH, elf.DT_PLTGOT, elf.DT_STRTAB, elf.DT_SYMTAB, DT_RELR,
		elf.DT_JMPREL, elf.DT_VERSYM, elf.DT_GNU_HASH, elf.DT_RELA, elf.DT_REL:
		return true
	}
	return false
}

func (o *Object) readDynamic(base uint64, dynRelocated bool) error {
	b, err := o.src.Bytes(o.Dynamic.Addr, o.Dynamic.Size&^(dynSize-1))
	if err != nil {
		return o.errorf("dynamic section outside the loaded segments")
	}
	if dynRelocated {
		dynRelocated = false
		for _, p := range o.Progs {
			if p.Type == elf.PT_DYNAMIC && p.Flags&elf.PF_W != 0 {
				dynRelocated = base != 0
			}
		}
	}
	d := &o.Dyn
	var needed, aux, filter []uint64
	var soname, rpath, runpath uint64
	for len(b) >= dynSize {
		tag := elf.DynTag(le.Uint64(b))
		val := le.Uint64(b[8:])
		b = b[dynSize:]
		if tag == elf.DT_NULL {
			break
		}
		if dynRelocated && relocatedTag(tag) && val != 0 {
			val -= base
		}
		d.Tags = append(d.Tags, DynTag{tag, val})
		switch tag {
		case elf.DT_NEEDED:
			needed = append(needed, val)
		case elf.DT_AUXILIARY:
			aux = append(aux, val)
		case elf.DT_FILTER:
			filter = append(filter, val)
		case elf.DT_SONAME:
			soname, d.HasSoname = val, true
		case elf.DT_RPATH:
			rpath, d.HasRpath = val, true
		case elf.DT_RUNPATH:
			runpath, d.HasRunpath = val, true
		case elf.DT_FLAGS:
			d.Flags = elf.DynFlag(val)
		case elf.DT_FLAGS_1:
			d.Flags1 = elf.DynFlag1(val)
		case elf.DT_SYMBOLIC:
			d.Symbolic = true
		case elf.DT_TEXTREL:
			d.TextRel = true
		case elf.DT_BIND_NOW:
			d.BindNow = true
		case elf.DT_INIT:
			d.Init = val
		case elf.DT_FINI:
			d.Fini = val
		case elf.DT_INIT_ARRAY:
			d.InitArray.Addr = val
		case elf.DT_INIT_ARRAYSZ:
			d.InitArray.Size = val
		case elf.DT_FINI_ARRAY:
			d.FiniArray.Addr = val
		case elf.DT_FINI_ARRAYSZ:
			d.FiniArray.Size = val
		case elf.DT_PREINIT_ARRAY:
			d.PreinitArray.Addr = val
		case elf.DT_PREINIT_ARRAYSZ:
			d.PreinitArray.Size = val
		case elf.DT_RELA:
			d.Rela.Addr = val
		case elf.DT_RELASZ:
			d.Rela.Size = val
		case elf.DT_RELAENT:
			if val != relaSize {
				return o.errorf("DT_RELAENT is %d, not %d", val, relaSize)
			}
		case elf.DT_RELACOUNT:
			d.RelaCount = val
		case elf.DT_REL:
			d.HasRel = true
		case elf.DT_JMPREL:
			d.JmpRel.Addr, d.HasJmpRel = val, true
		case elf.DT_PLTRELSZ:
			d.JmpRel.Size = val
		case elf.DT_PLTREL:
			d.PLTRel = elf.DynTag(val)
		case DT_RELR:
			d.Relr.Addr = val
		case DT_RELRSZ:
			d.Relr.Size = val
		case DT_RELRENT:
			if val != 8 {
				return o.errorf("DT_RELRENT is %d, not 8", val)
			}
		case elf.DT_PLTGOT:
			d.PLTGot = val
		case elf.DT_DEBUG:
			d.Debug = true
		case elf.DT_STRTAB:
			d.strtabAddr = val
		case elf.DT_STRSZ:
			d.strtabSize = val
		case elf.DT_SYMTAB:
			d.symtabAddr = val
		case elf.DT_SYMENT:
			if val != symSize {
				return o.errorf("DT_SYMENT is %d, not %d", val, symSize)
			}
		case elf.DT_HASH:
			d.hashAddr, d.HasHash = val, true
		case elf.DT_GNU_HASH:
			d.gnuAddr, d.HasGNUHash = val, true
		case elf.DT_VERSYM:
			d.versymAddr = val
		case elf.DT_VERDEF:
			d.verdefAddr, d.hasVerdef = val, true
		case elf.DT_VERDEFNUM:
			d.verdefNum = val
		case elf.DT_VERNEED:
			d.verneedAddr, d.hasVerneed = val, true
		case elf.DT_VERNEEDNUM:
			d.verneedNum = val
		}
	}
	if d.Flags&elf.DF_SYMBOLIC != 0 {
		d.Symbolic = true
	}
	if d.Flags&elf.DF_TEXTREL != 0 {
		d.TextRel = true
	}
	if d.Flags&elf.DF_BIND_NOW != 0 || d.Flags1&elf.DF_1_NOW != 0 {
		d.BindNow = true
	}
	if d.HasRel {
		return o.errorf("DT_REL relocations are not used on x86-64")
	}
	if d.HasJmpRel && d.PLTRel != elf.DT_RELA {
		return o.errorf("DT_PLTREL is not DT_RELA")
	}

	// Strings need the string table, which sits in a loaded segment.
	// Every name is a substring of the table where it lies, not a copy:
	// names cost no memory of their own, however many entries of a
	// hostile file name the same long string, and only the pages of the
	// table that lookups touch are read. The memory they lie in
	// therefore stays reserved when the object goes (see File.Close,
	// and the run-time linker's unmapping).
	if d.strtabAddr != 0 || d.strtabSize != 0 {
		st, err := o.src.Bytes(d.strtabAddr, d.strtabSize)
		if err != nil {
			return o.errorf("string table outside the loaded segments")
		}
		if len(st) > 0 {
			o.strtab = unsafe.String(&st[0], len(st))
		}
	}
	str := func(off uint64) (string, error) {
		if off >= uint64(len(o.strtab)) {
			return "", o.errorf("string offset %#x outside the string table", off)
		}
		return o.keep(uint32(off)), nil
	}
	for _, list := range []struct {
		offs []uint64
		out  *[]string
	}{{needed, &d.Needed}, {aux, &d.Auxiliary}, {filter, &d.Filter}} {
		for _, off := range list.offs {
			s, err := str(off)
			if err != nil {
				return err
			}
			*list.out = append(*list.out, s)
		}
	}
	var err2 error
	if d.HasSoname {
		if d.Soname, err2 = str(soname); err2 != nil {
			return err2
		}
	}
	if d.HasRpath {
		if d.Rpath, err2 = str(rpath); err2 != nil {
			return err2
		}
	}
	if d.HasRunpath {
		if d.Runpath, err2 = str(runpath); err2 != nil {
			return err2
		}
	}
	return nil
}

// keep returns the string at offset off, copied out of the object: the
// names a loader keeps (DT_NEEDED, SONAME, RPATH, version names) are read
// again and again, and reading them where they lie would bring the
// object's pages back after they were given back. Each offset is copied
// once, and once the copies would outgrow the table (a hostile file
// naming one long string thousands of times) the table is copied whole
// instead: memory stays bounded by the file's size.
func (o *Object) keep(off uint32) string {
	if uint64(off) >= uint64(len(o.strtab)) {
		return ""
	}
	k := &o.kept
	if k.whole != "" {
		return cutNUL(k.whole[off:])
	}
	if s, ok := k.byOff[off]; ok {
		return s
	}
	s := cutNUL(o.strtab[off:])
	if k.total+len(s) > len(o.strtab) {
		k.whole, k.byOff = strings.Clone(o.strtab), nil
		return cutNUL(k.whole[off:])
	}
	if k.byOff == nil {
		k.byOff = map[uint32]string{}
	}
	s = strings.Clone(s)
	k.byOff[off], k.total = s, k.total+len(s)
	return s
}

// keptNames are the copies keep made.
type keptNames struct {
	byOff map[uint32]string
	total int
	whole string
}

// String returns the NUL-terminated string at offset off of the dynamic
// string table, or "" when off is outside it. It does not allocate.
func (o *Object) String(off uint32) string {
	if uint64(off) >= uint64(len(o.strtab)) {
		return ""
	}
	return cutNUL(o.strtab[off:])
}

// cutNUL returns s up to its first NUL byte, without copying.
func cutNUL(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}
