package namespace

import (
	"debug/elf"
	"errors"
	"fmt"
	"sync"

	"ldgo/image"
	"ldgo/linkmap"
	"ldgo/lookup"
	"ldgo/object"
	"ldgo/reloc"
)

// RelocOptions say how relocation is done.
type RelocOptions struct {
	// Lazy leaves PLT slots to be bound at their first call, unless the
	// object asks to be bound now (DF_BIND_NOW, DF_1_NOW).
	Lazy bool
	// SkipIFunc does not run IFUNC resolvers (glibc's trace mode).
	SkipIFunc bool
	// Continue collects errors (undefined symbols, bad relocations) and
	// goes on, as ldd -r does; otherwise the first error stops.
	Continue bool
	// OnError sees each error when Continue is set.
	OnError func(m *linkmap.Map, err error)
	// OnWarning sees what glibc only warns about.
	OnWarning func(m *linkmap.Map, msg string)
}

// Hooks are what a process image needs to do around relocation; the
// Env of a Mapper may implement them.
type Hooks interface {
	// BeginTextRel makes m's read-only segments writable (DT_TEXTREL).
	BeginTextRel(m *linkmap.Map) error
	// EndTextRel restores them.
	EndTextRel(m *linkmap.Map) error
	// SetupLazy points m's GOT at the lazy resolver (GOT[1], GOT[2]).
	SetupLazy(m *linkmap.Map) error
	// Relocated runs after m is relocated (RELRO protection).
	Relocated(m *linkmap.Map) error
}

// RelativeWriter is an image that applies a run of relative relocations
// (B + A) at once, faster than one word write each, each to an address in
// one of the writable run-time ranges. WriteRelative returns how many it
// applied: it stops at the first that is not R_X86_64_RELATIVE, and the
// caller goes on from there. It may be called from another goroutine
// than the rest of the image's methods (see relocateEarly).
type RelativeWriter interface {
	WriteRelative(base uint64, tab object.RelaTable, writable []object.Range) (int, error)
}

// early is the goroutine that applies relative relocations ahead of the
// rest: they need nothing but the object's base, and they are most of a
// large program's relocations (gdb: 111,000 of 144,000), page faults
// included. It takes the objects in the order RelocateAll does, so it
// stays ahead; Relocate waits for an object's job before anything else
// touches the object, and a call of an IFUNC resolver waits for the
// job of the resolver's object.
type early struct {
	jobs map[*linkmap.Map]*earlyJob // made before the goroutine starts
	wg   sync.WaitGroup
}

type earlyJob struct {
	m    *linkmap.Map
	done chan struct{} // closed when n and err are final
	n    int           // relocations applied
	err  error
}

// earlyMinimum is the number of relative relocations below which the
// early goroutine is not worth its start (the runtime may have to start a
// thread for it, some 0.1 ms): ls has 270 in all, python 330, node 900,
// gdb 111,000.
const earlyMinimum = 16384

// relocateEarly starts the early goroutine over objects, in order.
// Objects with text relocations are left to Relocate, which makes their
// text writable first.
func (ns *Namespace) relocateEarly(objects []*linkmap.Map) {
	w, ok := ns.mapper.Env().(RelativeWriter)
	if !ok || !ns.cfg.Early {
		return
	}
	var total uint64
	for _, m := range objects {
		total += m.Obj.Dyn.RelaCount
	}
	if total < earlyMinimum {
		return
	}
	e := &early{jobs: map[*linkmap.Map]*earlyJob{}}
	var jobs []*earlyJob
	for _, m := range objects {
		d := &m.Obj.Dyn
		if d.TextRel || d.RelaCount == 0 || d.Rela.Addr == 0 {
			continue
		}
		j := &earlyJob{m: m, done: make(chan struct{})}
		e.jobs[m] = j
		jobs = append(jobs, j)
	}
	if len(jobs) == 0 {
		return
	}
	ns.early = e
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for _, j := range jobs {
			d := &j.m.Obj.Dyn
			tab, err := j.m.Obj.Relas(object.Range{Addr: d.Rela.Addr, Size: min(d.RelaCount*24, d.Rela.Size)})
			if err == nil {
				j.n, err = w.WriteRelative(j.m.Base, tab, writableRanges(j.m, false))
			}
			j.err = err
			close(j.done)
		}
	}()
}

// endEarly waits for the early goroutine to finish.
func (ns *Namespace) endEarly() {
	if e := ns.early; e != nil {
		e.wg.Wait()
		ns.early = nil
	}
}

// earlyDone waits for m's early job and returns how many of its
// relocations it applied.
func (ns *Namespace) earlyDone(m *linkmap.Map) (int, error) {
	if ns.early == nil {
		return 0, nil
	}
	j := ns.early.jobs[m]
	if j == nil {
		return 0, nil
	}
	<-j.done
	return j.n, j.err
}

