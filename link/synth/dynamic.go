package synth

import (
	"debug/elf"
	"strings"

	"github.com/ldgo/ldgo/link/layout"
	"github.com/ldgo/ldgo/link/options"
	"github.com/ldgo/ldgo/link/resolve"
	"github.com/ldgo/ldgo/object"
)

// Dynamic is .dynamic: what the dynamic linker reads first.
type Dynamic struct {
	Hdr  layout.Header
	set  *Set
	tags []dynTag
}

// dynTag is an entry whose value is known once laid out.
type dynTag struct {
	tag elf.DynTag
	val func() uint64
}

func newDynamic(dynstr *StrTab) *Dynamic {
	return &Dynamic{Hdr: layout.Header{Name: ".dynamic", Type: elf.SHT_DYNAMIC, Flags: elf.SHF_ALLOC | elf.SHF_WRITE, Align: 8, Entsize: 16, Link: dynstr}}
}

func (d *Dynamic) Header() *layout.Header { return &d.Hdr }

func (d *Dynamic) add(tag elf.DynTag, val func() uint64) {
	d.tags = append(d.tags, dynTag{tag, val})
}

func constant(v uint64) func() uint64 { return func() uint64 { return v } }

func addrOf(h *layout.Header) func() uint64   { return func() uint64 { return h.Addr } }
func sizeOf(h *layout.Header) func() uint64   { return func() uint64 { return h.Size } }
func symAddr(s *resolve.Symbol) func() uint64 { return func() uint64 { return s.Addr() } }

// build lists the entries, in GNU ld's order; init and fini are the
// symbols -init and -fini name, if defined.
func (d *Dynamic) build(s *Set, init, fini *resolve.Symbol, initArray, finiArray, preinitArray *layout.Header, textRel bool) {
	d.set = s
	o := s.opts
	str := s.DynStr
	for _, l := range s.res.Shlibs {
		d.add(elf.DT_NEEDED, constant(uint64(str.Add(l.NeededName))))
	}
	if o.OutputKind == options.Shared && o.Soname != "" {
		d.add(elf.DT_SONAME, constant(uint64(str.Add(o.Soname))))
	}
	if len(o.Rpath) > 0 {
		tag := elf.DT_RPATH
		if o.NewDtags {
			tag = elf.DT_RUNPATH
		}
		d.add(tag, constant(uint64(str.Add(strings.Join(o.Rpath, ":")))))
	}
	if o.Bsymbolic && o.OutputKind == options.Shared {
		d.add(elf.DT_SYMBOLIC, constant(0))
	}
	if init != nil {
		d.add(elf.DT_INIT, symAddr(init))
	}
	if fini != nil {
		d.add(elf.DT_FINI, symAddr(fini))
	}
	if preinitArray != nil {
		d.add(elf.DT_PREINIT_ARRAY, addrOf(preinitArray))
		d.add(elf.DT_PREINIT_ARRAYSZ, sizeOf(preinitArray))
	}
	if initArray != nil {
		d.add(elf.DT_INIT_ARRAY, addrOf(initArray))
		d.add(elf.DT_INIT_ARRAYSZ, sizeOf(initArray))
	}
	if finiArray != nil {
		d.add(elf.DT_FINI_ARRAY, addrOf(finiArray))
		d.add(elf.DT_FINI_ARRAYSZ, sizeOf(finiArray))
	}
	if s.Hash != nil {
		d.add(elf.DT_HASH, addrOf(&s.Hash.Hdr))
	}
	if s.GNUHash != nil {
		d.add(elf.DT_GNU_HASH, addrOf(&s.GNUHash.Hdr))
	}
	d.add(elf.DT_STRTAB, addrOf(&str.Hdr))
	d.add(elf.DT_SYMTAB, addrOf(&s.DynSym.Hdr))
	d.add(elf.DT_STRSZ, sizeOf(&str.Hdr))
	d.add(elf.DT_SYMENT, constant(object.SymSize))
	if o.OutputKind != options.Shared {
		d.add(elf.DT_DEBUG, constant(0))
	}
	if textRel {
		d.add(elf.DT_TEXTREL, constant(0))
	}
	d.add(elf.DT_PLTGOT, addrOf(&s.GOTPLT.Hdr))
	if len(s.PLT.Entries) > 0 {
		d.add(elf.DT_PLTRELSZ, sizeOf(&s.RelaPLT.Hdr))
		d.add(elf.DT_PLTREL, constant(uint64(elf.DT_RELA)))
		d.add(elf.DT_JMPREL, addrOf(&s.RelaPLT.Hdr))
	}
	if s.RelaDyn.Hdr.Size > 0 {
		d.add(elf.DT_RELA, addrOf(&s.RelaDyn.Hdr))
		d.add(elf.DT_RELASZ, sizeOf(&s.RelaDyn.Hdr))
		d.add(elf.DT_RELAENT, constant(relaSize))
	}
	var flags elf.DynFlag
	var flags1 elf.DynFlag1
	if o.Z.Now {
		flags |= elf.DF_BIND_NOW
		flags1 |= elf.DF_1_NOW
	}
	if textRel {
		flags |= elf.DF_TEXTREL
	}
	if s.staticTLS {
		flags |= elf.DF_STATIC_TLS
	}
	if o.Bsymbolic && o.OutputKind == options.Shared {
		flags |= elf.DF_SYMBOLIC
	}
	if o.Z.Origin {
		flags |= elf.DF_ORIGIN
		flags1 |= elf.DF_1_ORIGIN
	}
	if o.OutputKind == options.PIE {
		flags1 |= elf.DF_1_PIE
	}
	if o.Z.NoDelete {
		flags1 |= elf.DF_1_NODELETE
	}
	if o.Z.NoDlopen {
		flags1 |= elf.DF_1_NOOPEN
	}
	if o.Z.InitFirst {
		flags1 |= elf.DF_1_INITFIRST
	}
	if o.Z.Interpose {
		flags1 |= elf.DF_1_INTERPOSE
	}
	if o.Z.NoDefaultLib {
		flags1 |= elf.DF_1_NODEFLIB
	}
	if o.Z.Global {
		flags1 |= elf.DF_1_GLOBAL
	}
	if flags != 0 {
		d.add(elf.DT_FLAGS, constant(uint64(flags)))
	}
	if flags1 != 0 {
		d.add(elf.DT_FLAGS_1, constant(uint64(flags1)))
	}
	if s.Verdef != nil {
		d.add(elf.DT_VERDEF, addrOf(&s.Verdef.Hdr))
		d.add(elf.DT_VERDEFNUM, constant(uint64(s.Verdef.Count())))
	}
	if s.Verneed != nil && s.Verneed.Count() > 0 {
		d.add(elf.DT_VERNEED, addrOf(&s.Verneed.Hdr))
		d.add(elf.DT_VERNEEDNUM, constant(uint64(s.Verneed.Count())))
	}
	if s.Versym != nil {
		d.add(elf.DT_VERSYM, addrOf(&s.Versym.Hdr))
	}
	if n := s.RelaDyn.RelativeCount(); n > 0 {
		d.add(elf.DT_RELACOUNT, constant(uint64(n)))
	}
	d.Hdr.Size = uint64(len(d.tags)+1) * 16
}

func (d *Dynamic) Write(b []byte) {
	for i, t := range d.tags {
		le.PutUint64(b[i*16:], uint64(t.tag))
		le.PutUint64(b[i*16+8:], t.val())
	}
}
