// Package output writes the output file: a temporary file in the output's
// directory, sized once laid out and mapped, into which every chunk is
// written in place — the input sections copied and their relocations
// applied (one goroutine per object file), each synthetic section by its
// own Write — then the build ID computed over the whole, and the file
// renamed over the output path. An error leaves no output behind: the
// temporary is removed, and the old output, if any, stays as it was.
package output

import (
	"cmp"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ldgo/ldgo/link/input"
	"github.com/ldgo/ldgo/link/layout"
	"github.com/ldgo/ldgo/link/options"
	"github.com/ldgo/ldgo/link/parallel"
	"github.com/ldgo/ldgo/link/resolve"
	"github.com/ldgo/ldgo/link/scan"
	"github.com/ldgo/ldgo/link/synth"
	"github.com/ldgo/ldgo/link/timing"
	"github.com/ldgo/ldgo/object"
	"github.com/ldgo/ldgo/reloc"
)

var le = binary.LittleEndian

// Output is what the writer needs.
type Output struct {
	Path    string
	Opts    *options.Options
	Ctx     *scan.Context
	Res     *resolve.Result
	Set     *synth.Set
	Layout  *layout.Layout
	Entry   uint64
	Threads int
	Timer   *timing.Timer
}

// Write writes the output file.
func Write(o *Output) (err error) {
	end := o.Timer.Start("create output")
	f, out, err := Create(o.Path, o.Layout.FileSize)
	end()
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Abort()
		}
	}()
	o.header(out)
	if err := o.contents(out); err != nil {
		return err
	}
	if o.Set.BuildID != nil {
		end := o.Timer.Start("build ID")
		o.buildID(out)
		end()
	}
	end = o.Timer.Start("commit output")
	defer end()
	return f.Commit()
}

// header writes the ELF header, the program headers and the section
// headers.
func (o *Output) header(out []byte) {
	l := o.Layout
	typ := elf.ET_DYN
	switch o.Opts.OutputKind {
	case options.Exec:
		typ = elf.ET_EXEC
	case options.Relocatable:
		typ = elf.ET_REL
	}
	PutELFHeader(out, typ, o.Set.GNUABI, o.Entry, len(l.Segments), l.SectionHeaders, len(l.Chunks)+1, o.Set.Shstrtab.Hdr.Index)
	for i, s := range l.Segments {
		p := out[64+56*i:]
		le.PutUint32(p, uint32(s.Type))
		le.PutUint32(p[4:], uint32(s.Flags))
		le.PutUint64(p[8:], s.Offset)
		le.PutUint64(p[16:], s.Vaddr)
		le.PutUint64(p[24:], s.Vaddr)
		le.PutUint64(p[32:], s.Filesz)
		le.PutUint64(p[40:], s.Memsz)
		le.PutUint64(p[48:], s.Align)
	}
	for i, c := range l.Chunks {
		PutSectionHeader(out[l.SectionHeaders+uint64(i+1)*64:], c.Header(), o.Set.Shstrtab.Offset(c.Header().Name))
	}
}