// writableRanges are m's writable segments at run time; with text too,
// every loaded segment (DT_TEXTREL, once made writable).
func writableRanges(m *linkmap.Map, text bool) []object.Range {
	var out []object.Range
	for _, p := range m.Obj.Progs {
		if p.Type == elf.PT_LOAD && (text || p.Flags&elf.PF_W != 0) {
			out = append(out, object.Range{Addr: m.Base + p.Vaddr, Size: p.Memsz})
		}
	}
	return out
}

// Stats counts what relocation did, as glibc's LD_DEBUG=statistics does.
type Stats struct {
	Lookups   uint64 // symbol lookups ("number of relocations")
	CacheHits uint64 // relocations served by the one-entry lookup cache
	Relative  uint64 // relative relocations (DT_RELACOUNT of objects not at their link address)
}

// RelocateAll relocates every object of the global scope except the
// dynamic linker and adopted objects, in reverse initializer order so that
// the program's COPY relocations come last.
func (ns *Namespace) RelocateAll(opts RelocOptions) error {
	order := ns.Main.Initfini
	// Most symbol references of a program and its libraries name
	// symbols others name too: room for about half of them.
	n := 0
	for _, m := range order {
		if d := m.Obj; d != nil && !m.Faked && !m.Adopted {
			n += int((d.Dyn.Rela.Size+d.Dyn.JmpRel.Size)/24) - int(min(d.Dyn.RelaCount, d.Dyn.Rela.Size/24))
		}
	}
	ns.Linker.Reserve(n / 2)
	var todo []*linkmap.Map
	for i := len(order) - 1; i >= 0; i-- {
		if m := order[i]; !m.Rtld && !m.Faked && !m.Adopted && !m.Relocated {
			todo = append(todo, m)
		}
	}
	ns.relocateEarly(todo)
	defer ns.endEarly()
	for _, m := range todo {
		if err := ns.Relocate(m, opts); err != nil {
			return err
		}
	}
	return nil
}

// Stats returns the relocation counts so far.
func (ns *Namespace) Stats() Stats {
	s := Stats{Lookups: ns.Linker.Lookups, CacheHits: ns.cacheHits}
	for _, m := range ns.Main.Searchlist {
		if m.Base != 0 && m.Obj != nil {
			s.Relative += m.Obj.Dyn.RelaCount
		}
	}
	return s
}

// relocator carries one object's relocation.
type relocator struct {
	ns   *Namespace
	m    *linkmap.Map
	env  reloc.Env
	opts *RelocOptions
	err  error // the first fatal error

	// ref and req are reused from one relocation to the next: a
	// lookup would otherwise allocate them for every symbol.
	ref object.Sym
	req lookup.Request
}

// Relocate applies all of m's relocations (glibc's _dl_relocate_object).
func (ns *Namespace) Relocate(m *linkmap.Map, opts RelocOptions) error {
	if m.Relocated {
		return nil
	}
	env := ns.mapper.Env()
	hooks, _ := env.(Hooks)
	lazy := opts.Lazy && !m.Obj.Dyn.BindNow
	if d := ns.cfg.DebugReloc; d != nil {
		suffix := ""
		if lazy {
			suffix = " (lazy)"
		}
		d("")
		d("relocation processing: " + m.DisplayName(ns.cfg.Progname) + suffix)
	}
	r := &relocator{ns: ns, m: m, env: env, opts: &opts}
	d := &m.Obj.Dyn

	if d.TextRel && hooks != nil {
		if err := hooks.BeginTextRel(m); err != nil {
			return &LoadError{Name: m.DisplayName(r.ns.cfg.Progname), Err: fmt.Errorf("cannot make segment writable for relocation: %w", err)}
		}
	}
	if lazy && d.HasJmpRel && hooks != nil {
		if err := hooks.SetupLazy(m); err != nil {
			return err
		}
	}
	if err := m.Obj.Relr(func(addr uint64) {
		if err := r.addBase(addr); err != nil {
			r.fail(&LoadError{Name: m.DisplayName(r.ns.cfg.Progname), Err: err})
		}
	}); err != nil {
		return &LoadError{Name: m.DisplayName(r.ns.cfg.Progname), Err: err}
	}
	if r.err != nil {
		return r.err
	}
	if err := r.relocateRela(lazy); err != nil {
		return err
	}
	m.Relocated = true
	if d.TextRel && hooks != nil {
		if err := hooks.EndTextRel(m); err != nil {
			return &LoadError{Name: m.DisplayName(r.ns.cfg.Progname), Err: fmt.Errorf("cannot restore segment prot after reloc: %w", err)}
		}
	}
	if hooks != nil {
		return hooks.Relocated(m)
	}
	return nil
}

