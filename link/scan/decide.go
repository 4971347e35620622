package scan

import (
	"debug/elf"
	"fmt"

	"github.com/ldgo/ldgo/link/input"
	"github.com/ldgo/ldgo/link/resolve"
	"github.com/ldgo/ldgo/reloc"
)

// symbolName names a relocation's symbol as GNU ld does in its messages:
// "`.rodata'" for a section, "symbol `foo'" otherwise.
func symbolName(sym *resolve.Symbol) string {
	switch {
	case sym.Local && sym.Type == elf.STT_SECTION:
		return "`" + sym.Name + "'"
	case sym.Kind == resolve.Undefined:
		return "undefined symbol `" + sym.Name + "'"
	}
	return "symbol `" + sym.Name + "'"
}

func (c *Context) objectKind() string {
	if c.Shared {
		return "a shared object; recompile with -fPIC"
	}
	return "a PIE object; recompile with -fPIE"
}

// Decide says how relocation i of f's section sec is made.
func (c *Context) Decide(f *resolve.File, sec *input.Section, i int) Decision {
	r := sec.Relocs.At(i)
	t := r.Type
	st, _ := reloc.Static(t)
	sym := f.Syms[r.Sym]
	// A weak reference to a name a shared library refers to strongly
	// is not weak: the name must be defined (GNU ld's undefined, not
	// undefweak, symbol).
	weakRef := f.Symbols[r.Sym].Sym.Bind() == elf.STB_WEAK && sym.ShlibRef == nil
	if t == elf.R_X86_64_TLSDESC_CALL {
		// call *(%rax) is two bytes, rewritten to a two-byte nop.
		if sec.Alloc() && !c.Shared && r.Off+2 <= uint64(len(sec.Data)) {
			return Decision{Action: Static, Relax: reloc.DescCallToNop}
		}
		return Decision{Action: Skip}
	}
	if st.Formula == reloc.FormulaNone {
		return Decision{Action: Skip}
	}
	if !sec.Alloc() {
		// Debug information and other non-loaded sections get link-time
		// values only.
		return Decision{Action: Static}
	}
	if i > 0 && c.tlsCallRelaxed(sec, i-1) {
		// The call to __tls_get_addr of a GD or LD sequence goes with
		// it when the sequence is rewritten.
		return Decision{Action: Skip, Relax: reloc.TLSCall}
	}
	if sym.Kind == resolve.Undefined && !sym.Preemptible && !weakRef && !sym.Local {
		return Decision{Action: Static, Undefined: true, Err: fmt.Sprintf("undefined reference to `%s'", sym.Name)}
	}
	if st.GOT > reloc.GOTAddr || st.Formula == reloc.DTPOff || st.Formula == reloc.TPOff {
		return c.decideTLS(sec, i, t, st, sym)
	}
	d := c.decideAddress(sec, r.Off, t, st, sym)
	if sym.LocalIFunc() && d.Err == "" {
		// Every reference leads to the function's PLT entry.
		d.Needs |= resolve.NeedPLT
		if st.Formula == reloc.LAP || st.Formula == reloc.LAGOT {
			d.UsePLT = true
		}
	}
	return d
}

// decideAddress decides the relocations that are not thread-local.
func (c *Context) decideAddress(sec *input.Section, off uint64, t elf.R_X86_64, st reloc.StaticType, sym *resolve.Symbol) Decision {
	readOnly := sec.Flags&elf.SHF_WRITE == 0
	imported := sym.Kind == resolve.Shared
	function := sym.Type == elf.STT_FUNC || sym.Type == elf.STT_GNU_IFUNC
	// addressOf makes an imported symbol's address a link-time one in
	// an executable: its canonical PLT entry, or its copy.
	addressOf := func() (resolve.Need, string) {
		if function {
			return resolve.NeedCanonicalPLT | resolve.NeedPLT, ""
		}
		if c.Opts.Z.NoCopyReloc {
			return 0, fmt.Sprintf("relocation %s against %s: copy relocations are disabled (-z nocopyreloc); recompile with -fPIE", t, symbolName(sym))
		}
		return resolve.NeedCopy, ""
	}

	switch st.Formula {
	case reloc.GGOTAP, reloc.GA:
		if (t == elf.R_X86_64_GOTPCRELX || t == elf.R_X86_64_REX_GOTPCRELX) && c.addressKnown(sym) {
			// A position-dependent output takes the address as an
			// immediate, as GNU ld rewrites it; calls and jumps stay
			// PC-relative.
			if !c.PIC && reloc.CanRelaxGOTPCRELXToAbs(t, sec.Data, off) {
				return Decision{Action: Static, Relax: reloc.GOTPCRELXToAbs}
			}
			if reloc.CanRelaxGOTPCRELX(t, sec.Data, off) {
				return Decision{Action: Static, Relax: reloc.GOTPCRELXToPCRel}
			}
		}
		return Decision{Action: Static, Needs: resolve.NeedGOT}
	case reloc.GOTAP, reloc.SAGOT, reloc.ZA:
		return Decision{Action: Static}
	case reloc.LAP, reloc.LAGOT:
		if sym.Preemptible {
			return Decision{Action: Static, UsePLT: true, Needs: resolve.NeedPLT}
		}
		return Decision{Action: Static}
	case reloc.SA:
		if sym.Absolute() {
			return Decision{Action: Static}
		}
		if st.Size == 8 {
			switch {
			case sym.Preemptible && (!readOnly || !imported || c.PIC):
				return Decision{Action: Symbolic, TextRel: readOnly, Needs: resolve.NeedDynamic}
			case sym.Preemptible:
				n, err := addressOf()
				return Decision{Action: Static, Needs: n, Err: err}
			case c.PIC:
				return Decision{Action: Relative, TextRel: readOnly}
			}
			return Decision{Action: Static}
		}
		if c.PIC {
			return Decision{Err: fmt.Sprintf("relocation %s against %s can not be used when making %s", t, symbolName(sym), c.objectKind())}
		}
		if imported {
			n, err := addressOf()
			return Decision{Action: Static, Needs: n, Err: err}
		}
		return Decision{Action: Static}
	case reloc.SAP:
		if !sym.Preemptible || sym.Kind == resolve.Undefined && !c.Shared {
			return Decision{Action: Static}
		}
		if c.Shared || !imported {
			return Decision{Err: fmt.Sprintf("relocation %s against %s can not be used when making a shared object; recompile with -fPIC", t, symbolName(sym))}
		}
		n, err := addressOf()
		return Decision{Action: Static, Needs: n, Err: err}
	}
	return Decision{Err: fmt.Sprintf("relocation %s is not supported", t)}
}

