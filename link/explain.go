package link

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/ldgo/ldgo/link/input"
	"github.com/ldgo/ldgo/link/options"
	"github.com/ldgo/ldgo/link/resolve"
	"github.com/ldgo/ldgo/link/scan"
	"github.com/ldgo/ldgo/reloc"
)

// explain writes, for each symbol asked about (--why SYM) or every
// symbol in .dynsym (--explain), why the output treats it as it does:
// where it is defined and which archive member that pulled in, whether
// it is exported and binds at run time, and, relocation by relocation,
// what scan.Decide decided — the decisions the output was written by —
// with what they made: a PLT entry, a GOT entry, a copy relocation, a
// canonical PLT address, a dynamic relocation, a TLS relaxation.
func (l *linker) explain(w io.Writer, res *resolve.Result, ctx *scan.Context) {
	var syms []*resolve.Symbol
	if l.opts.Explain {
		for _, s := range res.Globals() {
			if s.Dynamic {
				syms = append(syms, s)
			}
		}
		slices.SortFunc(syms, func(a, b *resolve.Symbol) int { return strings.Compare(a.Name, b.Name) })
	}
	for _, name := range l.opts.Why {
		if s := res.Table.Lookup(name); s != nil && !slices.Contains(syms, s) {
			syms = append(syms, s)
		} else if s == nil {
			fmt.Fprintf(w, "%s: no object or library of the link names it\n\n", name)
		}
	}
	refs := references(res, syms)
	for _, s := range syms {
		fmt.Fprintf(w, "%s: %s\n", s.Name, definition(s))
		for _, e := range res.Extractions {
			if e.Symbol == s.Name {
				fmt.Fprintf(w, "  %s was extracted for it, referenced by %s\n", e.Member, e.Reference)
			}
		}
		fmt.Fprintf(w, "  %s\n", binding(s, l.opts))
		for _, r := range refs[s] {
			d := ctx.Decide(r.file, r.sec, r.index)
			rel := r.sec.Relocs.At(r.index)
			fmt.Fprintf(w, "  %s(%s+%#x): %s: %s\n", r.file.Name, r.sec.Name, rel.Off, rel.Type, decision(d))
		}
		for _, m := range made(s) {
			fmt.Fprintf(w, "  so it gets %s\n", m)
		}
		fmt.Fprintln(w)
	}
}

type reference struct {
	file  *resolve.File
	sec   *input.Section
	index int
}

// references lists, per symbol, the relocations of the output's live
// sections that name it, in link order.
func references(res *resolve.Result, syms []*resolve.Symbol) map[*resolve.Symbol][]reference {
	want := map[*resolve.Symbol]bool{}
	for _, s := range syms {
		want[s] = true
	}
	refs := map[*resolve.Symbol][]reference{}
	for _, f := range res.Files {
		for _, sec := range f.Sections {
			if sec == nil || sec.Discarded || !sec.InOutput && sec.Placement == nil || !sec.Alloc() {
				continue
			}
			for i := 0; i < sec.Relocs.Len(); i++ {
				r := sec.Relocs.At(i)
				if int(r.Sym) < len(f.Syms) && want[f.Syms[r.Sym]] {
					s := f.Syms[r.Sym]
					refs[s] = append(refs[s], reference{f, sec, i})
				}
			}
		}
	}
	return refs
}

// definition says where a symbol's definition comes from.
func definition(s *resolve.Symbol) string {
	switch s.Kind {
	case resolve.Defined:
		if s.Section == nil {
			return "defined in " + s.File.Name + " (absolute)"
		}
		return "defined in " + s.Section.String()
	case resolve.Common:
		return "a common symbol of " + s.File.Name
	case resolve.Linker:
		return "defined by the link editor (or a linker script)"
	case resolve.Shared:
		v := ""
		if s.Version != "" {
			v = " at version " + s.Version
		}
		return "imported from " + s.Shlib.NeededName + v
	}
	if s.StrongRef {
		return "undefined"
	}
	return "undefined weak"
}

// binding says whether the output exports the symbol and whether its
// references bind at run time, as the export decisions left them.
func binding(s *resolve.Symbol, opts *options.Options) string {
	var parts []string
	switch {
	case s.Exported:
		why := "the output is a shared library"
		switch {
		case opts.OutputKind == options.Shared:
		case opts.ExportDynamic:
			why = "-E (--export-dynamic)"
		case s.InShlib:
			why = "a shared library of the link names it"
		default:
			why = "--dynamic-list or --export-dynamic-symbol names it"
		}
		parts = append(parts, "exported in .dynsym: "+why)
	case s.Dynamic:
		parts = append(parts, "in .dynsym, imported")
	default:
		parts = append(parts, "not in .dynsym")
	}
	if s.OutVersion != "" {
		parts = append(parts, "at version "+s.OutVersion)
	}
	if s.Preemptible {
		parts = append(parts, "preemptible: its references bind at run time")
	} else if s.DefinedHere() {
		parts = append(parts, "binds to its definition here at link time")
	}
	return strings.Join(parts, "; ")
}

