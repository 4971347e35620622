package analyze

import (
	"cmp"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/ldgo/ldgo/bindcache"
	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/lookup"
	"github.com/ldgo/ldgo/namespace"
	"github.com/ldgo/ldgo/object"
	"github.com/ldgo/ldgo/plan"
	"github.com/ldgo/ldgo/reloc"
)

// A launch plan is made from two relocations of the program in the file
// image, each with every object at another place (placements 1 and 2).
// A word written is then classified by how its value moved: not at all,
// an absolute value; as object j moved, an address in j (its offset from
// j's base is the same in both). Every object moves by a different
// amount, so the classification is unique, and nothing of the engine's
// rules is written a second time: the plan is what the engine wrote,
// whatever the relocation type. A value that moves otherwise (a
// PC-relative text relocation between two objects) cannot be planned,
// and says so.
//
// The TLS module ids and static offsets the second relocation uses are
// moved too, each object's by another amount, so that a module id
// (DTPMOD) and a place from the thread pointer (TPOFF, a static TLS
// descriptor's argument) are told from absolute values: the executor's
// process numbers modules and places blocks its own way.
//
// What only a run can say comes through the environment (planEnv): an
// IFUNC resolver's result and a TLS descriptor are values in a pseudo
// object, the executor's, that moves too, and say which resolver to call
// or which descriptor function to use.

// PlanOptions say how the plan is made.
type PlanOptions struct {
	Options
	// BindNow plans every PLT slot bound before the program starts
	// (LD_BIND_NOW).
	BindNow bool
}

