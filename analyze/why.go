package analyze

import (
	"debug/elf"

	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/lookup"
	"github.com/ldgo/ldgo/object"
	"github.com/ldgo/ldgo/reloc"
)

// Why is the story of every reference to one symbol name in a program's
// objects (ldgo why): for each, the lookup the engine made for it, step by
// step as package lookup reports them, and every object of its scope with
// the symbols of that name it has.
type Why struct {
	Name       string
	References []*Reference
	// Definitions are the objects that define the name, in load order,
	// each with whether a relocation of its own names the symbol: one
	// that does not bound its own uses, if any, when it was linked.
	Definitions []Definition
}

// A Reference is one object's reference to the name: one symbol of its
// table, in one lookup class, named by one or more relocations.
type Reference struct {
	Map     *linkmap.Map
	Index   uint32
	Sym     object.Sym
	Class   lookup.Class
	Version *object.Version // the version asked for, nil for none
	Relocs  []Reloc
	// LookedUp is false for a reference the engine made no lookup
	// for: a local or hidden symbol, or a PLT reference of other than
	// default visibility, which binds in its own object (RuleOwn).
	LookedUp bool
	// Scope is the scope the reference is looked up in, object by
	// object in the order of the search (an object in two searchlists
	// twice).
	Scope []Candidate
	// Steps are the lookup's own steps, in order; ProtectedSteps those
	// of the second search glibc makes for a protected reference.
	Steps, ProtectedSteps []lookup.Step
	// Def and DefIndex are the answer (Def nil: none, Undefined says
	// whether that is an error or a weak reference's zero).
	Def       *linkmap.Map
	DefIndex  uint32
	Undefined bool
	// Rule is the rule that decided, worked out from the steps.
	Rule Rule
}

// Reloc is one relocation that makes a reference.
type Reloc struct {
	Type   elf.R_X86_64
	Offset uint64 // r_offset, a link-time address
	Slot   int    // its index in DT_JMPREL (the PLT slot), or -1
}

// Candidate is one object of a reference's scope.
type Candidate struct {
	Map     *linkmap.Map
	Preload bool
	// Symbols are the object's symbols of the name, in its hash
	// chain's order, as the lookup reads them (object.Candidates).
	Symbols []Symbol
	// Searched: the lookup came to this object. An object it did not
	// come to is either past the answer or not searched at all
	// (a missing library); Reached is then false.
	Searched bool
	// Passed says why the lookup passed over the whole object without
	// reading its symbols, when it did (lookup.StepCopySkipsExecutable,
	// StepNoHashTable, StepFiltered, StepNoSuchName); 0 otherwise.
	Passed lookup.StepKind
	// Answer: the lookup ended here.
	Answer bool
}

// Symbol is one symbol of a candidate object, with what the lookup made
// of it.
type Symbol struct {
	Index   uint32
	Sym     object.Sym
	Version *object.Version // the version it is defined at; nil for none
	Hidden  bool            // a hidden version (name@V, not name@@V)
	// Steps are the lookup's steps about this symbol, in order, and
	// Verdict the last: why it was taken or passed over (lookup.StepBegin
	// when the lookup did not read it). For an object the lookup did not
	// come to, IfReached is set and they are what a lookup in that object
	// alone makes of it.
	Steps     []lookup.StepKind
	Verdict   lookup.StepKind
	IfReached bool
}

// Definition is one object's definition of the name.
type Definition struct {
	Map        *linkmap.Map
	Symbol     Symbol
	Referenced bool // one of Map's relocations names the symbol
}

// Rule names the rule that decided a binding.
type Rule string

