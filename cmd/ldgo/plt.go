package main

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/ldgo/ldgo/analyze"
	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/lookup"
	"github.com/ldgo/ldgo/namespace"
)

var cmdPLT = analysisCommand("plt",
	"show each object's PLT and GOT slots, before and after binding",
	`Prints, for each object PROG loads (or the one --object names), its PLT/GOT
table: for each PLT slot (each DT_JMPREL relocation) the symbol and version,
the PLT entry calls go to, the GOT entry, the value it holds before binding
(the lazy stub in the PLT that pushes the slot's index and jumps to PLT0)
and after (the definition the lookup binds it to), as glibc's ld.so would
have them; lazy and BIND_NOW objects, and the IBT-enabled PLT (.plt.sec)
of gcc -fcf-protection builds. The PLT code is decoded from the object's
bytes, laid out as the x86-64 psABI lays it out. Addresses are those of
ldgo's file image, not of a real run (ldgo run --debug lazy shows those).`,
	[]option{
		{name: "object", arg: "NAME", help: "show only the object NAME (its path, name or file name)"},
		{name: "now", help: "bind every slot at start-up, as LD_BIND_NOW"},
	},
	runPLT)

type pltOutput struct {
	header
	Objects []pltObject `json:"objects"`
}

type pltObject struct {
	Object  string    `json:"object"`
	Base    uint64    `json:"base"`
	Layout  string    `json:"layout"`
	Lazy    bool      `json:"lazy"`
	BindNow string    `json:"bind_now,omitempty"`
	GOT     uint64    `json:"got"`
	PLT0    uint64    `json:"plt0,omitempty"`
	PLT0OK  bool      `json:"plt0_ok,omitempty"`
	BND     bool      `json:"bnd,omitempty"`
	Slots   []pltSlot `json:"slots"`
}

type pltSlot struct {
	Slot    int       `json:"slot"`
	Type    string    `json:"type"`
	Symbol  string    `json:"symbol,omitempty"`
	Version string    `json:"version,omitempty"`
	Entry   uint64    `json:"entry,omitempty"`
	GOT     uint64    `json:"got"`
	Before  uint64    `json:"before"`
	Stub    bool      `json:"stub"`
	After   *pltAfter `json:"after,omitempty"`
	Error   string    `json:"error,omitempty"`
	Problem string    `json:"problem,omitempty"`
}

type pltAfter struct {
	Object  string `json:"object,omitempty"`
	Symbol  string `json:"symbol,omitempty"`
	Version string `json:"version,omitempty"`
	// DefaultVersion: the definition is name@@version.
	DefaultVersion bool   `json:"default_version,omitempty"`
	Address        uint64 `json:"address"`
	IFunc          bool   `json:"ifunc,omitempty"`
}

func runPLT(a *analyze.Analysis, opts *options, h header, out, errOut io.Writer) int {
	prog := opts.Progname
	want, only := opts.values["object"]
	bind := a.Bind(opts.now)
	doc := pltOutput{header: h, Objects: []pltObject{}}
	for _, m := range a.NS.Chain {
		if m.Faked || m.Vdso || m.Rtld || m.Adopted || m.Obj == nil || !m.Obj.Dyn.HasJmpRel {
			continue
		}
		if only && !objectNamed(m, want, prog) {
			continue
		}
		o, err := pltOf(a.NS, m, opts, prog)
		if err != nil {
			fmt.Fprintf(errOut, "ldgo plt: %s: %v\n", m.DisplayName(prog), err)
			return 1
		}
		doc.Objects = append(doc.Objects, o)
	}
	if only && len(doc.Objects) == 0 {
		fmt.Fprintf(errOut, "ldgo plt: %s loads no object %s with PLT slots\n", prog, want)
		return 1
	}
	status := 0
	if len(bind.Problems) > 0 {
		status = 1
	}
	if opts.json {
		writeJSON(out, doc)
		return status
	}
	for i, o := range doc.Objects {
		if i > 0 {
			fmt.Fprintln(out)
		}
		printPLT(out, o)
	}
	return status
}

