package layout

import (
	"debug/elf"
	"slices"
)

// Segment is a program header.
type Segment struct {
	Type   elf.ProgType
	Flags  elf.ProgFlag
	Offset uint64
	Vaddr  uint64
	Filesz uint64
	Memsz  uint64
	Align  uint64
}

// Config is what address assignment needs to know of the output.
type Config struct {
	Base        uint64 // address of the first byte (0x400000, or 0 when position-independent)
	PageSize    uint64
	Relro       bool
	Now         bool // -z now: .got.plt is RELRO too
	ExecStack   bool
	Interp      bool // the output has PT_INTERP, and so PT_PHDR
	StackSize   uint64
	Relocatable bool
	// NoSeparateCode (-z noseparate-code) puts read-only data in the
	// code's segment and starts the writable one where the code ends
	// in the file, as GNU ld does without -z separate-code.
	NoSeparateCode bool
}

// Layout is the result of Assign.
type Layout struct {
	Chunks   []Chunk // in output order, section index = position + 1
	Segments []Segment
	// HeadersSize is the size of the ELF header and program headers.
	HeadersSize uint64
	// SectionHeaders is the file offset of the section header table.
	SectionHeaders uint64
	FileSize       uint64
	// TLS is the PT_TLS segment (zero Memsz if none).
	TLS Segment
}

const (
	ehdrSize = 64
	phdrSize = 56
	shdrSize = 64
)

type perm int

const (
	permR perm = iota
	permRX
	permRW
)

func permOf(h *Header) perm {
	switch {
	case h.Flags&elf.SHF_WRITE != 0:
		return permRW
	case h.Flags&elf.SHF_EXECINSTR != 0:
		return permRX
	}
	return permR
}

// segmentPerm returns the segment permission each allocated section
// goes to: its own, except that read-only data joins the code without
// separate code (when there is code).
func segmentPerm(chunks []Chunk, cfg *Config) func(h *Header) perm {
	merge := false
	if cfg.NoSeparateCode {
		for _, c := range chunks {
			if h := c.Header(); h.Alloc() && permOf(h) == permRX {
				merge = true
			}
		}
	}
	return func(h *Header) perm {
		if p := permOf(h); !(merge && p == permR) {
			return p
		}
		return permRX
	}
}

func (p perm) flags() elf.ProgFlag {
	switch p {
	case permRX:
		return elf.PF_R | elf.PF_X
	case permRW:
		return elf.PF_R | elf.PF_W
	}
	return elf.PF_R
}

// Order sorts chunks into output order and drops empty ones.
func Order(chunks []Chunk, cfg *Config) []Chunk {
	type ranked struct {
		c    Chunk
		rank int
		pos  int
	}
	var rs []ranked
	for i, c := range chunks {
		h := c.Header()
		r, relro := rank(h, cfg.Now)
		h.Relro = relro && cfg.Relro
		rs = append(rs, ranked{c, r, i})
	}
	slices.SortStableFunc(rs, func(a, b ranked) int { return a.rank - b.rank })
	out := make([]Chunk, 0, len(rs))
	for _, r := range rs {
		h := r.c.Header()
		if h.Size == 0 && !h.KeepEmpty {
			if s, ok := r.c.(*Section); ok && h.Alloc() && len(out) > 0 && out[len(out)-1].Header().Alloc() {
				prev := out[len(out)-1].Header()
				prev.Emptied = append(prev.Emptied, s)
			}
			continue
		}
		out = append(out, r.c)
	}
	return placeInserted(out)
}

