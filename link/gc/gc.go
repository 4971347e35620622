// Package gc removes the sections nothing in the output needs
// (--gc-sections): starting from the roots — the entry point, -u's
// symbols, _init and _fini, what the output exports, and the sections
// GNU ld keeps regardless (constructors and destructors, .init, .fini,
// notes, SHF_GNU_RETAIN, and sections named as C identifiers, which
// __start_ and __stop_ symbols may bound) — every section a live
// section's relocations refer to is live, and with a live function its
// frame description's references (its LSDA in .gcc_except_table).
// What is not reached is discarded, as a COMDAT group kept elsewhere is.
package gc

import (
	"debug/elf"
	"fmt"
	"io"
	"strings"

	"github.com/ldgo/ldgo/link/input"
	"github.com/ldgo/ldgo/link/layout"
	"github.com/ldgo/ldgo/link/options"
	"github.com/ldgo/ldgo/link/resolve"
)

const shfGNURetain elf.SectionFlag = 0x200000

// Collect discards the unreachable sections of res's files; with
// --print-gc-sections it names each on w, in GNU ld's words.
func Collect(res *resolve.Result, opts *options.Options, w io.Writer, prog string) {
	c := &collector{live: map[*input.Section]bool{}, fdes: map[*input.Section][]fde{}, files: map[*input.Object]*resolve.File{}}
	for _, f := range res.Files {
		c.files[f.Object] = f
		for _, sec := range f.Sections {
			if sec == nil || sec.Discarded || sec.Name != ".eh_frame" {
				continue
			}
			for _, rec := range sec.EhRecords {
				if rec.CIE || rec.RelocLo == rec.RelocHi {
					continue
				}
				r := sec.Relocs.At(rec.RelocLo)
				if target := f.Syms[r.Sym].Section; target != nil {
					c.fdes[target] = append(c.fdes[target], fde{f, sec, rec})
				}
			}
		}
	}
	for _, f := range res.Files {
		for _, sec := range f.Sections {
			if sec != nil && !sec.Discarded && root(sec) {
				c.mark(sec)
			}
		}
	}
	names := append([]string{opts.Entry, opts.Init, opts.Fini, "_start"}, opts.Undefined...)
	for _, n := range names {
		if s := res.Table.Lookup(n); s != nil {
			c.markSymbol(s)
		}
	}
	for _, s := range res.Globals() {
		if s.Exported {
			c.markSymbol(s)
		}
	}
	for len(c.work) > 0 {
		sec := c.work[len(c.work)-1]
		c.work = c.work[:len(c.work)-1]
		f := c.files[sec.File]
		for i := 0; i < sec.Relocs.Len(); i++ {
			c.markSymbol(f.Syms[sec.Relocs.At(i).Sym])
		}
		for _, d := range c.fdes[sec] {
			// The FDE's own references but its code: the LSDA, and
			// through its CIE the personality routine.
			for i := d.rec.RelocLo + 1; i < d.rec.RelocHi; i++ {
				c.markSymbol(d.f.Syms[d.sec.Relocs.At(i).Sym])
			}
			for _, cie := range d.sec.EhRecords {
				if cie.CIE && cie.Off == d.rec.CIEOff {
					for i := cie.RelocLo; i < cie.RelocHi; i++ {
						c.markSymbol(d.f.Syms[d.sec.Relocs.At(i).Sym])
					}
				}
			}
		}
	}
	// An import only removed sections referred to is not imported.
	refd := map[*resolve.Symbol]bool{}
	for sec := range c.live {
		f := c.files[sec.File]
		for i := 0; i < sec.Relocs.Len(); i++ {
			refd[f.Syms[sec.Relocs.At(i).Sym]] = true
		}
	}
	for _, fs := range c.fdes {
		for _, d := range fs {
			if c.live[d.f.Syms[d.sec.Relocs.At(d.rec.RelocLo).Sym].Section] {
				for i := d.rec.RelocLo; i < d.rec.RelocHi; i++ {
					refd[d.f.Syms[d.sec.Relocs.At(i).Sym]] = true
				}
			}
		}
	}
	for _, s := range res.Globals() {
		if (s.Kind == resolve.Shared || s.Kind == resolve.Undefined) && !refd[s] && !s.CopyReloc {
			s.Referenced, s.Dynamic = false, false
		}
	}
	for _, f := range res.Files {
		for _, sec := range f.Sections {
			if sec == nil || sec.Discarded || !sec.Alloc() || c.live[sec] || sec.Name == ".eh_frame" {
				continue
			}
			sec.Discarded = true
			if opts.PrintGCSections && sec.Size > 0 {
				fmt.Fprintf(w, "%s: removing unused section '%s' in file '%s'\n", prog, sec.Name, f.Name)
			}
		}
	}
}

type fde struct {
	f   *resolve.File
	sec *input.Section
	rec input.EhRecord
}

type collector struct {
	live  map[*input.Section]bool
	work  []*input.Section
	fdes  map[*input.Section][]fde
	files map[*input.Object]*resolve.File
}

func (c *collector) mark(sec *input.Section) {
	if sec == nil || sec == input.Dropped || c.live[sec] || sec.Discarded {
		return
	}
	c.live[sec] = true
	c.work = append(c.work, sec)
}

func (c *collector) markSymbol(s *resolve.Symbol) {
	if s.Kind == resolve.Defined && s.Section != nil {
		c.mark(s.Section)
	}
}

// root reports whether a section is kept whatever refers to it, with
// what it refers to. Sections not loaded (debug information) are kept
// but keep nothing: their references to removed code are left, as GNU
// ld leaves them.
func root(sec *input.Section) bool {
	if !sec.Alloc() {
		return false
	}
	if sec.Keep || sec.Flags&shfGNURetain != 0 || sec.Type == elf.SHT_NOTE ||
		sec.Type == elf.SHT_INIT_ARRAY || sec.Type == elf.SHT_FINI_ARRAY || sec.Type == elf.SHT_PREINIT_ARRAY {
		return true
	}
	for _, p := range []string{".init_array", ".fini_array", ".preinit_array", ".ctors", ".dtors", ".init", ".fini", ".jcr"} {
		if sec.Name == p || strings.HasPrefix(sec.Name, p+".") {
			return true
		}
	}
	return layout.IsCIdentifier(sec.Name)
}