// Plan makes the launch plan of the program at path, as ldgo run would
// start it with opts.
func Plan(path string, opts PlanOptions) (*plan.Plan, error) {
	abs, err := AbsProgram(path)
	if err != nil {
		return nil, err
	}
	search, err := bindcache.Settings(opts.LibraryPath, opts.Preload, opts.InhibitCache, opts.BindNow)
	if err != nil {
		return nil, err
	}
	var runs [2]*planRun
	for i := range runs {
		r, err := relocateForPlan(path, opts, placements[i+1], pseudoBases[i+1])
		if err != nil {
			return nil, err
		}
		defer r.a.Close()
		runs[i] = r
	}
	b, err := newPlanBuilder(runs)
	if err != nil {
		return nil, err
	}
	p := &plan.Plan{Program: abs, Search: search, Progname: runs[0].env.progname, Warnings: runs[0].warnings}
	if err := b.build(p); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// AbsProgram is the program's path as a plan names it: absolute, so that
// a plan does not depend on the directory it was made in.
func AbsProgram(path string) (string, error) { return filepath.Abs(path) }

// pseudoBases are where each placement puts the executor's pseudo
// object.
var pseudoBases = [...]uint64{0x300000000000, 0x310000000000, 0x320000000000}

// The pseudo object's layout: executor functions (plan.ExecutorFunc) 16
// bytes apart, then IFUNC results, then TLS indexes, one per call.
const (
	pseudoIFunc    = 1 << 32
	pseudoTLSIndex = 2 << 32
	pseudoSize     = 3 << 32
)

// planEnv is the file image's environment for a plan: IFUNC resolvers
// are not run, but their calls are kept, and TLS descriptors are made as
// ldgo run makes them, with the executor's functions.
type planEnv struct {
	*fileEnv
	pseudo   uint64
	ifuncs   []uint64 // the resolvers called, in order
	tlsIndex []tlsIndex
}

type tlsIndex struct {
	def *linkmap.Map
	off uint64
}

func (e *planEnv) CallIFunc(addr uint64) (uint64, error) {
	e.ifuncs = append(e.ifuncs, addr)
	return e.pseudo + pseudoIFunc + uint64(len(e.ifuncs)-1)*16, nil
}

// TLSDescriptor implements reloc.Env as rtld.Process does.
func (e *planEnv) TLSDescriptor(def *linkmap.Map, off uint64) (uint64, uint64, error) {
	fn := func(f plan.ExecutorFunc) uint64 { return e.pseudo + uint64(f)*16 }
	switch {
	case def == nil:
		return fn(plan.TLSDescUndefWeak), off, nil
	case def.HasStaticTLS:
		return fn(plan.TLSDescStatic), off - def.TLSOffset, nil
	}
	e.tlsIndex = append(e.tlsIndex, tlsIndex{def, off})
	return fn(plan.TLSDescDynamic), e.pseudo + pseudoTLSIndex + uint64(len(e.tlsIndex)-1)*16, nil
}

// planRun is one relocation of the program for a plan.
type planRun struct {
	a      *Analysis
	env    *planEnv
	maps   []*linkmap.Map // the plan's objects, in its order
	lazy   []lazySlot     // in order
	relocs namespace.RelocOptions
	// warnings are relocation's warnings, LD_WARN's too, in order.
	warnings []plan.Warning
}

type lazySlot struct {
	m      *linkmap.Map
	slot   int
	got    uint64 // the GOT entry's address
	target uint64
	def    *linkmap.Map
	err    error
}

// relocateForPlan loads and relocates the program with placement pl, and
// binds its lazy slots as their first calls would.
func relocateForPlan(path string, opts PlanOptions, pl placement, pseudo uint64) (*planRun, error) {
	r := &planRun{}
	a, err := load(path, opts.Options, pl, func(fe *fileEnv) reloc.Env {
		r.env = &planEnv{fileEnv: fe, pseudo: pseudo}
		return r.env
	})
	if err != nil {
		return nil, err
	}
	r.a = a
	fail := func(err error) (*planRun, error) {
		a.Close()
		return nil, err
	}
	if a.Err != nil {
		return fail(a.Err)
	}
	if a.Static() {
		return fail(fmt.Errorf("%s: statically linked: there is nothing to plan", path))
	}
	ns := a.NS
	for _, p := range ns.CheckVersions() {
		if p.Fatal() {
			return fail(fmt.Errorf("%s: %s", p.File.DisplayName(path), p.Message))
		}
	}
	for _, m := range ns.Chain {
		if m.Faked {
			return fail(&namespace.LoadError{Name: m.Name, Err: errors.New("cannot open shared object file: No such file or directory")})
		}
	}
	r.maps = plan.Maps(ns)
	for j, m := range r.maps {
		if m.TLSModID != 0 {
			m.TLSModID += uint64(j+1) * pl.modStep
			if m.HasStaticTLS {
				m.TLSOffset += uint64(j+1) * pl.tlsStep
			}
		}
	}
	r.relocs = namespace.RelocOptions{Lazy: !opts.BindNow, Verbose: true,
		OnWarning: func(m *linkmap.Map, w *reloc.Warning) {
			r.warnings = append(r.warnings, plan.Warning{Msg: w.Msg, Verbose: w.Verbose})
		},
	}
	if err := ns.RelocateAll(r.relocs); err != nil {
		return fail(err)
	}
	order := ns.Main.Initfini
	for i := len(order) - 1; i >= 0; i-- {
		m := order[i]
		if !m.Relocated || !m.Obj.Dyn.HasJmpRel || !r.relocs.BindsLazily(m) {
			continue
		}
		tab, err := m.Obj.Relas(m.Obj.Dyn.JmpRel)
		if err != nil {
			return fail(err)
		}
		for slot := range tab.Len() {
			if tab.At(slot).Type != elf.R_X86_64_JMP_SLOT {
				continue // IRELATIVE and TLSDESC: relocated at load
			}
			target, got, def, err := ns.Fixup(m, slot, false)
			r.lazy = append(r.lazy, lazySlot{m: m, slot: slot, got: got, target: target, def: def, err: err})
		}
	}
	return r, nil
}

// planBuilder turns two runs into a plan.
type planBuilder struct {
	runs [2]*planRun
	// byDelta says what moved by each amount: an object's base (or the
	// executor's pseudo object's), its TLS module id or its static TLS
	// offset.
	byDelta map[uint64]moved
	index   map[*linkmap.Map]uint32 // the first run's maps
}

type moved struct {
	kind plan.TargetKind // InObject, TLSModule or TLSOffset
	obj  int
}

const pseudoObject = -1

func newPlanBuilder(runs [2]*planRun) (*planBuilder, error) {
	a, b := runs[0], runs[1]
	if len(a.maps) != len(b.maps) || len(a.lazy) != len(b.lazy) || len(a.env.ifuncs) != len(b.env.ifuncs) || len(a.env.tlsIndex) != len(b.env.tlsIndex) {
		return nil, fmt.Errorf("two loads of the same program differ")
	}
	pb := &planBuilder{runs: runs, byDelta: map[uint64]moved{}, index: map[*linkmap.Map]uint32{}}
	add := func(d uint64, kind plan.TargetKind, j int) error {
		if _, dup := pb.byDelta[d]; dup || d == 0 {
			return fmt.Errorf("objects placed so that they cannot be told apart")
		}
		pb.byDelta[d] = moved{kind, j}
		return nil
	}
	if err := add(b.env.pseudo-a.env.pseudo, plan.InObject, pseudoObject); err != nil {
		return nil, err
	}
	for j, m := range a.maps {
		mb := b.maps[j]
		if m.Name != mb.Name {
			return nil, fmt.Errorf("two loads of the same program differ: %s, then %s", m.Name, mb.Name)
		}
		pb.index[m] = uint32(j)
		if d := mb.Base - m.Base; d != 0 {
			if err := add(d, plan.InObject, j); err != nil {
				return nil, err
			}
		}
		if m.TLSModID != 0 {
			if err := add(mb.TLSModID-m.TLSModID, plan.TLSModule, j); err != nil {
				return nil, err
			}
		}
		if m.HasStaticTLS {
			// A place from the thread pointer is Off less the offset.
			if err := add(m.TLSOffset-mb.TLSOffset, plan.TLSOffset, j); err != nil {
				return nil, err
			}
		}
	}
	return pb, nil
}

// classify names the value that is va in the first run and vb in the
// second.
func (pb *planBuilder) classify(va, vb uint64) (plan.Target, error) {
	if va == vb {
		return plan.Target{Kind: plan.Absolute, Off: va}, nil
	}
	mv, ok := pb.byDelta[vb-va]
	if !ok {
		return plan.Target{}, fmt.Errorf("a value (%#x) that no object's place explains", va)
	}
	if j := mv.obj; j != pseudoObject {
		m := pb.runs[0].maps[j]
		switch mv.kind {
		case plan.TLSModule:
			return plan.Target{Kind: plan.TLSModule, Object: uint32(j), Off: va - m.TLSModID}, nil
		case plan.TLSOffset:
			return plan.Target{Kind: plan.TLSOffset, Object: uint32(j), Off: va + m.TLSOffset}, nil
		}
		return plan.Target{Kind: plan.InObject, Object: uint32(j), Off: va - m.Base}, nil
	}
	ea, eb := pb.runs[0].env, pb.runs[1].env
	off := va - ea.pseudo
	switch {
	case off < pseudoIFunc && off%16 == 0 && off/16 < uint64(plan.TLSDescUndefWeak)+1:
		return plan.Target{Kind: plan.Executor, Off: off / 16}, nil
	case off >= pseudoIFunc && off < pseudoTLSIndex && off%16 == 0 && (off-pseudoIFunc)/16 < uint64(len(ea.ifuncs)):
		k := (off - pseudoIFunc) / 16
		t, err := pb.classify(ea.ifuncs[k], eb.ifuncs[k])
		if err != nil || t.Kind != plan.InObject {
			return plan.Target{}, fmt.Errorf("an IFUNC resolver at %#x in no object", ea.ifuncs[k])
		}
		t.Kind = plan.IFunc
		return t, nil
	case off >= pseudoTLSIndex && off < pseudoSize && off%16 == 0 && (off-pseudoTLSIndex)/16 < uint64(len(ea.tlsIndex)):
		ti := ea.tlsIndex[(off-pseudoTLSIndex)/16]
		return plan.Target{Kind: plan.TLSIndex, Object: pb.index[ti.def], Off: ti.off}, nil
	}
	return plan.Target{}, fmt.Errorf("a value (%#x) in the executor's object that names nothing", va)
}

// place finds the object of run r whose segment holds addr.
func (pb *planBuilder) place(r int, addr uint64) (uint32, uint64, bool) {
	for j, m := range pb.runs[r].maps {
		for _, s := range m.Obj.Progs {
			if s.Type == elf.PT_LOAD && addr >= m.Base+s.Vaddr && addr-(m.Base+s.Vaddr) < s.Memsz {
				return uint32(j), addr - m.Base, true
			}
		}
	}
	return 0, 0, false
}

// word is a word written, in the plan's terms, with its value in each
// run.
type word struct {
	obj  uint32
	off  uint64
	v    [2]uint64
	seen [2]bool
}

func (pb *planBuilder) build(p *plan.Plan) error {
	a := pb.runs[0]
	ns := a.a.NS
	for _, m := range a.maps {
		o := plan.Object{Path: m.Name, Kind: plan.Library, Relro: plan.Range(m.Obj.Relro), TextRel: m.Obj.Dyn.TextRel}
		var st object.FileStatus
		switch {
		case m == ns.Main:
			o.Kind, o.Path = plan.Program, p.Program
		case m.Vdso:
			o.Kind, o.Path = plan.VDSO, object.VDSOName
		case m.Rtld:
			o.Kind = plan.Rtld
		}
		if m.File != nil {
			st = m.File.FileStatus
		}
		o.ID = object.IdentityOf(st, m.Obj)
		for _, s := range m.Obj.Progs {
			if s.Type == elf.PT_LOAD {
				o.Segments = append(o.Segments, plan.Segment{Off: s.Off, Vaddr: s.Vaddr, Filesz: s.Filesz, Memsz: s.Memsz, Prot: uint8(s.Flags & 7)})
			}
		}
		o.TLS = plan.TLS{ModID: m.TLSModID, Offset: m.TLSOffset, Static: m.HasStaticTLS}
		o.Lazy = m.Relocated && m.Obj.Dyn.HasJmpRel && a.relocs.BindsLazily(m)
		p.Objects = append(p.Objects, o)
	}
	if len(p.Objects) == 0 || p.Objects[0].Kind != plan.Program {
		return fmt.Errorf("%s: the program is not the first object loaded", p.Program)
	}

	// The words written, in the first run's order.
	var words []*word
	at := map[[2]uint64]*word{}
	for r := range pb.runs {
		var err error
		pb.runs[r].a.img.Changes(func(addr uint64, old, now []byte) {
			if err != nil {
				return
			}
			j, off, ok := pb.place(r, addr)
			if !ok {
				err = fmt.Errorf("a word written at %#x, in no object", addr)
				return
			}
			if len(now) != 8 {
				err = fmt.Errorf("%s: a relocation writes part of the word at %#x, across a segment's end", pb.runs[r].maps[j].Name, off)
				return
			}
			w := at[[2]uint64{uint64(j), off}]
			if w == nil {
				w = &word{obj: j, off: off}
				// Unwritten in the other run: the file's bytes.
				w.v[0], w.v[1] = binary.LittleEndian.Uint64(old), binary.LittleEndian.Uint64(old)
				at[[2]uint64{uint64(j), off}] = w
				words = append(words, w)
			}
			w.v[r], w.seen[r] = binary.LittleEndian.Uint64(now), true
		})
		if err != nil {
			return fmt.Errorf("%s: %w", p.Program, err)
		}
	}
	var ifuncs []plan.Write
	for _, w := range words {
		t, err := pb.classify(w.v[0], w.v[1])
		if err != nil {
			return fmt.Errorf("%s: the word at %#x: %w", pb.runs[0].maps[w.obj].Name, w.off, err)
		}
		pw := plan.Write{Object: w.obj, Off: w.off, Value: t}
		if t.Kind == plan.IFunc {
			ifuncs = append(ifuncs, pw)
			continue
		}
		p.Writes = append(p.Writes, pw)
	}
	p.Writes = append(p.Writes, ifuncs...)

	for i, s := range a.lazy {
		sb := pb.runs[1].lazy[i]
		l := plan.Lazy{Object: pb.index[s.m], Slot: uint32(s.slot), Off: s.got - s.m.Base}
		switch {
		case s.err != nil:
			l.Target = plan.Target{Kind: plan.Unresolved}
			l.Err = Describe(a.env.progname, s.err)
		default:
			t, err := pb.classify(s.target, sb.target)
			if err != nil {
				return fmt.Errorf("%s: PLT slot %d: %w", s.m.Name, s.slot, err)
			}
			l.Target = t
		}
		p.Lazy = append(p.Lazy, l)
	}

	skip := func(m *linkmap.Map) bool { return m.Vdso || m.Rtld || m.Faked || m.Obj == nil }
	p.Init, p.Fini = plan.InitFini(ns, skip, func(m *linkmap.Map) uint32 { return pb.index[m] })
	p.Entry, p.Phdr, p.Phnum = ns.Main.Obj.Entry, ns.Main.Obj.Phdr, uint64(len(ns.Main.Obj.Progs))
	names := plan.ProgramNameSymbols()
	for j, m := range a.maps {
		if m.Vdso || m.Rtld {
			continue
		}
		defs := lookup.Definitions(m, names...)
		for _, name := range names {
			for _, addr := range defs[name] {
				p.Names = append(p.Names, plan.NameSlot{Object: uint32(j), Off: addr - m.Base, Kind: plan.ProgramNames[name]})
			}
		}
	}
	// Aliases (environ, __environ, _environ) are one variable.
	slices.SortFunc(p.Names, func(a, b plan.NameSlot) int {
		return cmp.Or(cmp.Compare(a.Object, b.Object), cmp.Compare(a.Off, b.Off), cmp.Compare(a.Kind, b.Kind))
	})
	p.Names = slices.Compact(p.Names)
	return nil
}