const (
	// RuleOwn: bound in the referencing object, without a lookup.
	RuleOwn Rule = "own"
	// RuleNotBound: no lookup was made, for no reason of the
	// reference's own: its object was not relocated.
	RuleNotBound Rule = "not-bound"
	// RuleFirst: the first definition in the scope.
	RuleFirst Rule = "first-in-scope"
	// RuleWeakFirst: the first definition in the scope is weak and a
	// later object has a global one: weak or not, the first wins.
	RuleWeakFirst Rule = "first-in-scope-weak"
	// RuleVersion: objects or symbols of another version were passed
	// over.
	RuleVersion Rule = "version"
	// RuleProgram: the executable's definition, which comes before the
	// others of the scope.
	RuleProgram Rule = "interposition-program"
	// RulePreload: a preloaded object's definition, before the others.
	RulePreload Rule = "interposition-preload"
	// RuleSymbolic: a DT_SYMBOLIC object's own definition, searched
	// before the global scope.
	RuleSymbolic Rule = "symbolic"
	// RuleCopy: a COPY relocation, whose definition is looked for past
	// the executable.
	RuleCopy Rule = "copy"
	// RuleCopied: the executable's copy of the data, which its COPY
	// relocation made.
	RuleCopied Rule = "copy-destination"
	// RuleUnique: an STB_GNU_UNIQUE symbol, one definition for the
	// namespace.
	RuleUnique Rule = "unique"
	// RuleProtected: a protected symbol's own object.
	RuleProtected Rule = "protected"
	// RuleProtectedAddress: a protected function's address, which is
	// the executable's PLT entry when the executable took it.
	RuleProtectedAddress Rule = "protected-address"
	// RuleUndefined: no definition, and the reference is not weak.
	RuleUndefined Rule = "undefined"
	// RuleWeakUndefined: no definition for a weak reference: zero.
	RuleWeakUndefined Rule = "weak-undefined"
)

// whyKey names one lookup: a reference in one class.
type whyKey struct {
	m     *linkmap.Map
	idx   uint32
	class lookup.Class
}

// whyLookup is one lookup's steps, as OnStep gave them.
type whyLookup struct {
	req              lookup.Request
	steps, protected []lookup.Step
	inProtected      bool
}

// Why binds every relocation of the program, as Bind does (PLT slots
// lazily), watching the lookups of name, and tells every reference to
// name. It replaces Bind: an analysis is bound once.
func (a *Analysis) Why(name string) (*Why, *Result) {
	ns := a.NS
	lookups := map[whyKey]*whyLookup{}
	var cur *whyLookup
	ns.Linker.OnStep = func(s lookup.Step) {
		if s.Kind == lookup.StepBegin {
			cur = nil
			r := s.Req
			if r.Hash.Name != name || r.Ref == nil || r.RefMap == nil {
				return
			}
			k := whyKey{r.RefMap, r.RefIndex, r.Class}
			if lookups[k] != nil {
				return // the same lookup again: its first tells it
			}
			cur = &whyLookup{req: *r}
			lookups[k] = cur
			return
		}
		if cur == nil {
			return
		}
		if s.Kind == lookup.StepProtectedCheck {
			cur.inProtected = true
		}
		s.Req = nil
		if cur.inProtected && s.Kind != lookup.StepProtected && s.Kind != lookup.StepBound {
			cur.protected = append(cur.protected, s)
		} else {
			cur.steps = append(cur.steps, s)
		}
	}
	res := a.Bind(false)
	ns.Linker.OnStep = nil

	w := &Why{Name: name}
	hash := object.NewHash(name)
	copied := map[string]bool{} // the executable's COPY relocations, by name
	for _, m := range ns.Chain {
		if m.Faked || m.Vdso || m.Rtld || m.Obj == nil {
			continue
		}
		refs := References(m, name)
		for _, r := range refs {
			for _, rel := range r.Relocs {
				if rel.Type == elf.R_X86_64_COPY && m.Kind == linkmap.Executable {
					copied[name] = true
				}
			}
		}
		for _, r := range refs {
			k := whyKey{m, r.Index, r.Class}
			if l := lookups[k]; l != nil {
				r.LookedUp = true
				r.Version = l.req.Version
				r.Steps, r.ProtectedSteps = l.steps, l.protected
				a.explore(r, &l.req, &hash)
			}
			w.References = append(w.References, r)
		}
		for _, s := range symbolsNamed(m.Obj, &hash) {
			if !s.Sym.Undefined() {
				d := Definition{Map: m, Symbol: s}
				for _, r := range refs {
					d.Referenced = d.Referenced || r.Index == s.Index
				}
				w.Definitions = append(w.Definitions, d)
			}
		}
	}
	for _, r := range w.References {
		r.Rule = r.rule(ns.Preloads, copied[name])
	}
	return w, res
}

