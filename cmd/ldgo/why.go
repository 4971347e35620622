package main

import (
	"debug/elf"
	"fmt"
	"io"
	"strings"

	"github.com/ldgo/ldgo/analyze"
	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/lookup"
	"github.com/ldgo/ldgo/object"
)

var cmdWhy = &command{
	name:     "why",
	synopsis: "[OPTIONS] SYMBOL PROG...",
	summary:  "explain where each reference to SYMBOL binds, and by which rule",
	about: `Explains, for each reference to SYMBOL in PROG's objects (every relocation
and PLT slot that names it), the lookup glibc's ld.so would make: every object
of the reference's scope in the order searched, the symbols of that name each
has (version, binding, type, visibility), why each was passed over or taken,
and the rule that decided — first definition in the scope, version match,
interposition by the program or a preload, DT_SYMBOLIC (-Bsymbolic), copy
relocation, STB_GNU_UNIQUE, protected visibility. The lookups are the
engine's own, made while PROG's objects are relocated as ldgo bindings
relocates them.`,
	options: analysisOptions,
	footer:  analysisFooter,
	run:     runWhy,
}

func runWhy(c *command, args []string, stdout, stderr io.Writer) int {
	values, operands, status, done := c.parse(args, true, stdout, stderr)
	switch {
	case done:
		return status
	case len(operands) == 0:
		return c.usageError(stderr, "missing symbol and program")
	case len(operands) == 1:
		return c.usageError(stderr, "missing program")
	}
	symbol := operands[0]
	opts := analysisOptionsFrom(values)
	return analyzeAll(c.name, func(a *analyze.Analysis, opts *options, h header, out, errOut io.Writer) int {
		return explainSymbol(a, symbol, opts, h, out)
	}, operands[1:], opts, stdout, stderr)
}

type whyOutput struct {
	header
	Symbol      string       `json:"symbol"`
	References  []whyRefJSON `json:"references"`
	Definitions []whyDefJSON `json:"definitions"`
}

type whyRefJSON struct {
	Object      string         `json:"object"`
	Version     string         `json:"version,omitempty"`
	Binding     string         `json:"binding"`
	Visibility  string         `json:"visibility"`
	Class       string         `json:"class"`
	Relocations []whyRelocJSON `json:"relocations"`
	LookedUp    bool           `json:"looked_up"`
	Scope       []whyCandJSON  `json:"scope"`
	BindsTo     *whyBindsJSON  `json:"binds_to,omitempty"`
	Rule        string         `json:"rule"`
	Explanation string         `json:"explanation"`
}

type whyRelocJSON struct {
	Type   string `json:"type"`
	Offset uint64 `json:"offset"`
	Slot   *int   `json:"slot,omitempty"`
}

type whyCandJSON struct {
	Object     string          `json:"object"`
	Preload    bool            `json:"preload,omitempty"`
	Searched   bool            `json:"searched"`
	PassedOver string          `json:"passed_over,omitempty"`
	Answer     bool            `json:"answer,omitempty"`
	Symbols    []whySymbolJSON `json:"symbols"`
}

type whySymbolJSON struct {
	Index          uint32   `json:"index"`
	Version        string   `json:"version,omitempty"`
	DefaultVersion bool     `json:"default_version,omitempty"`
	Binding        string   `json:"binding"`
	Type           string   `json:"type"`
	Visibility     string   `json:"visibility"`
	Defined        bool     `json:"defined"`
	Verdict        string   `json:"verdict,omitempty"`
	Steps          []string `json:"steps,omitempty"`
	IfReached      bool     `json:"if_reached,omitempty"`
}

// whyBindsJSON is the definition a reference binds to.
type whyBindsJSON struct {
	Object string        `json:"object"`
	Symbol whySymbolJSON `json:"symbol"`
}

type whyDefJSON struct {
	Object     string        `json:"object"`
	Symbol     whySymbolJSON `json:"symbol"`
	Referenced bool          `json:"referenced"`
}

