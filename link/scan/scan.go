// Package scan decides, for every relocation of the link, what it takes:
// a GOT entry, a PLT entry, a copy relocation or a canonical PLT address
// for an imported symbol, a dynamic relocation (RELATIVE for an address
// in a position-independent output, a symbolic one for a symbol bound at
// run time), or nothing beyond the value written — or that it cannot be
// made (a 32-bit absolute address in a PIE, an undefined reference).
//
// Decide is the one statement of these rules: the scan uses it to record
// what each symbol needs, and the writer uses it again to apply each
// relocation the same way. Files are scanned in parallel; needs are
// recorded on the symbols atomically, counts on the scanned file's own
// sections, so no lock is taken.
package scan

import (
	"debug/elf"
	"fmt"

	"github.com/ldgo/ldgo/link/input"
	"github.com/ldgo/ldgo/link/options"
	"github.com/ldgo/ldgo/link/parallel"
	"github.com/ldgo/ldgo/link/resolve"
	"github.com/ldgo/ldgo/link/versions"
	"github.com/ldgo/ldgo/object"
	"github.com/ldgo/ldgo/reloc"
)

// Context is what the rules need to know of the output.
type Context struct {
	Opts *options.Options
	// PIC says the output is loaded at an address chosen at run time
	// (a PIE or a shared library).
	PIC bool
	// Dynamic says the output has dynamic sections.
	Dynamic bool
	// Shared says the output is a shared library.
	Shared bool
	// Versions is the version script, nil if none.
	Versions *versions.Script
}

// Action is what a relocation makes the link editor write.
type Action uint8

const (
	// Skip: nothing is written (R_X86_64_NONE, markers).
	Skip Action = iota
	// Static: the formula's value, final at link time.
	Static
	// Relative: the value, and a RELATIVE dynamic relocation adding the
	// load address to it.
	Relative
	// Symbolic: a dynamic relocation of the same type naming the
	// symbol, bound by the dynamic linker.
	Symbolic
)

// Decision is how one relocation is made.
type Decision struct {
	Action Action
	// UsePLT says L is the symbol's PLT entry; otherwise L is S.
	UsePLT bool
	// Needs are what the symbol must get (GOT, PLT, copy, ...).
	Needs resolve.Need
	// TextRel says a dynamic relocation writes a read-only section.
	TextRel bool
	// Err is why the relocation cannot be made, in GNU ld's words.
	Err string
	// Undefined says the error is an undefined reference.
	Undefined bool
	// Relax is the instruction rewrite the relocation is made by.
	Relax reloc.Relaxation
	// TLSLD says the output needs the GOT entries of local-dynamic TLS
	// (its module id), StaticTLS that the output uses initial-exec TLS
	// (DF_STATIC_TLS).
	TLSLD, StaticTLS bool
}

// A packed decision holds what the writer needs of one: the action,
// whether L is the PLT entry, the relaxation, and that it is there.
const (
	packedAction = 0x3
	packedUsePLT = 0x4
	packedRelax  = 3 // shift
	packedValid  = 0x8000
)

func (d Decision) pack() uint16 {
	p := uint16(d.Action) | uint16(d.Relax)<<packedRelax | packedValid
	if d.UsePLT {
		p |= packedUsePLT
	}
	return p
}

// Decided is Decide's decision of relocation i of sec as the scan made
// it, without deciding again: the writer asks for every relocation the
// scan decided. A relocation the scan did not decide (it reported it,
// or left it out) is decided now.
func (c *Context) Decided(f *resolve.File, sec *input.Section, i int) Decision {
	if i < len(sec.Decided) {
		if p := sec.Decided[i]; p&packedValid != 0 {
			return Decision{Action: Action(p & packedAction), UsePLT: p&packedUsePLT != 0, Relax: reloc.Relaxation(p&^packedValid) >> packedRelax}
		}
	}
	return c.Decide(f, sec, i)
}

// GOTEntry says how an address GOT entry for sym is filled: at run time
// by a symbolic relocation (GLOB_DAT), by a RELATIVE relocation, or with
// its final value.
func (c *Context) GOTEntry(sym *resolve.Symbol) Action {
	switch {
	case sym.Preemptible:
		return Symbolic
	case c.PIC && !sym.Absolute() && sym.Kind != resolve.Undefined:
		return Relative
	}
	return Static
}

// Result is what a scan found.
type Result struct {
	// Errors are the relocations that cannot be made, in link order:
	// one per symbol and section, but undefined references as GNU ld
	// reports them (limitUndefined).
	Errors []error
	// TextRel says a dynamic relocation applies to a read-only section.
	TextRel bool
	// TextRelPlace is the first such relocation, for messages.
	TextRelPlace resolve.Place
	// TLSLD and StaticTLS are Decision's, for the whole output.
	TLSLD, StaticTLS bool
}

// Scan decides every relocation of the live sections of files, on
// threads goroutines, and records what their symbols need.
func (c *Context) Scan(files []*resolve.File, threads int) *Result {
	perFile := make([]fileResult, len(files))
	parallel.For(threads, len(files), func(i int) { perFile[i] = c.scanFile(files[i]) })
	res := &Result{}
	for _, fr := range perFile {
		res.Errors = append(res.Errors, fr.errs...)
		if fr.textRel && !res.TextRel {
			res.TextRel = true
			res.TextRelPlace = fr.textRelPlace
		}
		res.TLSLD = res.TLSLD || fr.tlsld
		res.StaticTLS = res.StaticTLS || fr.staticTLS
	}
	res.Errors = limitUndefined(res.Errors)
	return res
}