// References lists m's references to name: its relocations that name
// it, one reference for each symbol and class, not yet looked up.
func References(m *linkmap.Map, name string) []*Reference {
	var out []*Reference
	byKey := map[whyKey]*Reference{}
	for _, table := range []object.Range{m.Obj.Dyn.Rela, m.Obj.Dyn.JmpRel} {
		tab, err := m.Obj.Relas(table)
		if err != nil {
			continue
		}
		plt := table == m.Obj.Dyn.JmpRel && m.Obj.Dyn.HasJmpRel
		for i := 0; i < tab.Len(); i++ {
			rel := tab.At(i)
			if rel.Sym == 0 || !reloc.UsesSymbol(rel.Type) || uint64(rel.Sym) >= uint64(m.Obj.NumSymbols()) || !m.Obj.SymbolNameIs(rel.Sym, name) {
				continue
			}
			k := whyKey{m, rel.Sym, reloc.Class(rel.Type)}
			r := byKey[k]
			if r == nil {
				r = &Reference{Map: m, Index: rel.Sym, Sym: m.Obj.Symbol(rel.Sym), Class: k.class}
				r.Version, _ = m.Obj.SymbolVersion(rel.Sym)
				byKey[k] = r
				out = append(out, r)
			}
			slot := -1
			if plt {
				slot = i
			}
			r.Relocs = append(r.Relocs, Reloc{Type: rel.Type, Offset: rel.Off, Slot: slot})
		}
	}
	return out
}

// symbolsNamed lists obj's symbols named by h, as a lookup reads them.
func symbolsNamed(obj *object.Object, h *object.Hash) []Symbol {
	var out []Symbol
	obj.Candidates(h, func(i uint32) bool {
		s := Symbol{Index: i, Sym: obj.Symbol(i)}
		s.Version, s.Hidden = obj.SymbolVersion(i)
		out = append(out, s)
		return true
	})
	return out
}

// explore lays r's scope out with what the lookup made of each object:
// its steps, object by object, for the objects it came to; for the
// others past the answer, what a lookup of the same request in that
// object alone makes of it (by a Helper, which changes nothing).
func (a *Analysis) explore(r *Reference, req *lookup.Request, hash *object.Hash) {
	steps := r.Steps
	for _, s := range steps {
		switch s.Kind {
		case lookup.StepBound:
			r.Def, r.DefIndex = s.Map, s.Index
		case lookup.StepUnresolved:
			r.Undefined = r.Sym.Bind() != elf.STB_WEAK
		}
	}
	ended := false
	for _, list := range r.Map.Scope {
		for _, m := range list {
			c := Candidate{Map: m, Preload: a.isPreload(m)}
			if m.Obj != nil && !m.Faked {
				c.Symbols = symbolsNamed(m.Obj, hash)
			}
			// The steps of this object's search, if the search came
			// here: they come object by object, in scope order.
			var mine []lookup.Step
			if !ended {
				for len(steps) > 0 && !steps[0].Kind.Visits() {
					steps = steps[1:]
				}
				for len(steps) > 0 && steps[0].Kind.Visits() && steps[0].Map == m {
					mine = append(mine, steps[0])
					steps = steps[1:]
				}
			}
			if len(mine) > 0 {
				c.Searched = true
				for _, s := range mine {
					if s.Kind.AboutSymbol() {
						c.setVerdict(s.Index, s.Kind, false)
					} else {
						c.Passed = s.Kind
					}
					if s.Kind.Ends() {
						c.Answer, ended = true, true
					}
				}
			} else if ended && m.Obj != nil && !m.Faked {
				h := a.NS.Linker.Helper()
				h.OnStep = func(s lookup.Step) {
					if s.Kind.Visits() && s.Kind.AboutSymbol() {
						c.setVerdict(s.Index, s.Kind, true)
					}
				}
				one := *req
				one.Skip = nil
				h.Symbol([][]*linkmap.Map{{m}}, &one)
			}
			r.Scope = append(r.Scope, c)
		}
	}
}