// objectNamed reports whether --object NAME names m.
func objectNamed(m *linkmap.Map, name, prog string) bool {
	return m.DisplayName(prog) == name || m.NameMatches(name) || (m.Name != "" && filepath.Base(m.Name) == name) ||
		(m.Kind == linkmap.Executable && filepath.Base(prog) == name)
}

// pltOf decodes m's PLT and binds each slot with the engine's Fixup.
func pltOf(ns *namespace.Namespace, m *linkmap.Map, opts *options, prog string) (pltObject, error) {
	d := &m.Obj.Dyn
	plt, err := m.Obj.DecodePLT(nil)
	if err != nil {
		return pltObject{}, err
	}
	o := pltObject{
		Object: m.DisplayName(prog), Base: m.Base, Layout: plt.Layout.String(),
		GOT: m.Addr(d.PLTGot), PLT0OK: plt.PLT0OK, BND: plt.BND, Slots: []pltSlot{},
	}
	if plt.PLT0 != 0 {
		o.PLT0 = m.Addr(plt.PLT0)
	}
	switch {
	case d.BindNow:
		o.BindNow = "the object asks for it (DF_BIND_NOW or DF_1_NOW: linked with -z now)"
	case opts.now:
		o.BindNow = "--now (LD_BIND_NOW)"
	default:
		o.Lazy = true
	}
	tab, err := m.Obj.Relas(d.JmpRel)
	if err != nil {
		return o, err
	}
	for i, s := range plt.Slots {
		rel := tab.At(i)
		ps := pltSlot{Slot: i, Type: relocName(s.Type), GOT: m.Addr(s.GOT), Stub: s.Stub != 0, Problem: s.Problem}
		// What the GOT entry holds until it is bound: ld.so adds the
		// base to a lazy slot at start-up; a slot bound at start-up is
		// written over, the file's value never adjusted.
		ps.Before = s.Initial
		if o.Lazy && s.Initial != 0 {
			ps.Before = m.Addr(s.Initial)
		}
		if s.Entry != 0 {
			ps.Entry = m.Addr(s.Entry)
		}
		if rel.Sym != 0 && uint64(rel.Sym) < uint64(m.Obj.NumSymbols()) {
			ps.Symbol = m.Obj.SymbolName(rel.Sym)
			if v, _ := m.Obj.SymbolVersion(rel.Sym); v != nil {
				ps.Version = v.Name
			}
		}
		switch s.Type {
		case elf.R_X86_64_JMP_SLOT:
			ps.After, ps.Error = fixup(ns, m, i, prog)
		case elf.R_X86_64_IRELATIVE:
			ps.After = &pltAfter{Address: m.Addr(uint64(rel.Addend)), IFunc: true}
		}
		o.Slots = append(o.Slots, ps)
	}
	return o, nil
}

// fixup binds slot i as glibc's _dl_fixup would (the engine's Fixup,
// IFUNC resolvers not run), and says what it binds to.
func fixup(ns *namespace.Namespace, m *linkmap.Map, i int, prog string) (*pltAfter, string) {
	var bound *lookup.Step
	ns.Linker.OnStep = func(s lookup.Step) {
		if s.Kind == lookup.StepBound {
			bound = &s
		}
	}
	target, _, def, err := ns.Fixup(m, i, true)
	ns.Linker.OnStep = nil
	if err != nil {
		var le *namespace.LoadError
		if errors.As(err, &le) {
			return nil, le.Err.Error()
		}
		return nil, err.Error()
	}
	after := &pltAfter{Address: target}
	if def == nil {
		return after, "" // a weak reference that binds to nothing
	}
	after.Object = def.DisplayName(prog)
	idx := uint32(0)
	if bound != nil && bound.Map == def {
		idx = bound.Index
	} else if tab, err := m.Obj.Relas(m.Obj.Dyn.JmpRel); err == nil {
		idx = tab.At(i).Sym // bound in m itself, without a lookup
	}
	if def.Obj != nil && int(idx) < def.Obj.NumSymbols() {
		sym := def.Obj.Symbol(idx)
		after.Symbol = def.Obj.SymbolName(idx)
		if v, hidden := def.Obj.SymbolVersion(idx); v != nil {
			after.Version, after.DefaultVersion = v.Name, !hidden && v.File == ""
		}
		after.IFunc = sym.Type() == elf.STT_GNU_IFUNC
	}
	return after, ""
}