// explainSymbol prints what ldgo why says of one program.
func explainSymbol(a *analyze.Analysis, name string, opts *options, h header, out io.Writer) int {
	prog := opts.Progname
	w, _ := a.Why(name)
	x := explainer{prog: prog, name: name}
	for _, r := range w.References {
		for _, s := range r.Steps {
			if s.Kind == lookup.StepUniqueRegistered {
				x.uniqueBy = r.Map
			}
		}
	}
	if opts.json {
		doc := whyOutput{header: h, Symbol: name, References: []whyRefJSON{}, Definitions: []whyDefJSON{}}
		for _, r := range w.References {
			doc.References = append(doc.References, x.refJSON(r))
		}
		for _, d := range w.Definitions {
			doc.Definitions = append(doc.Definitions, whyDefJSON{Object: x.obj(d.Map), Symbol: x.symJSON(d.Symbol), Referenced: d.Referenced})
		}
		writeJSON(out, doc)
		return 0
	}
	if len(w.References) == 0 {
		if len(w.Definitions) == 0 {
			fmt.Fprintf(out, "No object of %s defines or refers to %s.\n", prog, name)
			return 0
		}
		fmt.Fprintf(out, "No relocation of %s's objects names %s.\n", prog, name)
	}
	for i, r := range w.References {
		if i > 0 {
			fmt.Fprintln(out)
		}
		x.printReference(out, r)
	}
	if notes := x.definitionNotes(w); len(notes) > 0 {
		fmt.Fprintln(out)
		for _, n := range notes {
			fmt.Fprintln(out, n)
		}
	}
	return 0
}

// explainer words what analyze.Why found for one program.
type explainer struct {
	prog, name string
	// uniqueBy is the object whose lookup made a definition of an
	// STB_GNU_UNIQUE name the namespace's one.
	uniqueBy *linkmap.Map
}

func (x *explainer) obj(m *linkmap.Map) string { return m.DisplayName(x.prog) }

// printReference prints one reference: what makes it, the scope searched
// object by object, and the answer with its rule.
func (x *explainer) printReference(out io.Writer, r *analyze.Reference) {
	var rels []string
	for _, rel := range r.Relocs {
		s := fmt.Sprintf("%s at %#x", relocName(rel.Type), rel.Offset)
		if rel.Slot >= 0 {
			s += fmt.Sprintf(", PLT slot %d", rel.Slot)
		}
		rels = append(rels, s)
	}
	own := analyze.Symbol{Index: r.Index, Sym: r.Sym}
	own.Version, own.Hidden = r.Map.Obj.SymbolVersion(r.Index)
	fmt.Fprintf(out, "%s refers to %s (%s); its own entry: %s:\n", x.obj(r.Map), x.refName(r), strings.Join(rels, "; "), x.describe(own))
	if r.LookedUp {
		x.printScope(out, r)
	}
	fmt.Fprintf(out, "  => %s\n", x.explanation(r))
}

// refName is the reference's symbol with the version it asks for.
func (x *explainer) refName(r *analyze.Reference) string {
	if r.Version != nil {
		return x.name + "@" + r.Version.Name
	}
	return x.name
}

// printScope prints the objects of the scope, numbered in search order;
// runs of objects without the name are folded into one line.
func (x *explainer) printScope(out io.Writer, r *analyze.Reference) {
	fmt.Fprintf(out, "  looked up in %s's scope (%d objects), in order:\n", x.obj(r.Map), len(r.Scope))
	var run []string
	runStart := 0
	flush := func(end int, what string) {
		if len(run) == 0 {
			return
		}
		n := fmt.Sprint(runStart + 1)
		if end > runStart+1 {
			n = fmt.Sprintf("%d-%d", runStart+1, end)
		}
		fmt.Fprintf(out, "  %s. %s: %s\n", n, strings.Join(run, ", "), what)
		run = nil
	}
	lastWhat := ""
	for i, c := range r.Scope {
		if len(c.Symbols) == 0 && c.Passed != lookup.StepCopySkipsExecutable && c.Passed != lookup.StepNoHashTable {
			what := "no " + x.name + " there"
			if !c.Searched {
				what = "not reached; no " + x.name + " there either"
				if c.Map.Faked || c.Map.Obj == nil {
					what = "not searched (not found)"
				}
			}
			if len(run) > 0 && what != lastWhat {
				flush(i, lastWhat)
			}
			if len(run) == 0 {
				runStart = i
			}
			run = append(run, x.candidateName(c))
			lastWhat = what
			continue
		}
		flush(i, lastWhat)
		x.printCandidate(out, i+1, r, c)
	}
	flush(len(r.Scope), lastWhat)
	x.printProtected(out, r)
}