// PutELFHeader writes an x86-64 ELF header: a GNU object (ELFOSABI_GNU)
// when it uses STB_GNU_UNIQUE or STT_GNU_IFUNC symbols, the program
// headers right after it.
func PutELFHeader(out []byte, typ elf.Type, gnu bool, entry uint64, phnum int, shoff uint64, shnum int, shstrndx uint32) {
	copy(out, elf.ELFMAG)
	out[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	out[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	out[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	if gnu {
		out[elf.EI_OSABI] = byte(elf.ELFOSABI_LINUX)
	}
	le.PutUint16(out[16:], uint16(typ))
	le.PutUint16(out[18:], uint16(elf.EM_X86_64))
	le.PutUint32(out[20:], uint32(elf.EV_CURRENT))
	le.PutUint64(out[24:], entry)
	if phnum > 0 {
		le.PutUint64(out[32:], 64)
		le.PutUint16(out[54:], 56)
	}
	le.PutUint64(out[40:], shoff)
	le.PutUint16(out[52:], 64)
	le.PutUint16(out[56:], uint16(phnum))
	le.PutUint16(out[58:], 64)
	le.PutUint16(out[60:], uint16(shnum))
	le.PutUint16(out[62:], uint16(shstrndx))
}

// PutSectionHeader writes a chunk's section header, its name at offset
// name of the section name table.
func PutSectionHeader(sh []byte, h *layout.Header, name uint32) {
	le.PutUint32(sh, name)
	le.PutUint32(sh[4:], uint32(h.Type))
	le.PutUint64(sh[8:], uint64(h.Flags))
	le.PutUint64(sh[16:], h.Addr)
	le.PutUint64(sh[24:], h.Offset)
	le.PutUint64(sh[32:], h.Size)
	if h.Link != nil {
		le.PutUint32(sh[40:], h.Link.Header().Index)
	}
	info := h.Info
	if h.InfoChunk != nil {
		info = h.InfoChunk.Header().Index
	}
	le.PutUint32(sh[44:], info)
	le.PutUint64(sh[48:], h.Align)
	le.PutUint64(sh[56:], h.Entsize)
}

// contents writes every chunk.
func (o *Output) contents(out []byte) error {
	end := o.Timer.Start("copy and relocate sections; synthetic sections")
	done := make(chan struct{})
	go func() {
		o.synthetic(out)
		close(done)
	}()
	err := o.writeSections(out)
	<-done
	end()
	if err != nil {
		return err
	}
	defer o.Timer.Start(".eh_frame")()
	return o.ehFrame(out)
}

// writer is a synthetic section that writes its own bytes.
type writer interface {
	layout.Chunk
	Write(b []byte)
}

func (o *Output) synthetic(out []byte) {
	s := o.Set
	for _, c := range o.Layout.Chunks {
		h := c.Header()
		switch c := c.(type) {
		case *layout.Section:
			for _, m := range c.Members {
				if m.Generated {
					copy(out[m.FileOff:], m.Data)
				}
			}
		case *synth.EhFrame, *synth.EhFrameHdr:
		case *synth.GOT:
			c.Write(out)
		case *synth.GOTNow:
			c.Write(out)
		case writer:
			if h.Type != elf.SHT_NOBITS {
				c.Write(out[h.Offset : h.Offset+h.Size])
			}
		}
	}
	if s.RelaDyn != nil {
		s.WriteCopies(out)
	}
}

// gotBase is the psABI's GOT: _GLOBAL_OFFSET_TABLE_, the start of
// .got.plt (or of .got when there is none).
func (o *Output) gotBase() uint64 {
	if o.Set.GOTPLT.Hdr.Index != 0 {
		return o.Set.GOTPLT.Hdr.Addr
	}
	return o.Set.GOT.Hdr.Addr
}

// copyJob is one input section to copy into the output and relocate.
type copyJob struct {
	file *resolve.File
	sec  *input.Section
	err  error
}

// writeSections copies every input section into the output and relocates
// it, the sections shared out among the threads largest first: one
// object (an amalgamation, a unity build) may hold most of the bytes.
// The error is the first of each file, in the files' order.
func (o *Output) writeSections(out []byte) error {
	var jobs []*copyJob
	for _, f := range o.Res.Files {
		for _, sec := range f.Sections {
			if sec == nil || sec.Discarded || !sec.InOutput || sec.Placement != nil || sec.Type == elf.SHT_NOBITS {
				continue
			}
			jobs = append(jobs, &copyJob{file: f, sec: sec})
		}
	}
	// The large sections go first, largest first, so that none is
	// started last; the many small ones follow in the files' order.
	weight := func(j *copyJob) uint64 { return j.sec.Size + uint64(j.sec.Relocs.Len())*8 }
	var large, small []*copyJob
	for _, j := range jobs {
		if weight(j) >= 64<<10 {
			large = append(large, j)
		} else {
			small = append(small, j)
		}
	}
	slices.SortStableFunc(large, func(a, b *copyJob) int { return cmp.Compare(weight(b), weight(a)) })
	bySize := append(large, small...)
	parallel.For(o.Threads, len(bySize), func(i int) {
		j := bySize[i]
		j.err = o.writeSection(out, j.file, j.sec)
	})
	var errs []error
	var last *resolve.File
	for _, j := range jobs {
		if j.err != nil && j.file != last {
			errs = append(errs, j.err)
			last = j.file
		}
	}
	return errors.Join(errs...)
}

// writeSection copies a section into the output and relocates it.
func (o *Output) writeSection(out []byte, f *resolve.File, sec *input.Section) error {
	b := out[sec.FileOff : sec.FileOff+sec.Size]
	copy(b, sec.Data)
	if sec.Relocs == nil {
		return nil
	}
	rel, other := sec.RelativeAt, sec.OtherAt
	emit := o.Set.EmitRelocs.For(out, sec)
	return o.relocate(out, f, sec, b, sec.Addr, 0, 0, sec.Relocs.Len(), &rel, &other, nil, emit)
}

// relocate applies relocations lo..hi of sec to b, which holds the
// section's bytes from its offset base on, at address addr; fde, if not
// nil, receives S + A of the first relocation (an FDE's code). emit, if
// not nil, receives the relocations as the output keeps them
// (--emit-relocs).
func (o *Output) relocate(out []byte, f *resolve.File, sec *input.Section, b []byte, addr, base uint64, lo, hi int, rel, other *uint32, fde *uint64, emit []byte) error {
	got := o.gotBase()
	set := o.Set
	for i := lo; i < hi; i++ {
		r := sec.Relocs.At(i)
		st, _ := reloc.Static(r.Type)
		sym := f.Syms[r.Sym]
		d := o.Ctx.Decided(f, sec, i)
		if (d.Action == scan.Skip || d.Err != "" && !d.Undefined) && emit == nil {
			continue
		}
		var S uint64
		A := r.Addend
		switch {
		case sym.Section != nil && sym.Section.Discarded:
		case sym.Local && sym.Type == elf.STT_SECTION && sym.Section.IsMerged():
			// The addend says which piece.
			S, A = sym.Section.AddrOf(sym.Value+uint64(A)), 0
		default:
			S = sym.Addr()
		}
		off := r.Off - base
		P := addr + off
		if emit != nil {
			object.PutRela(emit[(i-lo)*object.RelaSize:], o.kept(r, sym, d.Relax, S, A, P, b, off))
			if d.Action == scan.Skip || d.Err != "" && !d.Undefined {
				continue
			}
		}
		t := reloc.Terms{A: A, P: P, S: S, Z: sym.Size, GOT: got, L: S, TLS: set.TLSStart, TP: set.TP}
		switch st.GOT {
		case reloc.GOTAddr:
			t.G = sym.GOTAddr - got
		case reloc.GOTTPOff:
			t.G = sym.GOTTPAddr - got
		case reloc.GOTTLSGD:
			t.G = sym.TLSGDAddr - got
		case reloc.GOTTLSLD:
			t.G = set.GOT.TLSLDAddr - got
		case reloc.GOTTLSDesc:
			t.G = sym.TLSDescAddr - got
		}
		if d.UsePLT {
			t.L = sym.PLTAddr
		}
		if d.Relax != reloc.NoRelax {
			var nextType elf.R_X86_64
			if i+1 < sec.Relocs.Len() {
				nextType = sec.Relocs.At(i + 1).Type
			}
			var val uint64
			switch d.Relax {
			case reloc.GOTPCRELXToPCRel:
				val = S + uint64(A) - P
				if int64(val) != int64(int32(val)) {
					return o.overflow(f, sec, r, sym)
				}
			case reloc.GOTPCRELXToAbs:
				// The immediate must fit the field it became.
				val = S
				abs := reloc.GOTPCRELXAbsType(r.Type, b, off)
				if at, _ := reloc.Static(abs); at.Put(abs, make([]byte, 4), val) != nil {
					return o.overflow(f, sec, r, sym)
				}
			case reloc.GDToLE, reloc.IEToLE, reloc.DescToLE:
				val = S - set.TP
			case reloc.GDToIE:
				val = sym.GOTTPAddr - P
			case reloc.DescToIE:
				val = sym.GOTTPAddr + uint64(A) - P
			case reloc.LDToLE:
				val = set.TP - set.TLSStart
			}
			reloc.Relax(d.Relax, r.Type, b, off, nextType, val)
			continue
		}
		val := st.Formula.Calculate(&t)
		if fde != nil && i == lo {
			*fde = S + uint64(A)
		}
		switch d.Action {
		case scan.Relative:
			o.Set.RelaDyn.Put(out, true, *rel, object.Rela{Off: P, Type: elf.R_X86_64_RELATIVE, Addend: int64(val)})
			*rel++
		case scan.Symbolic:
			o.Set.RelaDyn.Put(out, false, *other, object.Rela{Off: P, Type: r.Type, Sym: uint32(sym.DynIndex), Addend: A})
			*other++
			val = 0
		}
		if err := st.Put(r.Type, b[off:], val); err != nil {
			return o.overflow(f, sec, r, sym)
		}
	}
	return nil
}

// kept is relocation r as --emit-relocs keeps it, as GNU ld does: at
// its output address P, against the output's symbol for sym (a local
// symbol not in .symtab, a section's among them, becomes its output
// section's STT_SECTION symbol, the addend what S + A is from there),
// its type the one the relaxation applied (a GOTPCRELX load of an
// address is a PC32 one; GNU ld leaves relaxed TLS sequences as they
// were written). b holds the field at off, still unrelaxed.
func (o *Output) kept(r object.Rela, sym *resolve.Symbol, relax reloc.Relaxation, S uint64, A int64, P uint64, b []byte, off uint64) object.Rela {
	k := object.Rela{Off: P, Type: r.Type, Addend: r.Addend}
	if relax == reloc.GOTPCRELXToAbs {
		// The immediate is S itself: GNU ld keeps no addend.
		k.Type, k.Addend, A = reloc.GOTPCRELXAbsType(r.Type, b, off), 0, 0
	}
	if relax == reloc.GOTPCRELXToPCRel {
		k.Type = elf.R_X86_64_PC32
		if off >= 2 && b[off-2] == 0xff && b[off-1] == 0x25 {
			// jmp *x(%rip) became jmp x; nop: the field is a byte
			// earlier.
			k.Off--
		}
	}
	switch {
	case r.Sym == 0:
	case sym.Section != nil && sym.Section.Discarded:
		// Against removed code (debug information's, with
		// --gc-sections): none, as GNU ld keeps it.
		k = object.Rela{Off: k.Off, Type: elf.R_X86_64_NONE}
	case sym.SymtabIndex != 0 && !(sym.Local && sym.Type == elf.STT_SECTION):
		k.Sym = sym.SymtabIndex
	case sym.Section != nil && sym.Section.OutIndex != 0:
		if idx := o.Set.Symtab.SectionSymbol(sym.Section.OutIndex); idx != 0 {
			k.Sym = idx
			k.Addend = int64(S + uint64(A) - o.Layout.Chunks[sym.Section.OutIndex-1].Header().Addr)
		}
	default:
		// An absolute symbol, or one in a section the output does
		// not have: the value itself.
		k.Addend = int64(S + uint64(A))
	}
	return k
}

func (o *Output) overflow(f *resolve.File, sec *input.Section, r object.Rela, sym *resolve.Symbol) error {
	place := resolve.Place{File: f, Section: sec, Offset: r.Off}
	return &resolve.Diagnostic{Place: place, Message: fmt.Sprintf("relocation truncated to fit: %s against %s", r.Type, describe(sym))}
}

func describe(s *resolve.Symbol) string {
	if s.Local && s.Type == elf.STT_SECTION {
		return "`" + s.Name + "'"
	}
	if s.Kind == resolve.Undefined {
		return "undefined symbol `" + s.Name + "'"
	}
	return "symbol `" + s.Name + "'"
}

// ehFrame writes .eh_frame's records, relocated, then .eh_frame_hdr's
// table of them.
func (o *Output) ehFrame(out []byte) error {
	eh := o.Set.EhFrame
	if eh.Hdr.Index == 0 {
		return nil
	}
	b := out[eh.Hdr.Offset : eh.Hdr.Offset+eh.Hdr.Size]
	written := o.keptEhFrame()
	// Each input section's records are together and in order, and only
	// they count its dynamic relocations: a job per section.
	type run struct {
		lo, hi int
		fdes   []synth.FDE
		err    error
	}
	var runs []*run
	for i, r := range eh.Records {
		if i == 0 || r.Sec != eh.Records[i-1].Sec {
			runs = append(runs, &run{lo: i})
		}
		runs[len(runs)-1].hi = i + 1
	}
	parallel.For(o.Threads, len(runs), func(k int) {
		run := runs[k]
		sec := eh.Records[run.lo].Sec
		rel, other := sec.RelativeAt, sec.OtherAt
		for _, r := range eh.Records[run.lo:run.hi] {
			rec := r.Rec
			dst := b[r.Off : r.Off+uint64(rec.Size)]
			copy(dst, r.Sec.Data[rec.Off:rec.Off+rec.Size])
			if !rec.CIE {
				le.PutUint32(dst[4:], uint32(r.Off+4-r.CIEOff))
			}
			var pc uint64
			var fde *uint64
			if !rec.CIE {
				fde = &pc
			}
			emit := o.Set.EmitRelocs.ForRelocs(out, r.Sec, rec.RelocLo, rec.RelocHi)
			if written != nil {
				for j := rec.RelocLo; j < rec.RelocHi; j++ {
					written[r.Sec][j] = true
				}
			}
			if err := o.relocate(out, r.File, r.Sec, dst, eh.Hdr.Addr+r.Off, uint64(rec.Off), rec.RelocLo, rec.RelocHi, &rel, &other, fde, emit); err != nil {
				run.err = err
				return
			}
			if !rec.CIE {
				run.fdes = append(run.fdes, synth.FDE{PC: pc, Addr: eh.Hdr.Addr + r.Off})
			}
		}
	})
	var fdes []synth.FDE
	for _, run := range runs {
		if run.err != nil {
			return run.err
		}
		fdes = append(fdes, run.fdes...)
	}
	if h := o.Set.EhFrameHdr; h != nil && h.Hdr.Index != 0 {
		h.Write(out[h.Hdr.Offset:h.Hdr.Offset+h.Hdr.Size], fdes)
	}
	if written != nil {
		o.keptLeftOut(out, written)
	}
	return nil
}

// keptLeftOut writes the kept relocations of the .eh_frame records left
// out: R_X86_64_NONE at the offset of the relocation before, as GNU ld
// keeps them.
func (o *Output) keptLeftOut(out []byte, written map[*input.Section][]bool) {
	var last uint64
	for _, sec := range o.Set.EmitRelocs.EhSections {
		emit := o.Set.EmitRelocs.For(out, sec)
		if emit == nil {
			continue
		}
		for j := 0; j < sec.Relocs.Len(); j++ {
			e := emit[j*object.RelaSize:]
			if !written[sec][j] {
				object.PutRela(e, object.Rela{Off: last, Type: elf.R_X86_64_NONE})
			}
			last = le.Uint64(e)
		}
	}
}

// keptEhFrame returns, with --emit-relocs, which relocations of each
// input .eh_frame section are written with the records, none yet.
func (o *Output) keptEhFrame() map[*input.Section][]bool {
	e := o.Set.EmitRelocs
	if e == nil || e.EhFrame == nil {
		return nil
	}
	written := map[*input.Section][]bool{}
	for _, sec := range e.EhSections {
		written[sec] = make([]bool, sec.Relocs.Len())
	}
	return written
}

// buildID computes the build ID over the whole output, its own
// descriptor zero, as GNU ld does.
func (o *Output) buildID(out []byte) {
	b := o.Set.BuildID
	desc := out[b.Hdr.Offset+b.DescOffset() : b.Hdr.Offset+b.DescOffset()+uint64(b.Size)]
	switch b.Style {
	case "sha1":
		copy(desc, treeHash(out, o.Threads, sha1.New))
	case "md5":
		copy(desc, treeHash(out, o.Threads, md5.New))
	case "uuid":
		rand.Read(desc)
		desc[6] = desc[6]&0x0f | 0x40
		desc[8] = desc[8]&0x3f | 0x80
	default:
		v, _ := hex.DecodeString(b.Style[2:])
		copy(desc, v)
	}
}

// hashChunk is the size of the pieces a large output's build ID is
// computed from in parallel.
const hashChunk = 1 << 20

// treeHash is the build ID's hash of data: of the whole when it is one
// chunk or less (GNU ld's value), else, as lld computes it, the hash of
// the concatenated hashes of its chunks — the same whatever the number
// of threads, at a fraction of the time on a large output.
func treeHash(data []byte, threads int, newHash func() hash.Hash) []byte {
	if len(data) <= hashChunk {
		h := newHash()
		h.Write(data)
		return h.Sum(nil)
	}
	n := (len(data) + hashChunk - 1) / hashChunk
	sums := make([][]byte, n)
	parallel.For(threads, n, func(i int) {
		h := newHash()
		h.Write(data[i*hashChunk : min(len(data), (i+1)*hashChunk)])
		sums[i] = h.Sum(nil)
	})
	h := newHash()
	for _, s := range sums {
		h.Write(s)
	}
	return h.Sum(nil)
}

// File is an output being written: a temporary file mapped in memory,
// renamed over the output path when complete (Commit), or removed
// (Abort).
type File struct {
	path string
	tmp  *os.File
	data []byte
	// direct says the output is not a regular file (/dev/null): it is
	// written in place at the end rather than renamed over.
	direct bool
}

// Create makes the temporary file of an output of size bytes and maps
// it; the mapping is returned to be written.
func Create(path string, size uint64) (*File, []byte, error) {
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		data, err := unix.Mmap(-1, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			return nil, nil, fmt.Errorf("cannot open output file %s: %v", path, err)
		}
		return &File{path: path, data: data, direct: true}, data, nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".ldgo-*")
	if err != nil {
		return nil, nil, fmt.Errorf("cannot open output file %s: %s", path, object.ErrorText(err))
	}
	f := &File{path: path, tmp: tmp}
	if err := tmp.Truncate(int64(size)); err != nil {
		f.Abort()
		return nil, nil, fmt.Errorf("cannot write output file %s: %s", path, object.ErrorText(err))
	}
	data, err := unix.Mmap(int(tmp.Fd()), 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		f.Abort()
		return nil, nil, fmt.Errorf("cannot map output file %s: %s", path, object.ErrorText(err))
	}
	f.data = data
	return f, data, nil
}

// Abort removes the temporary file.
func (f *File) Abort() {
	if f.data != nil {
		unix.Munmap(f.data)
		f.data = nil
	}
	if f.tmp != nil {
		f.tmp.Close()
		os.Remove(f.tmp.Name())
	}
}

// Commit writes the output: the temporary renamed over the output path.
func (f *File) Commit() error {
	if f.direct {
		err := os.WriteFile(f.path, f.data, 0o666)
		unix.Munmap(f.data)
		if err != nil {
			return fmt.Errorf("cannot write output file %s: %s", f.path, object.ErrorText(err))
		}
		return nil
	}
	if err := unix.Munmap(f.data); err != nil {
		f.data = nil
		f.Abort()
		return err
	}
	f.data = nil
	mask := unix.Umask(0)
	unix.Umask(mask)
	if err := f.tmp.Chmod(os.FileMode(0o777 &^ mask)); err != nil {
		f.Abort()
		return err
	}
	if err := f.tmp.Close(); err != nil {
		os.Remove(f.tmp.Name())
		return err
	}
	old, oldSize := f.moveAside()
	if err := os.Rename(f.tmp.Name(), f.path); err != nil {
		os.Remove(f.tmp.Name())
		if old != "" {
			os.Rename(old, f.path)
		}
		return fmt.Errorf("cannot write output file %s: %s", f.path, object.ErrorText(err))
	}
	switch {
	case old == "":
	case oldSize < largeOutput:
		os.Remove(old)
	default:
		removeInBackground(old)
	}
	return nil
}

// largeOutput is the size from which an old output is removed in the
// background.
const largeOutput = 4 << 20

// moveAside renames the old output out of the way and returns its new
// name and size, "" if there is none. Renaming over it would make ext4
// write the new output out (its heuristic for files replaced by rename,
// auto_da_alloc) and free the old one's blocks before the rename
// returns: 6 ms for 5 MB, 77 ms for 112 MB (online discard), a tenth of
// a link.
func (f *File) moveAside() (string, int64) {
	st, err := os.Lstat(f.path)
	if err != nil || !st.Mode().IsRegular() {
		return "", 0
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); !ok || sys.Nlink != 1 {
		return "", 0 // another name keeps the blocks anyway
	}
	aside := f.tmp.Name() + ".old"
	if os.Rename(f.path, aside) != nil {
		return "", 0
	}
	return aside, st.Size()
}

// removeInBackground removes path by a process the link does not wait
// for (as mold leaves it to a child), or itself if none can be started.
func removeInBackground(path string) {
	cmd := exec.Command("rm", "-f", "--", path)
	if cmd.Start() != nil {
		os.Remove(path)
		return
	}
	cmd.Process.Release()
}