// fail records the error that stops this object's relocation.
func (r *relocator) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *relocator) addBase(addr uint64) error {
	p := r.m.Addr(addr)
	v, err := image.Read64(r.env, p)
	if err != nil {
		return err
	}
	return image.Write64(r.env, p, v+r.m.Base)
}

// relocateRela processes DT_RELA and DT_JMPREL the way glibc's
// _ELF_DYNAMIC_DO_RELOC splits them into ranges: the PLT part joins the
// rest when binding now and the two are adjacent, else it is done on its
// own (lazily or not).
func (r *relocator) relocateRela(lazy bool) error {
	d := &r.m.Obj.Dyn
	type rng struct {
		object.Range
		nrelative uint64
		lazy      bool
	}
	var ranges [2]rng
	if d.Rela.Addr != 0 {
		ranges[0] = rng{Range: d.Rela, nrelative: d.RelaCount}
	}
	if d.HasJmpRel {
		start, size := d.JmpRel.Addr, d.JmpRel.Size
		if ranges[0].Addr == 0 {
			ranges[0].Addr = start
		}
		if ranges[0].Addr+ranges[0].Size == start+size {
			ranges[0].Size -= size
		}
		if !lazy && ranges[0].Addr+ranges[0].Size == start {
			ranges[0].Size += size
		} else {
			ranges[1] = rng{Range: object.Range{Addr: start, Size: size}, lazy: lazy}
		}
	}
	done, err := r.ns.earlyDone(r.m)
	if err != nil {
		return &LoadError{Name: r.m.DisplayName(r.ns.cfg.Progname), Err: err}
	}
	for _, rg := range ranges {
		tab, err := r.m.Obj.Relas(rg.Range)
		if err != nil {
			return &LoadError{Name: r.m.DisplayName(r.ns.cfg.Progname), Err: err}
		}
		if rg.lazy {
			r.doLazy(tab)
		} else {
			r.doNow(tab, rg.nrelative, done)
		}
		done = 0
		if r.err != nil {
			return r.err
		}
	}
	return nil
}

// doLazy is the first pass over PLT relocations bound at first call: the
// GOT slots are made to point back into the object's PLT.
func (r *relocator) doLazy(tab object.RelaTable) {
	var irel []int
	for i := 0; i < tab.Len() && r.err == nil; i++ {
		rel := tab.At(i)
		switch rel.Type {
		case elf.R_X86_64_JMP_SLOT:
			if err := r.addBase(rel.Off); err != nil {
				r.fail(&LoadError{Name: r.m.DisplayName(r.ns.cfg.Progname), Err: err})
			}
		case elf.R_X86_64_TLSDESC:
			r.apply(rel)
		case elf.R_X86_64_IRELATIVE:
			irel = append(irel, i)
		default:
			r.report(reloc.BadTypeError{Map: r.m, Type: rel.Type, PLT: true})
		}
	}
	for _, i := range irel {
		if r.err == nil {
			r.apply(tab.At(i))
		}
	}
}

// doNow relocates a range fully: its first nrelative entries are relative
// relocations (DT_RELACOUNT), of which the first done were applied early;
// IRELATIVE ones are done last.
func (r *relocator) doNow(tab object.RelaTable, nrelative uint64, done int) {
	n := tab.Len()
	i := min(done, n)
	if w, ok := r.env.(RelativeWriter); ok && nrelative > uint64(i) {
		applied, err := w.WriteRelative(r.m.Base, tab[i*24:min(nrelative, uint64(n))*24], writableRanges(r.m, r.m.Obj.Dyn.TextRel))
		if err != nil {
			r.report(&LoadError{Name: r.m.DisplayName(r.ns.cfg.Progname), Err: err})
		}
		i += applied
	}
	for ; uint64(i) < nrelative && i < n && r.err == nil; i++ {
		rel := tab.At(i)
		if err := reloc.Apply(r.env, r.m, rel.Type, &reloc.Terms{A: rel.Addend, B: r.m.Base, P: r.m.Addr(rel.Off)}, false); err != nil {
			r.report(err)
		}
	}
	var irel []int
	for ; i < n && r.err == nil; i++ {
		rel := tab.At(i)
		if rel.Type == elf.R_X86_64_IRELATIVE {
			irel = append(irel, i)
			continue
		}
		r.apply(rel)
	}
	for _, i := range irel {
		if r.err == nil {
			r.apply(tab.At(i))
		}
	}
}

// report handles an error of one relocation: recorded and passed over in
// trace mode, fatal otherwise.
func (r *relocator) report(err error) {
	var w *reloc.Warning
	if errors.As(err, &w) {
		if r.opts.OnWarning != nil {
			r.opts.OnWarning(r.m, w.Msg)
		}
		return
	}
	if r.opts.Continue {
		if r.opts.OnError != nil {
			r.opts.OnError(r.m, err)
		}
		return
	}
	r.fail(err)
}