// printProtected tells what the lookup did about a protected reference
// after its search: glibc's second search, as for a call, for data, and
// the reference's own definition as the answer.
func (x *explainer) printProtected(out io.Writer, r *analyze.Reference) {
	if r.Sym.Visibility() != elf.STV_PROTECTED {
		return
	}
	if len(r.ProtectedSteps) > 0 {
		found := "no definition"
		for _, s := range r.ProtectedSteps {
			if s.Kind.Ends() {
				found = x.obj(s.Map) + "'s " + x.name
				break
			}
		}
		fmt.Fprintf(out, "  the reference is protected: a second search, as for a call (where the executable's PLT entry is no definition), finds %s first\n", found)
	}
	for _, s := range r.Steps {
		if s.Kind == lookup.StepProtected {
			fmt.Fprintf(out, "  so the answer is %s's own definition\n", x.obj(r.Map))
		}
	}
}

func (x *explainer) candidateName(c analyze.Candidate) string {
	n := x.obj(c.Map)
	if c.Preload {
		n += " [preload]"
	}
	return n
}

func (x *explainer) printCandidate(out io.Writer, n int, r *analyze.Reference, c analyze.Candidate) {
	head := fmt.Sprintf("  %d. %s: ", n, x.candidateName(c))
	switch c.Passed {
	case lookup.StepCopySkipsExecutable:
		fmt.Fprintf(out, "%spassed over: the executable holds the copy a COPY relocation fills, so the definition is looked for past it\n", head)
		return
	case lookup.StepNoHashTable:
		fmt.Fprintf(out, "%spassed over: no symbol hash table\n", head)
		return
	}
	for i, s := range c.Symbols {
		if i == 1 {
			// The next symbols of the object's hash chain.
			head = "       "
		}
		fmt.Fprintf(out, "%s%s: %s\n", head, x.describe(s), x.verdict(r, c, s))
	}
}

// describe is a symbol as the lookup sees it: name, version, binding,
// type, visibility, defined or not.
func (x *explainer) describe(s analyze.Symbol) string {
	name := versionedName(x.name, s.Version, s.Hidden)
	parts := []string{bindingName(s.Sym.Bind()) + " " + typeName(s.Sym.Type())}
	if v := s.Sym.Visibility(); v != elf.STV_DEFAULT {
		parts = append(parts, visibilityName(v))
	}
	if s.Sym.Undefined() {
		parts = append(parts, "undefined")
		if s.Sym.Value != 0 {
			parts = append(parts, fmt.Sprintf("with the address of a PLT entry, %#x", s.Sym.Value))
		}
	}
	return name + " (" + strings.Join(parts, ", ") + ")"
}

// versionedName is name at version v as readelf writes it: name@@V for a
// default version defined, name@V for a hidden one and for a needed
// version (a reference's, or an executable's copy's).
func versionedName(name string, v *object.Version, hidden bool) string {
	switch {
	case v == nil:
		return name
	case hidden || v.File != "":
		return name + "@" + v.Name
	}
	return name + "@@" + v.Name
}

// verdict words what the lookup made of symbol s of candidate c.
func (x *explainer) verdict(r *analyze.Reference, c analyze.Candidate, s analyze.Symbol) string {
	if s.IfReached {
		if s.Verdict.Ends() {
			return "not reached; it would have been taken"
		}
		return "not reached; it would be passed over too: " + x.why(r, s, s.Verdict)
	}
	if s.Verdict == lookup.StepBegin {
		if c.Searched {
			return "not read: an earlier symbol of the hash chain was the answer"
		}
		return "not reached"
	}
	return x.why(r, s, s.Verdict)
}

