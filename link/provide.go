package link

import (
	"debug/elf"

	"github.com/ldgo/ldgo/link/layout"
	"github.com/ldgo/ldgo/link/options"
	"github.com/ldgo/ldgo/link/resolve"
	"github.com/ldgo/ldgo/link/synth"
)

// provided is a symbol the link editor defines, and how its value is
// found once the output is laid out.
type provided struct {
	sym   *resolve.Symbol
	value func(lay *layout.Layout, set *synth.Set) (addr uint64, in layout.Chunk)
}

func (p provided) set(lay *layout.Layout, set *synth.Set) {
	addr, in := p.value(lay, set)
	p.sym.Value = addr
	p.sym.OutIndex = 0
	if in != nil {
		p.sym.OutIndex = in.Header().Index
	}
	if p.sym.OutIndex == 0 && len(lay.Chunks) > 0 {
		// An address without a section of its own is given the
		// first section's index, as an address (not an absolute
		// value) in a position-independent output.
		p.sym.OutIndex = lay.Chunks[0].Header().Index
	}
}

// find returns the laid-out chunk named name, or nil.
func find(lay *layout.Layout, name string) layout.Chunk {
	for _, c := range lay.Chunks {
		if h := c.Header(); h.Name == name && h.Alloc() {
			return c
		}
	}
	return nil
}

// start and end give a named chunk's bounds, or where it would be.
func start(name string) func(*layout.Layout, *synth.Set) (uint64, layout.Chunk) {
	return func(lay *layout.Layout, _ *synth.Set) (uint64, layout.Chunk) {
		if c := find(lay, name); c != nil {
			return c.Header().Addr, c
		}
		return 0, nil
	}
}

func end(name string) func(*layout.Layout, *synth.Set) (uint64, layout.Chunk) {
	return func(lay *layout.Layout, _ *synth.Set) (uint64, layout.Chunk) {
		if c := find(lay, name); c != nil {
			h := c.Header()
			return h.Addr + h.Size, c
		}
		return 0, nil
	}
}

// lastAlloc returns the end of the last loaded chunk for which keep is
// true.
func lastAlloc(keep func(h *layout.Header) bool) func(*layout.Layout, *synth.Set) (uint64, layout.Chunk) {
	return func(lay *layout.Layout, _ *synth.Set) (uint64, layout.Chunk) {
		var addr uint64
		var in layout.Chunk
		for _, c := range lay.Chunks {
			h := c.Header()
			if h.Alloc() && keep(h) && h.Flags&elf.SHF_TLS == 0 {
				addr, in = h.Addr+h.Size, c
			}
		}
		return addr, in
	}
}