// Assign gives every chunk (already in output order) its address, file
// offset and section index, and makes the program headers.
func Assign(chunks []Chunk, cfg *Config) *Layout {
	l := &Layout{Chunks: chunks}
	page := cfg.PageSize
	for i, c := range chunks {
		c.Header().Index = uint32(i + 1)
	}
	if cfg.Relocatable {
		off := uint64(ehdrSize)
		for _, c := range chunks {
			h := c.Header()
			off = alignUp(off, h.Align)
			h.Offset = off
			if h.Type != elf.SHT_NOBITS {
				off += h.Size
			}
		}
		l.SectionHeaders = alignUp(off, 8)
		l.FileSize = l.SectionHeaders + uint64(len(chunks)+1)*shdrSize
		return l
	}

	permOf := segmentPerm(chunks, cfg)
	nphdr := countSegments(chunks, permOf, cfg)
	l.HeadersSize = ehdrSize + uint64(nphdr)*phdrSize
	off := l.HeadersSize
	addr := cfg.Base + off

	var loads []Segment
	// The headers are in the first segment: with the code when it
	// has the read-only data.
	curPerm := permOf(&Header{Flags: elf.SHF_ALLOC})
	cur := &Segment{Type: elf.PT_LOAD, Flags: curPerm.flags(), Offset: 0, Vaddr: cfg.Base, Align: page}
	var relro Segment
	inRelro := false
	var tls Segment
	haveTLS := false
	finishLoad := func() {
		loads = append(loads, *cur)
	}
	var lastAllocEnd uint64
	// The TLS segment starts aligned as its most aligned section needs:
	// the thread pointer is computed from its start.
	var tlsAlign uint64 = 1
	for _, c := range chunks {
		if h := c.Header(); h.Alloc() && h.Flags&elf.SHF_TLS != 0 {
			tlsAlign = max(tlsAlign, h.Align)
		}
	}
	for i, c := range chunks {
		h := c.Header()
		if !h.Alloc() {
			continue
		}
		p := permOf(h)
		if p != curPerm {
			finishLoad()
			if cfg.NoSeparateCode {
				// The next page of memory, at the same offset in it
				// as the file is: no file page is padded.
				addr = alignUp(addr, page) + off%page
			} else {
				off = alignUp(off, page)
				addr = alignUp(addr, page)
			}
			if p == permRW && h.Relro {
				// Start the segment so that the RELRO part ends on a
				// page boundary: no page is then both protected and
				// written later.
				gap := relroGap(chunks[i:], page, addr)
				off += gap
				addr += gap
			}
			cur = &Segment{Type: elf.PT_LOAD, Flags: p.flags(), Offset: off, Vaddr: addr, Align: page}
			curPerm = p
			if h.Relro {
				relro = Segment{Type: elf.PT_GNU_RELRO, Flags: elf.PF_R, Offset: off, Vaddr: addr, Align: 1}
				inRelro = true
			}
		}
		if inRelro && !h.Relro {
			// The first writable section after RELRO starts a page.
			end := alignUp(addr, page)
			relro.Filesz = end - relro.Vaddr
			relro.Memsz = relro.Filesz
			off += end - addr
			addr = end
			inRelro = false
		}
		align := h.Align
		if h.Flags&elf.SHF_TLS != 0 && !haveTLS {
			align = tlsAlign
		}
		start := alignUp(addr, align)
		off += start - addr
		addr = start
		h.Addr = addr
		h.Offset = off
		tbss := h.Type == elf.SHT_NOBITS && h.Flags&elf.SHF_TLS != 0
		if h.Flags&elf.SHF_TLS != 0 {
			if !haveTLS {
				haveTLS = true
				tls = Segment{Type: elf.PT_TLS, Flags: elf.PF_R, Offset: off, Vaddr: addr, Align: tlsAlign}
			}
			tls.Align = max(tls.Align, h.Align)
			tls.Memsz = addr + h.Size - tls.Vaddr
			if !tbss {
				tls.Filesz = tls.Memsz
			}
		}
		if !tbss {
			addr += h.Size
			if h.Type != elf.SHT_NOBITS {
				off += h.Size
				cur.Filesz = off - cur.Offset
			}
			cur.Memsz = addr - cur.Vaddr
		}
		lastAllocEnd = addr
	}
	finishLoad()
	if inRelro {
		relro.Filesz = alignUp(lastAllocEnd, page) - relro.Vaddr
		relro.Memsz = relro.Filesz
	}
	// The headers' segment covers them even when no section joins it.
	if loads[0].Filesz < l.HeadersSize {
		loads[0].Filesz = max(loads[0].Filesz, l.HeadersSize)
		loads[0].Memsz = max(loads[0].Memsz, l.HeadersSize)
	}

	for _, c := range chunks {
		h := c.Header()
		if h.Alloc() {
			continue
		}
		off = alignUp(off, h.Align)
		h.Offset = off
		off += h.Size
	}
	l.SectionHeaders = alignUp(off, 8)
	l.FileSize = l.SectionHeaders + uint64(len(chunks)+1)*shdrSize

	for _, c := range chunks {
		if s, ok := c.(*Section); ok {
			s.place()
		}
		h := c.Header()
		for _, e := range h.Emptied {
			// At the end of the section before, in it.
			e.Hdr.Addr, e.Hdr.Offset, e.Hdr.Index = h.Addr+h.Size, h.Offset, h.Index
			if h.Type != elf.SHT_NOBITS {
				e.Hdr.Offset += h.Size
			}
			e.place()
		}
	}
	l.TLS = tls
	l.Segments = l.programHeaders(chunks, cfg, loads, relro, tls)
	if len(l.Segments) != nphdr {
		panic("layout: program header count changed")
	}
	return l
}