// why words one lookup step about symbol s.
func (x *explainer) why(r *analyze.Reference, s analyze.Symbol, k lookup.StepKind) string {
	version := "no version"
	if s.Version != nil {
		version = "version " + s.Version.Name
	}
	switch k {
	case lookup.StepUndefined:
		return "passed over: a reference, not a definition"
	case lookup.StepPLTAddress:
		return "passed over: the address of the executable's PLT entry is no definition for a PLT reference"
	case lookup.StepWrongType:
		return "passed over: not a function, data, TLS or IFUNC symbol"
	case lookup.StepOtherVersion:
		return fmt.Sprintf("passed over: %s, not the %s asked for", version, r.Version.Name)
	case lookup.StepHiddenVersion:
		return "passed over: a hidden version, which only a reference asking for it binds to"
	case lookup.StepNewerVersion:
		return fmt.Sprintf("passed over for now: %s, which a reference without a version takes only when it is the object's one version of %s", version, x.name)
	case lookup.StepMatch:
		return "matches"
	case lookup.StepOnlyVersion:
		return "taken: the object's one version of " + x.name
	case lookup.StepHidden:
		return "matches, but has hidden visibility: the object is passed over"
	case lookup.StepLocal:
		return "matches, but is local: the object is passed over"
	case lookup.StepTaken:
		if len(s.Steps) > 1 && s.Steps[len(s.Steps)-2] == lookup.StepOnlyVersion {
			return "taken: the object's one version of " + x.name
		}
		return "taken"
	case lookup.StepUniqueRegistered:
		return "taken, and made the namespace's one " + x.name + " (STB_GNU_UNIQUE)"
	case lookup.StepUniqueFromTable:
		return "matches; STB_GNU_UNIQUE: the answer is the namespace's one " + x.name + ", met first"
	case lookup.StepUniqueCopy:
		return "taken: the COPY relocation reads this definition (STB_GNU_UNIQUE)"
	}
	return k.String()
}