// provide defines the symbols of GNU ld's default script and ELF
// backend that objects refer to, and __start_SEC/__stop_SEC for output
// sections named as C identifiers.
//
// dynamic says the output has dynamic sections: __rela_iplt_start and
// __rela_iplt_end are then not provided (the dynamic linker applies the
// IRELATIVE relocations), as in GNU ld's scripts.
func (l *linker) provide(res *resolve.Result, dynamic bool) []provided {
	var ps []provided
	add := func(name string, vis elf.SymVis, v func(*layout.Layout, *synth.Set) (uint64, layout.Chunk)) {
		if s := res.Provide(name, vis); s != nil {
			ps = append(ps, provided{s, v})
		}
	}
	// GNU ld's default script for executables assigns _edata, _end and
	// __bss_start outright (not PROVIDE): defined whether or not an
	// object refers to them, and so exported by -E.
	always := func(name string, v func(*layout.Layout, *synth.Set) (uint64, layout.Chunk)) {
		if l.opts.OutputKind == options.Shared || l.opts.OutputKind == options.Relocatable {
			add(name, elf.STV_DEFAULT, v)
			return
		}
		if s := res.Define(name); s.Kind == resolve.Linker {
			ps = append(ps, provided{s, v})
		}
	}
	hidden := elf.STV_HIDDEN
	add("_GLOBAL_OFFSET_TABLE_", hidden, func(lay *layout.Layout, set *synth.Set) (uint64, layout.Chunk) {
		if set.GOTPLT.Hdr.Index != 0 {
			return set.GOTPLT.Hdr.Addr, set.GOTPLT
		}
		return set.GOT.Hdr.Addr, set.GOT
	})
	add("_DYNAMIC", hidden, start(".dynamic"))
	first := func(lay *layout.Layout, _ *synth.Set) (uint64, layout.Chunk) {
		if len(lay.Segments) == 0 {
			return 0, nil
		}
		for _, s := range lay.Segments {
			if s.Type == elf.PT_LOAD {
				return s.Vaddr, nil
			}
		}
		return 0, nil
	}
	add("__ehdr_start", hidden, first)
	add("__executable_start", elf.STV_DEFAULT, first)
	text := lastAlloc(func(h *layout.Header) bool { return h.Flags&elf.SHF_EXECINSTR != 0 })
	for _, n := range []string{"etext", "_etext", "__etext"} {
		add(n, elf.STV_DEFAULT, text)
	}
	data := lastAlloc(func(h *layout.Header) bool { return h.Type != elf.SHT_NOBITS })
	add("edata", elf.STV_DEFAULT, data)
	always("_edata", data)
	all := lastAlloc(func(*layout.Header) bool { return true })
	add("end", elf.STV_DEFAULT, all)
	always("_end", all)
	always("__bss_start", func(lay *layout.Layout, set *synth.Set) (uint64, layout.Chunk) {
		if c := find(lay, ".bss"); c != nil {
			return c.Header().Addr, c
		}
		return data(lay, set)
	})
	for _, a := range []string{"preinit_array", "init_array", "fini_array"} {
		add("__"+a+"_start", hidden, start("."+a))
		add("__"+a+"_end", hidden, end("."+a))
	}
	add("__GNU_EH_FRAME_HDR", hidden, start(".eh_frame_hdr"))
	// A static executable's IRELATIVE relocations, which its C library
	// applies itself.
	iplt := func(end bool) func(*layout.Layout, *synth.Set) (uint64, layout.Chunk) {
		return func(lay *layout.Layout, set *synth.Set) (uint64, layout.Chunk) {
			h := &set.RelaPLT.Hdr
			if h.Index == 0 {
				return 0, nil
			}
			if end {
				return h.Addr + h.Size, set.RelaPLT
			}
			return h.Addr, set.RelaPLT
		}
	}
	if !dynamic {
		add("__rela_iplt_start", hidden, iplt(false))
		add("__rela_iplt_end", hidden, iplt(true))
	}
	add("_TLS_MODULE_BASE_", hidden, func(lay *layout.Layout, _ *synth.Set) (uint64, layout.Chunk) {
		return lay.TLS.Vaddr, nil
	})
	seen := map[string]bool{}
	for _, f := range res.Files {
		for _, sec := range f.Sections {
			if sec == nil || sec.Discarded || !sec.Alloc() || seen[sec.Name] || !layout.IsCIdentifier(sec.Name) {
				continue
			}
			seen[sec.Name] = true
			add("__start_"+sec.Name, elf.STV_PROTECTED, start(sec.Name))
			add("__stop_"+sec.Name, elf.STV_PROTECTED, end(sec.Name))
		}
	}
	for _, d := range l.opts.Defsyms {
		if d.Symbol == "" {
			continue
		}
		s := res.Define(d.Name)
		if s.Kind != resolve.Linker {
			continue
		}
		target, off := d.Symbol, d.Value
		ps = append(ps, provided{s, func(*layout.Layout, *synth.Set) (uint64, layout.Chunk) {
			t := res.Table.Lookup(target)
			if t == nil {
				return uint64(off), nil
			}
			return t.Addr() + uint64(off), nil
		}})
	}
	return ps
}
