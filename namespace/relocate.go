package namespace

import (
	"debug/elf"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/ldgo/ldgo/image"
	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/lookup"
	"github.com/ldgo/ldgo/object"
	"github.com/ldgo/ldgo/reloc"
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
	// Profile binds lazily even the objects that ask to be bound now,
	// as glibc does when an audit library intercepts PLT calls
	// (la_pltenter, la_pltexit): every call goes through the resolver.
	Profile bool
	// OnWarning sees what glibc only warns about.
	OnWarning func(m *linkmap.Map, w *reloc.Warning)
	// Verbose passes on the warnings glibc gives only with LD_WARN set
	// (dl_verbose), which ldd sets.
	Verbose bool
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

// WordWriter is an image that stores words in batches, each at an
// address in one of the writable ranges given: most relocations write a
// plain word (reloc.Word), and a call per batch costs less than a call
// per word.
type WordWriter interface {
	WriteWords(words []Word, writable []object.Range) error
}

// Word is a word to store at Addr.
type Word struct{ Addr, Value uint64 }

// wordBatch is the number of words a relocator gathers before writing.
const wordBatch = 256

// early is the goroutine that applies relative relocations beside the
// rest: they need nothing but the object's base, and they are most of a
// large program's relocations (gdb: 111,000 of 144,000), page faults
// included. It takes the objects from the last RelocateAll relocates
// backwards, while RelocateAll goes forwards; each object's relative
// relocations are a job that whichever comes first claims. Relocate has
// an object's job done (by the goroutine or itself) before anything else
// touches the object, and so does a call of an IFUNC resolver for the
// resolver's object. So the two meet in the middle, and nobody waits for
// the goroutine to start.
type early struct {
	jobs map[*linkmap.Map]*earlyJob // made before the goroutine starts
	w    RelativeWriter
	wg   sync.WaitGroup
}

type earlyJob struct {
	m       *linkmap.Map
	claimed atomic.Bool
	done    chan struct{} // closed when n and err are final
	n       int           // relocations applied
	err     error
}

// run does job j unless it is claimed already.
func (e *early) run(j *earlyJob) {
	if !j.claimed.CompareAndSwap(false, true) {
		return
	}
	d := &j.m.Obj.Dyn
	tab, err := j.m.Obj.Relas(object.Range{Addr: d.Rela.Addr, Size: min(d.RelaCount*24, d.Rela.Size)})
	if err == nil {
		j.n, err = e.w.WriteRelative(j.m.Base, tab, WritableRanges(j.m, false))
	}
	j.err = err
	close(j.done)
}

// earlyMinimum is the number of relative relocations below which the
// early goroutine is not worth its start (the runtime may have to start a
// thread for it, some 0.1 ms): ls has 270 in all, python 330, node 900,
// gdb 111,000.
const earlyMinimum = 16384

// relocateEarly starts the early goroutine over objects, which
// RelocateAll relocates in this order. Objects with text relocations are
// left to Relocate, which makes their text writable first.
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
	e := &early{jobs: map[*linkmap.Map]*earlyJob{}, w: w}
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
		for i := len(jobs) - 1; i >= 0; i-- {
			e.run(jobs[i])
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

// earlyDone has m's early job done, here unless the goroutine took it,
// and returns how many of m's relocations it applied.
func (ns *Namespace) earlyDone(m *linkmap.Map) (int, error) {
	if ns.early == nil {
		return 0, nil
	}
	j := ns.early.jobs[m]
	if j == nil {
		return 0, nil
	}
	ns.early.run(j)
	<-j.done
	return j.n, j.err
}

// writableRanges are m's writable segments at run time; with text too,
// every loaded segment (DT_TEXTREL, once made writable).
func WritableRanges(m *linkmap.Map, text bool) []object.Range {
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
	var todo []*linkmap.Map
	for i := len(order) - 1; i >= 0; i-- {
		if m := order[i]; relocatable(m) {
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
	res lookup.Result

	// words are gathered for writer, when the image is one, and
	// written before anything else is done to the image, each, as the
	// relative relocations, into writable.
	writer   WordWriter
	words    []Word
	writable []object.Range

	// place is the writable segment (link-time addresses) that held the
	// last place checked: relocations come in address order, and it
	// mostly holds the next.
	place struct{ lo, size uint64 }
}

// flush writes the words gathered. Their places were checked as they
// were gathered (checkPlace): the image refusing one is a failure of its
// own.
func (r *relocator) flush() {
	if len(r.words) == 0 {
		return
	}
	if err := r.writer.WriteWords(r.words, r.writable); err != nil {
		r.report(r.loadError(err))
	}
	r.words = r.words[:0]
}

// loadError is err as a failure to load the object being relocated.
func (r *relocator) loadError(err error) error {
	return &LoadError{Name: r.m.DisplayName(r.ns.cfg.Progname), Err: err}
}

// relocError is err, met applying rel, whose entry is at link-time
// address entry, as a failure to load the object that names the
// relocation.
func (r *relocator) relocError(rel object.Rela, entry uint64, err error) error {
	table, index := r.m.Obj.RelaEntry(entry)
	return r.loadError(&RelocError{Table: table, Index: index, Type: rel.Type, Off: rel.Off, Err: err})
}

// RelocError is a relocation that cannot be applied, named by its table
// and its index there (DT_RELR's entries have none), its type and the
// link-time address it writes (r_offset), as readelf -r lists them.
type RelocError struct {
	Table string // "DT_RELA", "DT_JMPREL" or "DT_RELR"
	Index uint64
	Type  elf.R_X86_64
	Off   uint64
	Err   error
}

func (e *RelocError) Error() string {
	which := e.Table + " relocation"
	if e.Table != "DT_RELR" {
		which += fmt.Sprintf(" %d", e.Index)
	}
	var bt reloc.BadTypeError
	if errors.As(e.Err, &bt) {
		// glibc's words first, as ld.so prints them.
		return fmt.Sprintf("%v (%s at %#x)", e.Err, which, e.Off)
	}
	return fmt.Sprintf("%s (%s at %#x): %v", which, reloc.TypeName(e.Type), e.Off, e.Err)
}

func (e *RelocError) Unwrap() error { return e.Err }

// The causes checkPlace gives.
var (
	errNotWritable = errors.New("segment is not writable")
	errOutside     = errors.New("address outside the loaded segments")
)

// checkPlace checks that the n bytes a relocation writes at link-time
// address off lie in one writable segment of the object (any of its
// segments, with DT_TEXTREL), as the process image requires of every
// write. It is made before each write into either image, so that both
// refuse the same relocations with the same cause.
// Where relocations are many, inPlace comes first.
func (r *relocator) checkPlace(off, n uint64) error {
	if n == 0 || r.inPlace(off, n) {
		return nil
	}
	p, err := segmentOf(r.m.Obj, off, n, !r.m.Obj.Dyn.TextRel)
	if err == nil {
		r.place.lo, r.place.size = p.Vaddr, p.Memsz
	}
	return err
}

// inPlace reports whether the n bytes at off lie in the segment of the
// last place checked, as most relocations' do: a test small enough to be
// inlined.
func (r *relocator) inPlace(off, n uint64) bool {
	d := off - r.place.lo
	return d < r.place.size && n <= r.place.size-d
}

// segmentOf returns the loaded segment of o that holds the n bytes at
// link-time address off, and a writable one if writable is set.
func segmentOf(o *object.Object, off, n uint64, writable bool) (object.Prog, error) {
	end := off + n
	err := errOutside
	if end < off {
		return object.Prog{}, err
	}
	for _, p := range o.Progs {
		if p.Type != elf.PT_LOAD || off < p.Vaddr || end > p.Vaddr+p.Memsz {
			continue
		}
		if writable && p.Flags&elf.PF_W == 0 {
			err = errNotWritable
			continue
		}
		return p, nil
	}
	return object.Prog{}, err
}

// relocatable reports whether RelocateAll relocates m: not the dynamic
// linker, a missing object, an adopted one, nor one already relocated.
func relocatable(m *linkmap.Map) bool {
	return !m.Rtld && !m.Faked && !m.Adopted && !m.Relocated
}

// BindsLazily reports whether relocating m with opts leaves its PLT
// slots to be bound at first call.
func (opts *RelocOptions) BindsLazily(m *linkmap.Map) bool {
	return opts.Lazy && (!m.Obj.Dyn.BindNow || opts.Profile)
}

// Relocate applies all of m's relocations (glibc's _dl_relocate_object).
func (ns *Namespace) Relocate(m *linkmap.Map, opts RelocOptions) error {
	if m.Relocated {
		return nil
	}
	env := ns.mapper.Env()
	hooks, _ := env.(Hooks)
	lazy := opts.BindsLazily(m)
	if d := ns.cfg.DebugReloc; d != nil {
		suffix := ""
		if lazy {
			suffix = " (lazy)"
		}
		d("")
		d("relocation processing: " + m.DisplayName(ns.cfg.Progname) + suffix)
	}
	r := &relocator{ns: ns, m: m, env: env, opts: &opts, writable: WritableRanges(m, m.Obj.Dyn.TextRel)}
	if w, ok := env.(WordWriter); ok {
		if ns.words == nil {
			ns.words = make([]Word, 0, wordBatch)
		}
		r.writer, r.words = w, ns.words[:0]
	}
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
	// A damaged DT_RELR table is reported once: its bitmaps may name
	// 63 places a word.
	relrFailed := false
	if err := m.Obj.Relr(func(addr uint64) {
		if relrFailed {
			return
		}
		if err := r.addBase(addr); err != nil {
			relrFailed = true
			r.report(r.loadError(&RelocError{Table: "DT_RELR", Type: elf.R_X86_64_RELATIVE, Off: addr, Err: err}))
		}
	}); err != nil {
		r.report(r.loadError(err))
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

// addBase adds the object's base to the word at link-time address addr.
func (r *relocator) addBase(addr uint64) error {
	if !r.inPlace(addr, 8) {
		if err := r.checkPlace(addr, 8); err != nil {
			return err
		}
	}
	return image.Add64(r.env, r.m.Addr(addr), r.m.Base)
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
		if !lazy && ranges[0].Addr+ranges[0].Size == start && ranges[0].Size+size >= size {
			ranges[0].Size += size
		} else {
			ranges[1] = rng{Range: object.Range{Addr: start, Size: size}, lazy: lazy}
		}
	}
	done, err := r.ns.earlyDone(r.m)
	if err != nil {
		var oe *object.Error
		if errors.As(err, &oe) {
			r.report(r.loadError(err))
		} else {
			tab, _ := r.m.Obj.Relas(d.Rela)
			r.report(r.relativeError(tab, d.Rela.Addr, done, err))
		}
		if r.err != nil {
			return r.err
		}
	}
	for _, rg := range ranges {
		tab, err := r.m.Obj.Relas(rg.Range)
		if err != nil {
			r.report(r.loadError(err))
			if r.err != nil {
				return r.err
			}
			done = 0
			continue
		}
		if rg.lazy {
			r.doLazy(tab, rg.Addr)
		} else {
			r.doNow(tab, rg.Addr, rg.nrelative, done)
		}
		if r.writer != nil {
			r.flush()
		}
		done = 0
		if r.err != nil {
			return r.err
		}
	}
	return nil
}

// doLazy is the first pass over PLT relocations bound at first call: the
// GOT slots are made to point back into the object's PLT. The table's
// entries start at link-time address at.
func (r *relocator) doLazy(tab object.RelaTable, at uint64) {
	var irel []int
	for i := 0; i < tab.Len() && r.err == nil; i++ {
		rel := tab.At(i)
		switch rel.Type {
		case elf.R_X86_64_JMP_SLOT:
			if err := r.addBase(rel.Off); err != nil {
				r.report(r.relocError(rel, at+uint64(i)*24, err))
			}
		case elf.R_X86_64_TLSDESC:
			r.apply(rel, at+uint64(i)*24)
		case elf.R_X86_64_IRELATIVE:
			irel = append(irel, i)
		default:
			r.report(r.relocError(rel, at+uint64(i)*24, reloc.BadTypeError{Map: r.m, Type: rel.Type, PLT: true}))
		}
	}
	for _, i := range irel {
		if r.err == nil {
			r.apply(tab.At(i), at+uint64(i)*24)
		}
	}
}

// doNow relocates a range fully: its first nrelative entries are relative
// relocations (DT_RELACOUNT), of which the first done were applied early;
// IRELATIVE ones are done last. The table's entries start at link-time
// address at.
func (r *relocator) doNow(tab object.RelaTable, at uint64, nrelative uint64, done int) {
	n := tab.Len()
	i := min(done, n)
	if w, ok := r.env.(RelativeWriter); ok && nrelative > uint64(i) {
		applied, err := w.WriteRelative(r.m.Base, tab[i*24:min(nrelative, uint64(n))*24], r.writable)
		if err != nil {
			r.report(r.relativeError(tab, at, i+applied, err))
			applied++ // reported: go on after it
		}
		i += applied
	}
	for ; uint64(i) < nrelative && i < n && r.err == nil; i++ {
		rel := tab.At(i)
		t := &reloc.Terms{A: rel.Addend, B: r.m.Base, P: r.m.Addr(rel.Off)}
		if n := reloc.Size(rel.Type, t); !r.inPlace(rel.Off, n) {
			if err := r.checkPlace(rel.Off, n); err != nil {
				r.report(r.relocError(rel, at+uint64(i)*24, err))
				continue
			}
		}
		if err := reloc.Apply(r.env, r.m, rel.Type, t, false); err != nil {
			r.report(r.applyError(rel, at+uint64(i)*24, err))
		}
	}
	var irel []int
	for ; i < n && r.err == nil; i++ {
		rel := tab.At(i)
		if rel.Type == elf.R_X86_64_IRELATIVE {
			irel = append(irel, i)
			continue
		}
		r.apply(rel, at+uint64(i)*24)
	}
	for _, i := range irel {
		if r.err == nil {
			r.apply(tab.At(i), at+uint64(i)*24)
		}
	}
}

// report handles an error of one relocation: recorded and passed over in
// trace mode, fatal otherwise.
func (r *relocator) report(err error) {
	var w *reloc.Warning
	if errors.As(err, &w) {
		if r.opts.OnWarning != nil && (!w.Verbose || r.opts.Verbose) {
			r.opts.OnWarning(r.m, w)
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

// apply performs one relocation (glibc's elf_machine_rela); entry is the
// link-time address of its entry in the relocation table.
func (r *relocator) apply(rel object.Rela, entry uint64) {
	if rel.Type == elf.R_X86_64_JMP_SLOT && r.ns.cfg.Audit != nil {
		r.applyAudited(rel, entry)
		return
	}
	r.applyOne(rel, entry)
}

func (r *relocator) applyOne(rel object.Rela, entry uint64) {
	m := r.m
	t := &reloc.Terms{A: rel.Addend, B: m.Base, P: m.Addr(rel.Off)}
	if reloc.UsesSymbol(rel.Type) {
		if err := symbolInTable(m, rel.Sym); err != nil {
			r.report(r.relocError(rel, entry, err))
			return
		}
		res := &r.res
		if r.ns.resolve(m, entry, rel.Sym, reloc.Class(rel.Type), r, res) {
			def, sym := res.Map, &res.Sym
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
			t.S = symbolAddress(def, sym)
			t.IFunc = sym.Type() == elf.STT_GNU_IFUNC && sym.Shndx != elf.SHN_UNDEF
			if rel.Type == elf.R_X86_64_COPY {
				t.RefSize = m.Obj.Symbol(rel.Sym).Size
				// What glibc would copy from the wild.
				if n := min(t.Z, t.RefSize); sym.Shndx != elf.SHN_ABS && n > 0 {
					if _, err := segmentOf(def.Obj, sym.Value, n, false); err != nil {
						r.report(r.relocError(rel, entry, fmt.Errorf("the %d bytes it copies, at %#x of %s: %w", n, sym.Value, def.DisplayName(r.ns.cfg.Progname), err)))
						return
					}
				}
			}
		}
	}
	if n := reloc.Size(rel.Type, t); !r.inPlace(rel.Off, n) {
		if err := r.checkPlace(rel.Off, n); err != nil {
			r.report(r.relocError(rel, entry, err))
			return
		}
	}
	if r.writer != nil {
		if w, ok := reloc.Word(rel.Type, t); ok {
			r.words = append(r.words, Word{t.P, w})
			if len(r.words) == cap(r.words) {
				r.flush()
			}
			return
		}
		// What comes next may read what the words change (an IFUNC
		// resolver) or write where they go.
		r.flush()
	}
	if err := reloc.Apply(r.env, m, rel.Type, t, r.opts.SkipIFunc); err != nil {
		var w *reloc.Warning
		if errors.As(err, &w) && rel.Sym != 0 {
			err = &reloc.Warning{Msg: fmt.Sprintf("%s: Symbol `%s' %s", r.ns.cfg.Progname, m.Obj.SymbolName(rel.Sym), w.Msg), Verbose: w.Verbose}
		}
		r.report(r.applyError(rel, entry, err))
	}
}

// applyError is err, from reloc.Apply for rel (entry at entry): a type it
// does not know, or an access the image refused, is the relocation's
// failure; any other (a warning, static TLS exhausted) is reported as it
// is.
func (r *relocator) applyError(rel object.Rela, entry uint64, err error) error {
	var bt reloc.BadTypeError
	var ae *image.AccessError
	if errors.As(err, &bt) || errors.As(err, &ae) {
		return r.relocError(rel, entry, err)
	}
	return err
}

// relativeError is err, from a RelativeWriter that applied the relative
// relocations of tab (entries from link-time address at) up to entry k,
// as the failure of relocation k, with checkPlace's cause.
func (r *relocator) relativeError(tab object.RelaTable, at uint64, k int, err error) error {
	if k >= tab.Len() {
		return r.loadError(err)
	}
	rel := tab.At(k)
	if cause := r.checkPlace(rel.Off, 8); cause != nil {
		err = cause
	}
	return r.relocError(rel, at+uint64(k)*24, err)
}

// symbolInTable checks that m has a symbol idx.
func symbolInTable(m *linkmap.Map, idx uint32) error {
	if n := m.Obj.NumSymbols(); uint64(idx) >= uint64(n) {
		return fmt.Errorf("symbol %d is past the end of the symbol table (%d symbols)", idx, n)
	}
	return nil
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
// scope); entry is the relocation's entry, as for resolve.
func (ns *Namespace) LookupReference(m *linkmap.Map, entry uint64, idx uint32, class lookup.Class) (lookup.Result, error) {
	l := &ns.Linker
	key := refKey(m, entry, idx)
	var res lookup.Result
	if ns.replay(m, key, class, &res) {
		return res, nil
	}
	ref := m.Obj.Symbol(idx)
	var req lookup.Request
	lookup.ReferenceRequest(&req, m, idx, &ref, class)
	res, err := l.Symbol(m.Scope, &req)
	if err == nil && l.Recording {
		l.Remember(key, lookup.Searched, &res)
	}
	return res, err
}

// refKey names m's reference to its symbol idx, made by the relocation
// whose entry is at link-time address entry, as the bind record names it
// (serials fit in 32 bits: see lookup.Linker.Remember).
func refKey(m *linkmap.Map, entry uint64, idx uint32) lookup.RefKey {
	return lookup.RefKey{Ref: uint32(m.Serial), Entry: entry, Sym: idx}
}

// replay answers the reference key in res from the bind record, if there
// is one that names a definition that is there.
func (ns *Namespace) replay(m *linkmap.Map, key lookup.RefKey, class lookup.Class, res *lookup.Result) bool {
	l := &ns.Linker
	if len(l.Replay) == 0 {
		return false
	}
	at, ok := l.Next(key)
	if !ok {
		return false
	}
	how, ok := l.Rebind(m.Scope, m, key.Sym, class, at, res)
	if ok && how == lookup.Remembered {
		ns.cacheHits++
	}
	return ok
}

// resolve finds in res what symbol idx of m binds to for the relocation
// whose entry is at entry (link-time address), in class (glibc's
// RESOLVE_MAP), and reports whether it binds to anything: local and
// hidden symbols are m's own; the last lookup of each object is
// remembered for the next relocation against the same symbol. A binding
// from the bind record reads neither the reference nor any symbol table.
func (ns *Namespace) resolve(m *linkmap.Map, entry uint64, idx uint32, class lookup.Class, r *relocator, res *lookup.Result) bool {
	key := refKey(m, entry, idx)
	if ns.replay(m, key, class, res) {
		return res.Map != nil
	}
	how, err := ns.search(m, idx, class, r, res)
	if err != nil {
		r.report(&LoadError{Name: m.DisplayName(ns.cfg.Progname), Err: err, Occasion: "symbol lookup error"})
		return false
	}
	if ns.Linker.Recording {
		ns.Linker.Remember(key, how, res)
	}
	return res.Map != nil
}

// search is resolve without the bind record.
func (ns *Namespace) search(m *linkmap.Map, idx uint32, class lookup.Class, r *relocator, res *lookup.Result) (lookup.How, error) {
	r.ref = m.Obj.Symbol(idx)
	ref := &r.ref
	if ref.Bind() == elf.STB_LOCAL || ref.Visibility() == elf.STV_HIDDEN || ref.Visibility() == elf.STV_INTERNAL {
		*res = lookup.Result{Map: m, Index: idx, Sym: *ref}
		return lookup.Own, nil
	}
	c := &m.LookupCache
	if c.Valid && c.Sym == idx && c.Class == int(class) {
		ns.cacheHits++
		*res = lookup.Result{}
		if c.Found {
			*res = lookup.Result{Map: c.Def, Index: c.Index, Sym: c.Def.Obj.Symbol(c.Index)}
		}
		return lookup.Remembered, nil
	}
	req := &r.req
	lookup.ReferenceRequest(req, m, idx, ref, class)
	var err error
	*res, err = ns.Linker.Symbol(m.Scope, req)
	*c = struct {
		Valid bool
		Sym   uint32
		Class int
		Def   *linkmap.Map
		Index uint32
		Found bool
	}{Valid: true, Sym: idx, Class: int(class), Def: res.Map, Index: res.Index, Found: res.Map != nil}
	return lookup.Searched, err
}