// explanation is the answer and the rule that decided, in a sentence or
// two.
func (x *explainer) explanation(r *analyze.Reference) string {
	var def string
	if r.Def != nil {
		def = x.obj(r.Def) + "'s " + x.name
		if r.Def.Obj != nil && int(r.DefIndex) < r.Def.Obj.NumSymbols() {
			v, hidden := r.Def.Obj.SymbolVersion(r.DefIndex)
			def = x.obj(r.Def) + "'s " + versionedName(x.name, v, hidden)
		}
	}
	// others names the objects past the answer that define the name
	// too: the definitions the answer interposes on.
	others := func() string {
		var names []string
		past := false
		for _, c := range r.Scope {
			if c.Answer {
				past = true
				continue
			}
			if past && c.Map != r.Def && c.Offers() {
				names = append(names, x.obj(c.Map)+"'s")
			}
		}
		return strings.Join(names, " and ")
	}
	switch r.Rule {
	case analyze.RuleOwn:
		why := "the reference is " + bindingName(r.Sym.Bind())
		if v := r.Sym.Visibility(); v != elf.STV_DEFAULT {
			why = "the reference has " + visibilityName(v) + " visibility"
		}
		return fmt.Sprintf("binds to %s's own %s without a lookup: %s.", x.obj(r.Map), x.name, why)
	case analyze.RuleNotBound:
		return fmt.Sprintf("no lookup was made: %s was not relocated.", x.obj(r.Map))
	case analyze.RuleUndefined:
		what := x.name
		if r.Version != nil {
			what += ", version " + r.Version.Name
		}
		when := "at start-up"
		for _, rel := range r.Relocs {
			if rel.Type == elf.R_X86_64_JMP_SLOT && !r.Map.Obj.Dyn.BindNow {
				when = "at its first call (a lazily bound PLT slot), or at start-up with LD_BIND_NOW"
			}
		}
		return fmt.Sprintf("binds to nothing: no object of the scope defines %s; the program fails with \"symbol lookup error: undefined symbol: %s\" %s.", what, what, when)
	case analyze.RuleWeakUndefined:
		return fmt.Sprintf("binds to nothing: no object of the scope defines %s, and the reference is weak, so it resolves to 0.", x.name)
	case analyze.RuleProtected:
		return fmt.Sprintf("binds to %s: the reference is %s's own protected symbol (STV_PROTECTED), which binds to its own definition whatever comes first in the scope.", def, x.obj(r.Map))
	case analyze.RuleProtectedAddress:
		return fmt.Sprintf("binds to %s: the reference is %s's own protected function, but the executable took its address, so its PLT entry is the function's address everywhere, for one address in the whole program.", def, x.obj(r.Map))
	case analyze.RuleUnique:
		for _, s := range r.Steps {
			if s.Kind == lookup.StepUniqueFromTable {
				by := ""
				if x.uniqueBy != nil {
					by = " by " + x.obj(x.uniqueBy) + "'s lookup"
				}
				return fmt.Sprintf("binds to %s: %s is STB_GNU_UNIQUE, of which the namespace has one definition, the first a lookup met (found%s); this search stopped at %s's %s and took that one.", def, x.name, by, x.obj(s.Map), x.name)
			}
		}
		return fmt.Sprintf("binds to %s: %s is STB_GNU_UNIQUE, and this is the first lookup to meet it: it becomes the namespace's one definition, to which every reference binds, whatever its scope.", def, x.name)
	case analyze.RuleCopy:
		return fmt.Sprintf("binds to %s: this is a COPY relocation; the executable, where the copy goes, is passed over, and the data are copied from %s at start-up. From then on the executable's copy, first in the scope, is the %s every object's references bind to.", def, def, x.name)
	case analyze.RuleCopied:
		return fmt.Sprintf("binds to %s: the executable's copy, which its COPY relocation made; the executable comes first in the scope.", def)
	case analyze.RuleSymbolic:
		return fmt.Sprintf("binds to %s: %s is DT_SYMBOLIC (linked with -Bsymbolic), so its references are looked up in itself before the global scope.", def, x.obj(r.Map))
	case analyze.RuleProgram:
		return fmt.Sprintf("binds to %s: the executable comes first in every scope, so its definition interposes on %s.", def, others())
	case analyze.RulePreload:
		return fmt.Sprintf("binds to %s: %s is preloaded, and preloads come right after the executable in the scope, so its definition interposes on %s.", def, x.obj(r.Def), others())
	case analyze.RuleVersion:
		return fmt.Sprintf("binds to %s: the first definition in the scope of the version asked for, %s; the others of the name are of other versions.", def, r.Version.Name)
	case analyze.RuleWeakFirst:
		return fmt.Sprintf("binds to %s, a weak definition, the first in the scope: at run time a weak definition counts as much as a global one, so %s global definition is not used.", def, others())
	}
	return fmt.Sprintf("binds to %s: the first definition in the scope.", def)
}

// definitionNotes say which objects define the name without any
// relocation of their own naming it: their own uses, if any, were bound
// when they were linked, and no interposition reaches them.
func (x *explainer) definitionNotes(w *analyze.Why) []string {
	var notes []string
	for _, d := range w.Definitions {
		if d.Referenced || d.Symbol.Sym.Bind() == elf.STB_LOCAL {
			continue
		}
		var why string
		switch {
		case d.Map.Obj.Dyn.Symbolic:
			why = "it is DT_SYMBOLIC: linked with -Bsymbolic"
		case d.Symbol.Sym.Visibility() == elf.STV_PROTECTED:
			why = "the symbol is protected"
		default:
			continue
		}
		notes = append(notes, fmt.Sprintf("%s defines %s, and no relocation of its own names it: its own uses of it, if any, were bound to its own definition when it was linked (%s), and no other definition interposes on them.", x.obj(d.Map), x.describe(d.Symbol), why))
	}
	return notes
}