// relroGap is how far to move the start of a RW segment at start whose
// first chunks are RELRO so that the RELRO part ends on a page boundary.
func relroGap(chunks []Chunk, page, start uint64) uint64 {
	var pos, align uint64 = start % page, 1
	for _, c := range chunks {
		h := c.Header()
		if !h.Alloc() || !h.Relro || permOf(h) != permRW {
			break
		}
		pos = alignUp(pos, h.Align)
		align = max(align, h.Align)
		if !(h.Type == elf.SHT_NOBITS && h.Flags&elf.SHF_TLS != 0) {
			pos += h.Size
		}
	}
	gap := (page - pos%page) % page
	return gap &^ (align - 1)
}

// countSegments counts the program headers programHeaders makes.
func countSegments(chunks []Chunk, permOf func(*Header) perm, cfg *Config) int {
	n := 1 // the first PT_LOAD, with the headers
	cur := permOf(&Header{Flags: elf.SHF_ALLOC})
	var hasTLS, hasRelro, hasDynamic, hasEhFrameHdr, hasProperty bool
	notes := 0
	var prevNote *Header
	for _, c := range chunks {
		h := c.Header()
		if !h.Alloc() {
			continue
		}
		if p := permOf(h); p != cur {
			n++
			cur = p
		}
		if h.Flags&elf.SHF_TLS != 0 {
			hasTLS = true
		}
		if h.Relro {
			hasRelro = true
		}
		switch h.Name {
		case ".dynamic":
			hasDynamic = true
		case ".eh_frame_hdr":
			hasEhFrameHdr = true
		case ".note.gnu.property":
			hasProperty = true
		}
		if h.Type == elf.SHT_NOTE {
			if prevNote == nil || prevNote.Align != h.Align {
				notes++
			}
			prevNote = h
		} else {
			prevNote = nil
		}
	}
	if cfg.Interp {
		n += 2 // PT_PHDR, PT_INTERP
	}
	for _, b := range []bool{hasTLS, hasRelro, hasDynamic, hasEhFrameHdr, hasProperty, true} {
		if b {
			n++
		}
	}
	return n + notes
}

// programHeaders lists the segments in GNU ld's order.
func (l *Layout) programHeaders(chunks []Chunk, cfg *Config, loads []Segment, relro, tls Segment) []Segment {
	var segs []Segment
	find := func(name string) *Header {
		for _, c := range chunks {
			if h := c.Header(); h.Name == name && h.Alloc() {
				return h
			}
		}
		return nil
	}
	of := func(t elf.ProgType, f elf.ProgFlag, h *Header, align uint64) Segment {
		return Segment{Type: t, Flags: f, Offset: h.Offset, Vaddr: h.Addr, Filesz: h.Size, Memsz: h.Size, Align: align}
	}
	if cfg.Interp {
		phdrs := l.HeadersSize - ehdrSize
		segs = append(segs, Segment{Type: elf.PT_PHDR, Flags: elf.PF_R, Offset: ehdrSize, Vaddr: cfg.Base + ehdrSize, Filesz: phdrs, Memsz: phdrs, Align: 8})
		if h := find(".interp"); h != nil {
			segs = append(segs, of(elf.PT_INTERP, elf.PF_R, h, 1))
		}
	}
	segs = append(segs, loads...)
	if h := find(".dynamic"); h != nil {
		segs = append(segs, of(elf.PT_DYNAMIC, elf.PF_R|elf.PF_W, h, 8))
	}
	var note *Segment
	for _, c := range chunks {
		h := c.Header()
		if !h.Alloc() || h.Type != elf.SHT_NOTE {
			note = nil
			continue
		}
		if note != nil && note.Align == h.Align {
			note.Filesz = h.Offset + h.Size - note.Offset
			note.Memsz = h.Addr + h.Size - note.Vaddr
			continue
		}
		segs = append(segs, of(elf.PT_NOTE, elf.PF_R, h, h.Align))
		note = &segs[len(segs)-1]
	}
	if tls.Type == elf.PT_TLS {
		segs = append(segs, tls)
	}
	if h := find(".note.gnu.property"); h != nil {
		segs = append(segs, of(elf.PT_GNU_PROPERTY, elf.PF_R, h, 8))
	}
	if h := find(".eh_frame_hdr"); h != nil {
		segs = append(segs, of(elf.PT_GNU_EH_FRAME, elf.PF_R, h, 4))
	}
	stack := Segment{Type: elf.PT_GNU_STACK, Flags: elf.PF_R | elf.PF_W, Align: 16, Memsz: cfg.StackSize}
	if cfg.ExecStack {
		stack.Flags |= elf.PF_X
	}
	segs = append(segs, stack)
	if relro.Type == elf.PT_GNU_RELRO {
		segs = append(segs, relro)
	}
	return segs
}