// maxUndefinedInARow is how many undefined references to one name in a
// row GNU ld reports (ldmain.c's MAX_ERRORS_IN_A_SECTION).
const maxUndefinedInARow = 5

// limitUndefined keeps GNU ld's undefined references of errs: of those
// to one name in a row (whatever their file), the first five, then
// "more undefined references to `foo' follow" in place of the sixth,
// and none after.
func limitUndefined(errs []error) []error {
	out := errs[:0]
	name, n := "", 0
	for _, err := range errs {
		d, ok := err.(*resolve.Diagnostic)
		if !ok || d.Undefined == "" {
			name, n = "", 0
			out = append(out, err)
			continue
		}
		if d.Undefined != name {
			name, n = d.Undefined, 0
		}
		n++
		switch {
		case n <= maxUndefinedInARow:
			out = append(out, err)
		case n == maxUndefinedInARow+1:
			out = append(out, &resolve.Diagnostic{Message: fmt.Sprintf("%s: more undefined references to `%s' follow", d.Place.Full(), name)})
		}
	}
	return out
}

type fileResult struct {
	errs             []error
	textRel          bool
	textRelPlace     resolve.Place
	tlsld, staticTLS bool
}

type errKey struct {
	sym *resolve.Symbol
	sec *input.Section
}

func (c *Context) scanFile(f *resolve.File) fileResult {
	var fr fileResult
	reported := map[errKey]bool{}
	for _, sec := range f.Sections {
		if sec == nil || sec.Discarded || sec.Relocs == nil {
			continue
		}
		if sec.Name == ".eh_frame" {
			// Its relocations are PC-relative ones against code and
			// personality pointers through the GOT (DW.ref); scanned
			// like any other, FDEs of discarded code excepted.
			c.scanEhFrame(f, sec, &fr, reported)
			continue
		}
		c.scanRange(f, sec, 0, sec.Relocs.Len(), &fr, reported)
	}
	return fr
}

func (c *Context) scanEhFrame(f *resolve.File, sec *input.Section, fr *fileResult, reported map[errKey]bool) {
	for _, rec := range sec.EhRecords {
		if !rec.CIE && !FDELive(f, sec, rec) {
			continue
		}
		c.scanRange(f, sec, rec.RelocLo, rec.RelocHi, fr, reported)
	}
}

// FDELive reports whether an FDE describes code that is in the output.
func FDELive(f *resolve.File, sec *input.Section, rec input.EhRecord) bool {
	if rec.RelocLo == rec.RelocHi {
		return false
	}
	r := sec.Relocs.At(rec.RelocLo)
	if r.Off != uint64(rec.Off)+8 || r.Sym == 0 || r.Type == elf.R_X86_64_NONE {
		// No code: an FDE a relocatable link (-r) left of discarded
		// code.
		return false
	}
	sym := f.Syms[r.Sym]
	return sym.Section == nil || !sym.Section.Discarded
}

func (c *Context) scanRange(f *resolve.File, sec *input.Section, lo, hi int, fr *fileResult, reported map[errKey]bool) {
	if sec.Decided == nil {
		sec.Decided = make([]uint16, sec.Relocs.Len())
	}
	for i := lo; i < hi; i++ {
		r := sec.Relocs.At(i)
		sym := f.Syms[r.Sym]
		if sec.Alloc() && sym.Local && sym.Section != nil && sym.Section.Discarded {
			key := errKey{sym, sec}
			if !reported[key] {
				reported[key] = true
				fr.errs = append(fr.errs, &resolve.Diagnostic{
					Place:   resolve.Place{File: f, Section: sec, Offset: r.Off},
					Message: fmt.Sprintf("`%s' referenced in section `%s' of %s: defined in discarded section `%s' of %s", sym.Name, sec.Name, f.Name, sym.Section.Name, f.Name),
				})
			}
			continue
		}
		d := c.Decide(f, sec, i)
		if d.Undefined {
			// Each reference, as GNU ld reports them (limitUndefined).
			fr.errs = append(fr.errs, c.diagnostic(f, sec, r, d))
			continue
		}
		if d.Err != "" {
			key := errKey{sym, sec}
			if !reported[key] {
				reported[key] = true
				fr.errs = append(fr.errs, c.diagnostic(f, sec, r, d))
			}
			continue
		}
		sec.Decided[i] = d.pack()
		if d.Needs != 0 {
			sym.Add(d.Needs)
		}
		fr.tlsld = fr.tlsld || d.TLSLD
		fr.staticTLS = fr.staticTLS || d.StaticTLS
		switch d.Action {
		case Relative:
			sec.DynRelative++
		case Symbolic:
			sec.DynOther++
		}
		if d.TextRel && !fr.textRel {
			fr.textRel = true
			fr.textRelPlace = resolve.Place{File: f, Section: sec, Offset: r.Off}
		}
	}
}

func (c *Context) diagnostic(f *resolve.File, sec *input.Section, r object.Rela, d Decision) error {
	place := resolve.Place{File: f, Section: sec, Offset: r.Off}
	if d.Undefined {
		return &resolve.Diagnostic{Place: place, Message: d.Err, Undefined: f.Syms[r.Sym].Name}
	}
	// GNU ld names only the object for relocation errors.
	return &resolve.Diagnostic{Place: resolve.Place{File: f}, Message: d.Err}
}