var relaxations = map[reloc.Relaxation]string{
	reloc.GOTPCRELXToPCRel: "GOTPCRELX relaxed: the GOT load becomes an address computation (lea, or a direct call or jump)",
	reloc.GOTPCRELXToAbs:   "GOTPCRELX relaxed: the GOT load becomes the address as an immediate (mov, test or binop $sym)",
	reloc.GDToLE:           "TLS relaxed, general dynamic to local exec",
	reloc.GDToIE:           "TLS relaxed, general dynamic to initial exec",
	reloc.LDToLE:           "TLS relaxed, local dynamic to local exec",
	reloc.IEToLE:           "TLS relaxed, initial exec to local exec",
	reloc.DescToLE:         "TLS relaxed, TLS descriptor to local exec",
	reloc.DescToIE:         "TLS relaxed, TLS descriptor to initial exec",
	reloc.DescCallToNop:    "the TLS descriptor call becomes a nop",
	reloc.TLSCall:          "the __tls_get_addr call goes with the relaxed sequence",
}

var needs = []struct {
	need resolve.Need
	what string
}{
	{resolve.NeedGOT, "a GOT entry"},
	{resolve.NeedPLT, "a PLT entry"},
	{resolve.NeedCanonicalPLT, "a canonical PLT entry (its address in the executable)"},
	{resolve.NeedCopy, "a copy in the executable (a copy relocation)"},
	{resolve.NeedTLSGD, "a general-dynamic TLS GOT pair (DTPMOD64, DTPOFF64)"},
	{resolve.NeedGOTTP, "an initial-exec TLS GOT entry (TPOFF64)"},
	{resolve.NeedTLSDesc, "a TLS descriptor"},
	{resolve.NeedDynamic, "a dynamic relocation naming it"},
}

// decision words one of scan.Decide's decisions.
func decision(d scan.Decision) string {
	if d.Err != "" {
		return "error: " + d.Err
	}
	var parts []string
	switch d.Action {
	case scan.Skip:
		parts = append(parts, "nothing written")
	case scan.Static:
		parts = append(parts, "the field written at link time")
	case scan.Relative:
		parts = append(parts, "a RELATIVE dynamic relocation (the load address added)")
	case scan.Symbolic:
		parts = append(parts, "a dynamic relocation naming the symbol, bound at run time")
	}
	if d.UsePLT {
		parts = append(parts, "to its PLT entry")
	}
	if d.Relax != reloc.NoRelax {
		parts = append(parts, relaxations[d.Relax])
	}
	var asks []string
	for _, n := range needs {
		if d.Needs&n.need != 0 {
			asks = append(asks, n.what)
		}
	}
	if len(asks) > 0 {
		parts = append(parts, "needs "+strings.Join(asks, " and "))
	}
	if d.TextRel {
		parts = append(parts, "in a read-only section (DT_TEXTREL)")
	}
	return strings.Join(parts, "; ")
}

// made lists what the synthetic sections gave the symbol from its
// needs.
func made(s *resolve.Symbol) []string {
	var m []string
	if s.PLTIndex >= 0 {
		m = append(m, fmt.Sprintf("PLT entry %d at %#x", s.PLTIndex, s.PLTAddr))
	}
	if s.PLTGOT {
		m = append(m, fmt.Sprintf(".plt.got entry at %#x, which calls go to: a jump through its GOT entry, bound at load time (no PLT entry)", s.PLTAddr))
	}
	if s.CanonicalPLT {
		m = append(m, fmt.Sprintf("its canonical address %#x, its PLT entry (.dynsym gives it as the value of the undefined symbol)", s.PLTAddr))
	}
	if s.CopyReloc {
		m = append(m, fmt.Sprintf("a copy at %#x (R_X86_64_COPY)", s.Addr()))
	}
	if s.GOTIndex >= 0 {
		m = append(m, fmt.Sprintf("GOT entry at %#x", s.GOTAddr))
	}
	if s.GOTTPIndex >= 0 {
		m = append(m, fmt.Sprintf("initial-exec GOT entry at %#x (R_X86_64_TPOFF64)", s.GOTTPAddr))
	}
	if s.TLSGDIndex >= 0 {
		m = append(m, fmt.Sprintf("general-dynamic GOT pair at %#x (R_X86_64_DTPMOD64, R_X86_64_DTPOFF64)", s.TLSGDAddr))
	}
	if s.TLSDescIndex >= 0 {
		m = append(m, fmt.Sprintf("TLS descriptor at %#x (R_X86_64_TLSDESC)", s.TLSDescAddr))
	}
	return m
}

// writeExplanation writes --why's and --explain's text: into the -Map
// file after the map, or on standard output without -Map.
func (l *linker) writeExplanation(res *resolve.Result, ctx *scan.Context) error {
	if len(l.opts.Why) == 0 && !l.opts.Explain {
		return nil
	}
	if l.opts.Map == "" || len(l.opts.Why) > 0 && !l.opts.Explain {
		l.explain(l.stdout, res, ctx)
		return nil
	}
	f, err := os.OpenFile(l.opts.Map, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("cannot open map file %s: %w", l.opts.Map, err)
	}
	fmt.Fprintf(f, "\nWhy each dynamic symbol is as it is (--explain)\n\n")
	l.explain(f, res, ctx)
	return f.Close()
}