// printPLT prints one object's table.
func printPLT(out io.Writer, o pltObject) {
	when := "bound at each slot's first call"
	if !o.Lazy {
		when = "bound at start-up: " + o.BindNow
	}
	layout := map[string]string{
		"lazy":    "a lazy PLT (.plt)",
		"ibt":     "an IBT-enabled PLT (.plt, and .plt.sec that calls go to)",
		"unknown": "a PLT laid out as the psABI does not lay it out",
	}[o.Layout]
	fmt.Fprintf(out, "%s (base %#x): %s, %d slots, %s\n", o.Object, o.Base, layout, len(o.Slots), when)
	if o.Lazy {
		fmt.Fprintf(out, "  GOT %#x (DT_PLTGOT): GOT[1] (the object) and GOT[2] (the lazy resolver) are written by the dynamic linker at start-up\n", o.GOT)
	} else {
		fmt.Fprintf(out, "  GOT %#x (DT_PLTGOT): GOT[1] and GOT[2] stay unused, as no slot is bound lazily\n", o.GOT)
	}
	bnd := ""
	if o.BND {
		bnd = "bnd "
	}
	if o.PLT0 != 0 {
		check := "as the psABI lays it out"
		if !o.PLT0OK {
			check = "NOT as the psABI lays it out"
		}
		fmt.Fprintf(out, "  PLT0 %#x: push GOT[1]; %sjmp *GOT[2] (%s)\n", o.PLT0, bnd, check)
	}
	until := "the GOT's value until the first call"
	if !o.Lazy {
		until = "the file's value, which the dynamic linker writes after over at start-up"
	}
	switch o.Layout {
	case "lazy":
		fmt.Fprintf(out, "  entry: the PLT entry calls go to, jmp *GOT; before: %s, the address of the entry's push $slot; %sjmp PLT0\n", until, bnd)
	case "ibt":
		fmt.Fprintf(out, "  entry: the .plt.sec entry calls go to, endbr64; %sjmp *GOT; before: %s, the .plt stub endbr64; push $slot; %sjmp PLT0\n", bnd, until, bnd)
	}
	width := len("symbol")
	for _, s := range o.Slots {
		width = max(width, len(slotSymbol(s)))
	}
	fmt.Fprintf(out, "  %4s  %-*s  %-14s  %-14s  %-14s  %s\n", "slot", width, "symbol", "entry", "GOT", "before", "after")
	for _, s := range o.Slots {
		entry := "-"
		if s.Entry != 0 {
			entry = fmt.Sprintf("%#x", s.Entry)
		}
		fmt.Fprintf(out, "  %4d  %-*s  %-14s  %-14s  %-14s  %s\n", s.Slot, width, slotSymbol(s), entry, fmt.Sprintf("%#x", s.GOT), fmt.Sprintf("%#x", s.Before), afterText(s))
	}
}

func slotSymbol(s pltSlot) string {
	if s.Symbol == "" {
		return "(" + s.Type + ")"
	}
	if s.Version != "" {
		return s.Symbol + "@" + s.Version
	}
	return s.Symbol
}

func afterText(s pltSlot) string {
	var parts []string
	switch {
	case s.Error != "":
		parts = append(parts, s.Error)
	case s.After == nil:
		parts = append(parts, "-")
	case s.Type == "R_X86_64_IRELATIVE":
		parts = append(parts, fmt.Sprintf("what the IFUNC resolver at %#x returns, called at start-up", s.After.Address))
	case s.After.Object == "":
		parts = append(parts, fmt.Sprintf("%#x: nothing defines it, and the reference is weak", s.After.Address))
	default:
		name := s.After.Symbol
		switch {
		case s.After.DefaultVersion:
			name += "@@" + s.After.Version
		case s.After.Version != "":
			name += "@" + s.After.Version
		}
		t := fmt.Sprintf("%#x %s in %s", s.After.Address, name, s.After.Object)
		if s.After.IFunc {
			t += " (an IFUNC resolver: the target is what it returns at run time)"
		}
		parts = append(parts, t)
	}
	if s.Problem != "" {
		parts = append(parts, "("+s.Problem+")")
	}
	return strings.Join(parts, " ")
}