func (x *explainer) refJSON(r *analyze.Reference) whyRefJSON {
	j := whyRefJSON{
		Object:     x.obj(r.Map),
		Binding:    bindingName(r.Sym.Bind()),
		Visibility: visibilityName(r.Sym.Visibility()),
		Class:      className(r.Class),
		LookedUp:   r.LookedUp,
		Rule:       string(r.Rule),
		Scope:      []whyCandJSON{},
	}
	if r.Version != nil {
		j.Version = r.Version.Name
	}
	for _, rel := range r.Relocs {
		rj := whyRelocJSON{Type: relocName(rel.Type), Offset: rel.Offset}
		if rel.Slot >= 0 {
			slot := rel.Slot
			rj.Slot = &slot
		}
		j.Relocations = append(j.Relocations, rj)
	}
	for _, c := range r.Scope {
		cj := whyCandJSON{Object: x.obj(c.Map), Preload: c.Preload, Searched: c.Searched, Answer: c.Answer, Symbols: []whySymbolJSON{}}
		if c.Passed != 0 {
			cj.PassedOver = c.Passed.String()
		}
		for _, s := range c.Symbols {
			cj.Symbols = append(cj.Symbols, x.symJSON(s))
		}
		j.Scope = append(j.Scope, cj)
	}
	if r.Def != nil {
		d := whyBindsJSON{Object: x.obj(r.Def)}
		if r.Def.Obj != nil && int(r.DefIndex) < r.Def.Obj.NumSymbols() {
			s := analyze.Symbol{Index: r.DefIndex, Sym: r.Def.Obj.Symbol(r.DefIndex)}
			s.Version, s.Hidden = r.Def.Obj.SymbolVersion(r.DefIndex)
			d.Symbol = x.symJSON(s)
		}
		j.BindsTo = &d
	}
	j.Explanation = x.explanation(r)
	return j
}

func (x *explainer) symJSON(s analyze.Symbol) whySymbolJSON {
	j := whySymbolJSON{
		Index:      s.Index,
		Binding:    bindingName(s.Sym.Bind()),
		Type:       typeName(s.Sym.Type()),
		Visibility: visibilityName(s.Sym.Visibility()),
		Defined:    !s.Sym.Undefined(),
		IfReached:  s.IfReached,
	}
	if s.Version != nil {
		j.Version, j.DefaultVersion = s.Version.Name, !s.Hidden
	}
	if s.Verdict != lookup.StepBegin {
		j.Verdict = s.Verdict.String()
	}
	for _, k := range s.Steps {
		j.Steps = append(j.Steps, k.String())
	}
	return j
}

func className(c lookup.Class) string {
	switch c {
	case lookup.ClassPLT:
		return "plt"
	case lookup.ClassCopy:
		return "copy"
	}
	return "normal"
}

// relocName names a relocation type as readelf does.
func relocName(t elf.R_X86_64) string {
	if t == elf.R_X86_64_JMP_SLOT {
		return "R_X86_64_JUMP_SLOT"
	}
	return t.String()
}

func bindingName(b elf.SymBind) string {
	switch b {
	case elf.STB_LOCAL:
		return "local"
	case elf.STB_GLOBAL:
		return "global"
	case elf.STB_WEAK:
		return "weak"
	case 10:
		return "unique"
	}
	return fmt.Sprintf("binding %d", b)
}

func typeName(t elf.SymType) string {
	switch t {
	case elf.STT_NOTYPE:
		return "notype"
	case elf.STT_OBJECT:
		return "object"
	case elf.STT_FUNC:
		return "function"
	case elf.STT_COMMON:
		return "common"
	case elf.STT_TLS:
		return "TLS"
	case elf.STT_GNU_IFUNC:
		return "IFUNC"
	}
	return fmt.Sprintf("type %d", t)
}

func visibilityName(v elf.SymVis) string {
	switch v {
	case elf.STV_DEFAULT:
		return "default"
	case elf.STV_INTERNAL:
		return "internal"
	case elf.STV_HIDDEN:
		return "hidden"
	case elf.STV_PROTECTED:
		return "protected"
	}
	return "visibility"
}