func (c *Candidate) setVerdict(idx uint32, k lookup.StepKind, ifReached bool) {
	for i := range c.Symbols {
		if c.Symbols[i].Index == idx {
			s := &c.Symbols[i]
			s.Steps = append(s.Steps, k)
			s.Verdict, s.IfReached = k, ifReached
			return
		}
	}
}

func (a *Analysis) isPreload(m *linkmap.Map) bool {
	for _, p := range a.NS.Preloads {
		if p == m {
			return true
		}
	}
	return false
}

// Offers reports whether the lookup took, or would have taken, one of
// the candidate's symbols.
func (c *Candidate) Offers() bool {
	for _, s := range c.Symbols {
		if s.Verdict.Ends() {
			return true
		}
	}
	return false
}

// rule works out from the lookup's steps the rule that decided r.
func (r *Reference) rule(preloads []*linkmap.Map, executableCopies bool) Rule {
	if !r.LookedUp {
		vis := r.Sym.Visibility()
		if r.Sym.Bind() == elf.STB_LOCAL || vis == elf.STV_HIDDEN || vis == elf.STV_INTERNAL {
			return RuleOwn
		}
		for _, rel := range r.Relocs {
			if rel.Type == elf.R_X86_64_JMP_SLOT && vis != elf.STV_DEFAULT {
				return RuleOwn
			}
		}
		return RuleNotBound
	}
	if r.Def == nil {
		if r.Undefined {
			return RuleUndefined
		}
		return RuleWeakUndefined
	}
	for _, s := range r.Steps {
		switch s.Kind {
		case lookup.StepProtected:
			return RuleProtected
		case lookup.StepUniqueFromTable, lookup.StepUniqueRegistered:
			return RuleUnique
		}
	}
	if len(r.ProtectedSteps) > 0 {
		return RuleProtectedAddress
	}
	if r.Class == lookup.ClassCopy {
		return RuleCopy
	}
	if r.Def.Kind == linkmap.Executable && executableCopies {
		return RuleCopied
	}
	answer := -1
	for i, c := range r.Scope {
		if c.Answer {
			answer = i
			break
		}
	}
	if answer < 0 {
		return RuleFirst
	}
	if answer == 0 && len(r.Map.Scope) > 1 && len(r.Map.Scope[0]) == 1 && r.Map.Scope[0][0] == r.Map {
		return RuleSymbolic
	}
	later := false
	laterGlobal := false
	for _, c := range r.Scope[answer+1:] {
		if c.Map == r.Def {
			continue
		}
		for _, s := range c.Symbols {
			if s.Verdict.Ends() {
				later = true
				laterGlobal = laterGlobal || s.Sym.Bind() != elf.STB_WEAK
			}
		}
	}
	for _, p := range preloads {
		if p == r.Def && later {
			return RulePreload
		}
	}
	if r.Def.Kind == linkmap.Executable && later {
		return RuleProgram
	}
	for _, c := range r.Scope[:answer+1] {
		for _, s := range c.Symbols {
			if s.Verdict == lookup.StepOtherVersion || s.Verdict == lookup.StepHiddenVersion {
				return RuleVersion
			}
		}
	}
	def := r.Scope[answer]
	for _, s := range def.Symbols {
		if s.Verdict.Ends() && s.Sym.Bind() == elf.STB_WEAK && laterGlobal {
			return RuleWeakFirst
		}
	}
	return RuleFirst
}
