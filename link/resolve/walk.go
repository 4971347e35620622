package resolve

import (
	"debug/elf"
	"fmt"
	"slices"

	"github.com/ldgo/ldgo/link/input"
	"github.com/ldgo/ldgo/object"
)

// walk applies the order-dependent rules to the inputs in order.
func (r *resolver) walk(items []*item) error {
	type group struct {
		start   int
		pending []*item // --as-needed libraries not yet kept
	}
	var groups []*group
	for i := 0; i < len(items); i++ {
		it := items[i]
		switch {
		case it.groupStart:
			groups = append(groups, &group{start: i})
		case it.groupEnd:
			g := groups[len(groups)-1]
			groups = groups[:len(groups)-1]
			for changed := true; changed; {
				changed = false
				for _, m := range items[g.start:i] {
					if m.arch != nil && !m.state.WholeArchive {
						more, err := r.extract(m)
						if err != nil {
							return err
						}
						changed = changed || more
					}
				}
				kept := g.pending[:0]
				for _, l := range g.pending {
					if r.addShlib(l) {
						changed = true
					} else {
						kept = append(kept, l)
					}
				}
				g.pending = kept
			}
			if len(groups) > 0 {
				outer := groups[len(groups)-1]
				outer.pending = append(outer.pending, g.pending...)
			}
		case it.obj != nil:
			r.addObject(it.obj)
		case it.lib != nil:
			if !r.addShlib(it) && len(groups) > 0 {
				groups[len(groups)-1].pending = append(groups[len(groups)-1].pending, it)
			}
		case it.arch != nil:
			if it.state.WholeArchive {
				if err := r.extractAll(it); err != nil {
					return err
				}
				continue
			}
			if _, err := r.extract(it); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *resolver) tracef(format string, args ...any) {
	if r.trace != nil && r.opts.Trace {
		fmt.Fprintf(r.trace, format, args...)
	}
}

// extract extracts the archive's members that define names referred to
// and not yet defined, until there are no more; it reports whether it
// extracted any.
func (r *resolver) extract(it *item) (bool, error) {
	a := it.arch
	any := false
	for {
		var offs []uint64
		seen := map[uint64]bool{}
		for i, e := range a.Index {
			if a.extracted[e.Member] || seen[e.Member] {
				continue
			}
			if s := a.symbol(r.table, i); s != nil && r.wanted(s) {
				offs = append(offs, e.Member)
				seen[e.Member] = true
			}
		}
		if len(offs) == 0 {
			return any, nil
		}
		files, err := r.readMembers(a, offs)
		if err != nil {
			return any, err
		}
		for i, f := range files {
			a.extracted[offs[i]] = true
			// An earlier member of the batch may have defined what
			// made this one wanted: GNU ld extracts one at a time.
			s := r.stillWanted(a, offs[i])
			if s == nil {
				a.extracted[offs[i]] = false
				continue
			}
			ref := "--undefined"
			if s.RefBy != nil {
				ref = s.RefBy.Name
			}
			r.res.Extractions = append(r.res.Extractions, Extraction{Reference: ref, Member: f.Name, Symbol: s.Name})
			r.addObject(f)
			any = true
		}
	}
}

// wanted reports whether an archive member defining s should be
// extracted: s is referred to, not weakly only, and not defined.
func (r *resolver) wanted(s *Symbol) bool {
	return s.Kind == Undefined && s.StrongRef
}

// stillWanted returns a name the member at off would define that is
// wanted, or nil.
func (r *resolver) stillWanted(a *archive, off uint64) *Symbol {
	for _, i := range a.entries(off) {
		if s := a.symbol(r.table, i); s != nil && r.wanted(s) {
			return s
		}
	}
	return nil
}

// readMembers parses archive members in parallel.
func (r *resolver) readMembers(a *archive, offs []uint64) ([]*File, error) {
	files := make([]*File, len(offs))
	errs := make([]error, len(offs))
	r.parallel(len(offs), func(i int) {
		m, err := a.Member(offs[i])
		if err != nil {
			errs[i] = err
			return
		}
		o, err := input.ParseObject(a.ObjectName(m), m.Data)
		if err != nil {
			errs[i] = err
			return
		}
		files[i], errs[i] = r.newFile(o)
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return files, nil
}

func (r *resolver) extractAll(it *item) error {
	ms, err := it.arch.Members()
	if err != nil {
		return err
	}
	offs := make([]uint64, len(ms))
	for i, m := range ms {
		offs[i] = m.Offset
	}
	files, err := r.readMembers(it.arch, offs)
	if err != nil {
		return err
	}
	for _, f := range files {
		r.addObject(f)
	}
	return nil
}

func (r *resolver) reference(s *Symbol, f *File, weak bool) {
	s.Referenced = true
	if !weak {
		s.StrongRef = true
	}
	if s.RefBy == nil {
		s.RefBy = f
	}
}

// addObject adds a relocatable object's definitions and references.
func (r *resolver) addObject(f *File) {
	if f.added {
		return
	}
	f.added = true
	f.Priority = len(r.res.Files)
	r.res.Files = append(r.res.Files, f)
	r.tracef("%s\n", f.Name)
	for _, g := range f.Groups {
		if !g.COMDAT {
			continue
		}
		if _, ok := r.comdat[g.Signature]; ok {
			g.Discarded = true
			for _, m := range g.Members {
				if s := f.Sections[m]; s != nil {
					s.Discarded = true
				}
			}
			continue
		}
		r.comdat[g.Signature] = g
	}
	for i := f.FirstGlobal; i < len(f.Symbols); i++ {
		es := &f.Symbols[i]
		s := f.Syms[i]
		if v := es.Sym.Visibility(); v != elf.STV_DEFAULT && (s.Vis == elf.STV_DEFAULT || v < s.Vis) {
			// Visibilities order internal < hidden < protected in
			// constraint: the lowest non-default value wins.
			s.Vis = v
		}
		weak := es.Sym.Bind() == elf.STB_WEAK
		if r.traced != nil && r.traced[s.Name] {
			what := "definition of"
			if !es.Defined() {
				what = "reference to"
			}
			fmt.Fprintf(r.trace, "%s: %s %s\n", f.Name, what, s.Name)
		}
		switch {
		case !es.Defined() || r.inDiscarded(f, es):
			r.reference(s, f, weak)
		case es.Common():
			r.common(s, f, es)
		default:
			r.define(s, f, es)
		}
	}
}

func (r *resolver) inDiscarded(f *File, es *input.Symbol) bool {
	if es.Absolute() || es.Common() {
		return false
	}
	sec := f.Sections[es.Shndx]
	return sec == nil || sec.Discarded
}

func (r *resolver) setDefinition(s *Symbol, f *File, es *input.Symbol) {
	s.Kind = Defined
	s.File = f
	s.Section = nil
	if !es.Absolute() {
		s.Section = f.Sections[es.Shndx]
		if s.Section == nil {
			s.Section = input.Dropped
		}
	}
	s.Value = es.Sym.Value
	s.Size = es.Sym.Size
	s.Bind = es.Sym.Bind()
	s.Type = es.Sym.Type()
	s.Shlib = nil
	s.Version = ""
	s.OutVersion, s.OutHidden, s.DynName = "", false, ""
	if base, ver, def := SplitVersion(es.Name); ver != "" {
		s.OutVersion, s.OutHidden, s.DynName = ver, !def, base
	}
}

func (r *resolver) define(s *Symbol, f *File, es *input.Symbol) {
	weak := es.Sym.Bind() == elf.STB_WEAK
	switch s.Kind {
	case Undefined, Shared, Common:
		r.setDefinition(s, f, es)
	case Defined:
		switch {
		case s.Bind == elf.STB_WEAK && !weak:
			r.setDefinition(s, f, es)
		case weak || s.Bind == elf.STB_WEAK:
		case r.opts.AllowMultiple:
		default:
			r.multiple(s, f, es)
		}
	}
}

func (r *resolver) multiple(s *Symbol, f *File, es *input.Symbol) {
	here := Place{File: f}
	if !es.Absolute() {
		here.Section = f.Sections[es.Shndx]
		here.Offset = es.Sym.Value
	}
	first := Place{File: s.File, Section: s.Section, Offset: s.Value}
	r.res.Diagnostics = append(r.res.Diagnostics, &Diagnostic{
		Place:   here,
		Message: fmt.Sprintf("multiple definition of `%s'; %s: first defined here", s.Name, first.Full()),
	})
}

func (r *resolver) common(s *Symbol, f *File, es *input.Symbol) {
	switch s.Kind {
	case Undefined, Shared:
		s.Kind = Common
		s.File = f
		s.Section = nil
		s.Size = es.Sym.Size
		s.CommonAlign = max(es.Sym.Value, 1)
		s.Bind = es.Sym.Bind()
		s.Type = elf.STT_OBJECT
		s.Shlib = nil
		s.Version = ""
	case Common:
		// The largest size and alignment win, as in GNU ld.
		if es.Sym.Size > s.Size {
			s.Size = es.Sym.Size
			s.File = f
		}
		s.CommonAlign = max(s.CommonAlign, es.Sym.Value)
	}
}

// addShlib adds a shared library's definitions, unless it was given
// --as-needed and defines nothing referred to; it reports whether the
// library is in the link.
func (r *resolver) addShlib(it *item) bool {
	l := it.lib
	if r.sonames[l.NeededName] {
		return true
	}
	obj := l.Obj
	if it.state.AsNeeded && !r.needs(l) {
		return false
	}
	l.AsNeeded = it.state.AsNeeded
	l.CopyDTNeeded = it.state.CopyDTNeeded
	r.sonames[l.NeededName] = true
	r.res.Shlibs = append(r.res.Shlibs, l)
	r.tracef("%s\n", l.Path)
	for i := 1; i < len(l.Syms); i++ {
		s := l.Syms[i]
		if s == nil {
			continue
		}
		s.InShlib = true
		sym := obj.Symbol(uint32(i))
		if r.traced != nil && r.traced[s.Name] && !sym.Undefined() {
			fmt.Fprintf(r.trace, "%s: definition of %s\n", l.Path, s.Name)
		}
		if sym.Undefined() {
			if sym.Bind() != elf.STB_WEAK && s.ShlibRef == nil {
				s.ShlibRef = l
			}
			continue
		}
		if s.Kind != Undefined {
			continue
		}
		ver, hidden := obj.SymbolVersion(uint32(i))
		if ver != nil && r.versionedRefs.Load() {
			// A reference naming the version (foo@V, from .symver)
			// binds to it, default or not.
			if t := r.table.Lookup(s.Name + "@" + ver.Name); t != nil && t.Kind == Undefined {
				r.bindShared(t, l, i, sym, ver.Name)
				t.DynName = s.Name
			}
		}
		if hidden {
			// Only a reference naming the version binds to a
			// non-default version.
			continue
		}
		r.bindShared(s, l, i, sym, "")
		if ver != nil {
			s.Version = ver.Name
		}
	}
	return true
}

// bindShared makes s the library's definition, dynamic symbol i.
func (r *resolver) bindShared(s *Symbol, l *Shlib, i int, sym object.Sym, version string) {
	s.Kind = Shared
	s.Shlib = l
	s.ShlibIndex = uint32(i)
	s.Value = sym.Value
	s.Size = sym.Size
	s.Bind = sym.Bind()
	s.Type = sym.Type()
	s.File = nil
	s.Section = nil
	s.Version = version
}

// needs reports whether the library defines a name referred to (not
// weakly only) and not defined yet. A reference from a shared library
// counts, as in GNU ld, unless a library of the link names this one in
// its DT_NEEDED: the dynamic linker loads it for that library then.
func (r *resolver) needs(l *Shlib) bool {
	byLibs := !r.onNeededList(l)
	for i := 1; i < len(l.Syms); i++ {
		s := l.Syms[i]
		if s == nil || s.Kind != Undefined || !(s.StrongRef || byLibs && s.ShlibRef != nil) {
			continue
		}
		sym := l.Obj.Symbol(uint32(i))
		if sym.Undefined() {
			continue
		}
		if _, hidden := l.Obj.SymbolVersion(uint32(i)); hidden {
			continue
		}
		return true
	}
	// A reference naming a version (foo@V) needs the library too.
	for i := 1; i < len(l.Syms) && r.versionedRefs.Load(); i++ {
		s := l.Syms[i]
		if es := l.Obj.Symbol(uint32(i)); s == nil || es.Undefined() {
			continue
		}
		if ver, _ := l.Obj.SymbolVersion(uint32(i)); ver != nil {
			if t := r.table.Lookup(s.Name + "@" + ver.Name); t != nil && t.Kind == Undefined && t.StrongRef {
				return true
			}
		}
	}
	return false
}

// onNeededList reports whether a shared library in the link has l in
// its DT_NEEDED.
func (r *resolver) onNeededList(l *Shlib) bool {
	for _, k := range r.res.Shlibs {
		if slices.Contains(k.Obj.Dyn.Needed, l.NeededName) {
			return true
		}
	}
	return false
}