// addressKnown says the output knows sym's address relative to its own
// code, so that a load of it from the GOT can become an address
// computation.
func (c *Context) addressKnown(sym *resolve.Symbol) bool {
	return !sym.Preemptible && sym.DefinedHere() && !sym.IFunc() && !sym.Absolute() &&
		(sym.Section == nil || !sym.Section.Discarded)
}

// tlsCallRelaxed reports whether relocation i of sec is a TLSGD or TLSLD
// one whose sequence, with the __tls_get_addr call after it, an
// executable rewrites.
func (c *Context) tlsCallRelaxed(sec *input.Section, i int) bool {
	r := sec.Relocs.At(i)
	if c.Shared || r.Type != elf.R_X86_64_TLSGD && r.Type != elf.R_X86_64_TLSLD || i+1 >= sec.Relocs.Len() {
		return false
	}
	n := sec.Relocs.At(i + 1)
	return reloc.CanRelaxTLSCall(r.Type == elf.R_X86_64_TLSGD, sec.Data, r.Off, n.Type, n.Off)
}

// decideTLS decides the thread-local storage relocations. In an
// executable every access model is relaxed to the cheapest the psABI
// allows: general dynamic and TLS descriptors to local exec for the
// executable's own variables and to initial exec for a library's, local
// dynamic to local exec, initial exec to local exec.
func (c *Context) decideTLS(sec *input.Section, i int, t elf.R_X86_64, st reloc.StaticType, sym *resolve.Symbol) Decision {
	r := sec.Relocs.At(i)
	exec := !c.Shared
	if sym.Type != elf.STT_TLS && sym.Kind != resolve.Undefined && t != elf.R_X86_64_DTPOFF64 && t != elf.R_X86_64_DTPOFF32 {
		return Decision{Err: fmt.Sprintf("%s against %s: not a thread-local symbol", t, symbolName(sym))}
	}
	switch t {
	case elf.R_X86_64_TLSGD:
		if c.tlsCallRelaxed(sec, i) {
			if !sym.Preemptible {
				return Decision{Action: Static, Relax: reloc.GDToLE}
			}
			return Decision{Action: Static, Relax: reloc.GDToIE, Needs: resolve.NeedGOTTP}
		}
		return Decision{Action: Static, Needs: resolve.NeedTLSGD}
	case elf.R_X86_64_TLSLD:
		if c.tlsCallRelaxed(sec, i) {
			return Decision{Action: Static, Relax: reloc.LDToLE}
		}
		return Decision{Action: Static, TLSLD: true}
	case elf.R_X86_64_GOTTPOFF:
		if exec && !sym.Preemptible && reloc.CanRelaxIE(sec.Data, r.Off) {
			return Decision{Action: Static, Relax: reloc.IEToLE}
		}
		return Decision{Action: Static, Needs: resolve.NeedGOTTP, StaticTLS: c.Shared}
	case elf.R_X86_64_GOTPC32_TLSDESC:
		if exec {
			if !reloc.CanRelaxDesc(sec.Data, r.Off) {
				return Decision{Err: fmt.Sprintf("%s against %s: not the psABI's TLS descriptor sequence", t, symbolName(sym))}
			}
			if !sym.Preemptible {
				return Decision{Action: Static, Relax: reloc.DescToLE}
			}
			return Decision{Action: Static, Relax: reloc.DescToIE, Needs: resolve.NeedGOTTP}
		}
		return Decision{Action: Static, Needs: resolve.NeedTLSDesc}
	case elf.R_X86_64_TPOFF32, elf.R_X86_64_TPOFF64:
		if c.Shared {
			return Decision{Err: fmt.Sprintf("relocation %s against %s can not be used when making a shared object; recompile with -fPIC", t, symbolName(sym))}
		}
		return Decision{Action: Static}
	}
	// DTPOFF32 and DTPOFF64: offsets in the module's block, which the
	// relaxed LD sequence's %rax points to as well.
	return Decision{Action: Static}
}