// apply performs one relocation (glibc's elf_machine_rela).
func (r *relocator) apply(rel object.Rela) {
	m := r.m
	t := &reloc.Terms{A: rel.Addend, B: m.Base, P: m.Addr(rel.Off)}
	if reloc.UsesSymbol(rel.Type) {
		if uint64(rel.Sym) >= uint64(m.Obj.NumSymbols()) {
			r.report(&LoadError{Name: m.DisplayName(r.ns.cfg.Progname), Err: fmt.Errorf("relocation refers to symbol %d of %d", rel.Sym, m.Obj.NumSymbols())})
			return
		}
		r.ref = m.Obj.Symbol(rel.Sym)
		ref := &r.ref
		def, _, sym, ok := r.ns.resolve(m, rel.Sym, ref, reloc.Class(rel.Type), r)
		if ok {
			if sym.Type() == elf.STT_GNU_IFUNC && def != m {
				// Its resolver reads its object, relocated.
				if _, err := r.ns.earlyDone(def); err != nil {
					r.report(&LoadError{Name: def.DisplayName(r.ns.cfg.Progname), Err: err})
					return
				}
			}
			t.Def = def
			t.Value = sym.Value
			t.Z = sym.Size
			t.S = symbolAddress(def, &sym)
			t.IFunc = sym.Type() == elf.STT_GNU_IFUNC && sym.Shndx != elf.SHN_UNDEF
			t.RefSize = ref.Size
		}
	}
	if err := reloc.Apply(r.env, m, rel.Type, t, r.opts.SkipIFunc); err != nil {
		var w *reloc.Warning
		if errors.As(err, &w) && rel.Sym != 0 {
			err = &reloc.Warning{Msg: fmt.Sprintf("%s: Symbol `%s' %s", r.ns.cfg.Progname, m.Obj.SymbolName(rel.Sym), w.Msg)}
		}
		var bt reloc.BadTypeError
		if errors.As(err, &bt) {
			err = &LoadError{Name: m.DisplayName(r.ns.cfg.Progname), Err: err}
		}
		r.report(err)
	}
}

// symbolAddress is glibc's SYMBOL_ADDRESS: absolute symbols are not moved
// by their object's base.
func symbolAddress(def *linkmap.Map, sym *object.Sym) uint64 {
	if sym.Shndx == elf.SHN_ABS {
		return sym.Value
	}
	return def.Base + sym.Value
}

// LookupReference looks up m's reference to its symbol idx in class, in
// m's scope, as a relocation would (for references made outside a
// relocation pass: the adopted libc's, looked up again in the program's
// scope).
func (ns *Namespace) LookupReference(m *linkmap.Map, idx uint32, class lookup.Class) (lookup.Result, error) {
	ref := m.Obj.Symbol(idx)
	var req lookup.Request
	lookup.ReferenceRequest(&req, m, idx, &ref, class)
	return ns.Linker.Symbol(m.Scope, &req)
}

// resolve finds what symbol idx of m binds to for a relocation of class
// class (glibc's RESOLVE_MAP): local and hidden symbols are m's own; the
// last lookup of each object is remembered for the next relocation
// against the same symbol.
func (ns *Namespace) resolve(m *linkmap.Map, idx uint32, ref *object.Sym, class lookup.Class, r *relocator) (*linkmap.Map, uint32, object.Sym, bool) {
	if ref.Bind() == elf.STB_LOCAL || ref.Visibility() == elf.STV_HIDDEN || ref.Visibility() == elf.STV_INTERNAL {
		return m, idx, *ref, true
	}
	c := &m.LookupCache
	if c.Valid && c.Sym == idx && c.Class == int(class) {
		ns.cacheHits++
		if !c.Found {
			return nil, 0, object.Sym{}, false
		}
		return c.Def, c.Index, c.Def.Obj.Symbol(c.Index), true
	}
	req := &r.req
	lookup.ReferenceRequest(req, m, idx, ref, class)
	res, err := ns.Linker.Symbol(m.Scope, req)
	*c = struct {
		Valid bool
		Sym   uint32
		Class int
		Def   *linkmap.Map
		Index uint32
		Found bool
	}{Valid: true, Sym: idx, Class: int(class), Def: res.Map, Index: res.Index, Found: res.Map != nil}
	if err != nil {
		r.report(&LoadError{Name: m.DisplayName(ns.cfg.Progname), Err: err, Occasion: "symbol lookup error"})
		return nil, 0, object.Sym{}, false
	}
	if res.Map == nil {
		return nil, 0, object.Sym{}, false
	}
	return res.Map, res.Index, res.Sym, true
}
