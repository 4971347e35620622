package rtld

import (
	"errors"
	"fmt"
	"os"

	"github.com/ldgo/ldgo/host"
	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/lookup"
	"github.com/ldgo/ldgo/namespace"
	"github.com/ldgo/ldgo/object"
	"github.com/ldgo/ldgo/search"
)

// LD_AUDIT, as glibc 2.36 runs it (rtld-audit(7), elf/rtld.c,
// elf/dl-audit.c), with what host mode changes:
//
//   - Each audit library is loaded into a namespace of its own, with its
//     dependencies, as glibc's dlmopen(LM_ID_NEWLM) loads it, so the
//     program's lookups never see it. But there is one libc in the
//     process, the one ldgo adopted: the audit library shares it with the
//     program (stdio buffers, malloc, errno, environ), where glibc loads a
//     second copy for it.
//   - Its objects are not in what dl_iterate_phdr reports.
//   - The bindings among the objects the system's ld.so loaded (libc and
//     ld.so) were made before ldgo started and are not reported.
//   - la_pltenter gets lr_vector with the XMM part only, and changes to
//     the upper halves of vector registers are not passed on; la_pltexit
//     gets lrv_vector0 and 1 likewise.

// The flags of la_activity (<link.h>).
const (
	laActConsistent = 0
	laActAdd        = 1
	laActDelete     = 2
)

// lavCurrent is the audit interface version glibc 2.36 offers
// (LAV_CURRENT).
const lavCurrent = 2

// auditState is the run's audit libraries and what they know of the
// program's objects.
type auditState struct {
	proc *Process
	prog string
	cfg  namespace.Config // the program's, for the audit libraries' own
	// names are the libraries asked for, in order; argv and env the
	// program's, for their initializers.
	names     []string
	argv, env []string
	ns        *namespace.Namespace // the program's
	objs      map[*linkmap.Map]host.AuditObj
	lms       map[*linkmap.Map]uint64
	// profile is set when a library has la_pltenter or la_pltexit:
	// every PLT call then goes through host's audit trampoline; symbind
	// when one has la_symbind64.
	profile, symbind bool
	// consistent is set once the namespace is consistent: the next
	// object entering it is announced with LA_ACT_ADD.
	consistent bool
	// loading is set while an audit library is loaded: its searches
	// are reported only through report, to those loaded before.
	loading bool
	report  *loadReport
	finis   []host.Fn // the audit libraries', run after the program's
}

// newAudit prepares the audit of a run over cfg, which it makes call it.
func newAudit(names []string, opts *Options, proc *Process, cfg *namespace.Config) *auditState {
	a := &auditState{proc: proc, prog: opts.Argv[0], names: names, argv: opts.Argv, env: opts.Env,
		objs: map[*linkmap.Map]host.AuditObj{}, lms: map[*linkmap.Map]uint64{}}
	a.cfg = *cfg
	cfg.Audit = a
	cfg.Search.ObjSearch = a.objSearch
	proc.audit = a
	return a
}

// on reports whether an audit library is in use.
func (a *auditState) on() bool { return a != nil && host.AuditCount() > 0 }

// Begin implements namespace.Audit: the libraries are loaded, in order,
// and told of the program and the dynamic linker (load_audit_modules).
func (a *auditState) Begin(ns *namespace.Namespace) error {
	a.ns = ns
	host.SetArgs(a.argv, a.env)
	for i, name := range a.names {
		if i >= host.AuditMax {
			return &Error{Msg: "Fatal glibc error: Too many audit modules requested"}
		}
		a.loading = true
		a.load(i, name, ns)
		a.loading = false
	}
	if !a.on() {
		return nil
	}
	a.Opened(ns, ns.Main)
	if ns.Rtld != nil {
		a.Opened(ns, ns.Rtld)
	}
	host.AuditActivity(laActAdd)
	return nil
}

// load loads one audit library and, if it answers la_version, makes it
// one of the run's; otherwise it says why not, in glibc's words.
func (a *auditState) load(i int, name string, program *namespace.Namespace) {
	ignored := func(why string) {
		os.Stderr.WriteString(fmt.Sprintf("ERROR: ld.so: object '%s' cannot be loaded as audit interface: %s; ignored.\n", name, why))
	}
	// The libraries loaded before this one see its loading, as glibc
	// shows it to them: in namespace i+1.
	var report namespace.Audit
	if a.on() {
		a.report = &loadReport{lmid: int64(i + 1), objs: map[*search.Requester]host.AuditObj{}}
		report = a.report
	}
	mod, err := namespace.OpenAudit(name, a.cfg, a.proc, program, uint64(i+1)<<32, report)
	if err == nil && a.report != nil {
		host.AuditActivityOf(a.report.head, laActConsistent)
	}
	a.report = nil
	if err == nil {
		err = a.start(mod)
	}
	if err != nil {
		ignored(auditCause(err))
		return
	}
	finis := a.finisOf(mod)
	res, err := mod.Dlsym(mod.Main, nil, false, "la_version", "")
	if err != nil {
		host.RunFinis(finis)
		ignored(auditCause(err))
		return
	}
	v := host.AuditVersion(res.Map.Base+res.Sym.Value, lavCurrent)
	switch {
	case v == 0:
		host.RunFinis(finis)
		return
	case v > lavCurrent:
		host.DebugLine(fmt.Sprintf("ERROR: audit interface '%s' requires version %d (maximum supported version %d); ignored.\n", name, v, lavCurrent))
		host.RunFinis(finis)
		return
	}
	var fns host.AuditFuncs
	for k, fn := range host.AuditNames {
		if res, err := mod.Dlsym(mod.Main, nil, false, fn, ""); err == nil && res.Map != nil {
			fns[k] = res.Map.Base + res.Sym.Value
		}
	}
	a.symbind = a.symbind || fns[4] != 0
	a.profile = a.profile || fns[5] != 0 || fns[6] != 0
	host.AuditAdd(fns)
	a.finis = append(a.finis, finis...)
}

// auditCause is err as glibc words the cause in its message.
func auditCause(err error) string {
	var nf *search.NotFoundError
	var oe *object.Error
	var le *namespace.LoadError
	switch {
	case errors.As(err, &nf):
		return nf.Cause
	case errors.As(err, &oe):
		return oe.Cause
	case errors.As(err, &le):
		return le.Err.Error()
	}
	return err.Error()
}

// start gives an audit library's objects their TLS, relocates them (now:
// their calls are ldgo's to make, in C, before and after the program
// starts) and runs their initializers.
func (a *auditState) start(mod *namespace.Namespace) error {
	for _, m := range mod.Chain {
		if m.Adopted || m.Rtld || m.Obj.TLS == nil {
			continue
		}
		if namespace.NeedsStaticTLS(m) {
			return &namespace.LoadError{Name: m.Name, Err: errors.New("cannot allocate memory in static TLS block")}
		}
		registerTLS(m, 0)
	}
	if err := mod.RelocateAll(namespace.RelocOptions{}); err != nil {
		return err
	}
	var inits []host.Fn
	order := mod.Main.Initfini
	for i := len(order) - 1; i >= 0; i-- {
		if !noInitFini(order[i]) {
			inits = append(inits, initsOf(order[i])...)
		}
	}
	host.RunInits(inits)
	return nil
}

// finisOf lists an audit library's finalizers, in order.
func (a *auditState) finisOf(mod *namespace.Namespace) []host.Fn {
	var fns []host.Fn
	for _, m := range mod.Main.Initfini {
		if !noInitFini(m) {
			fns = append(fns, finisOf(m)...)
		}
	}
	return fns
}

// Opened implements namespace.Audit: la_objopen, after la_activity's
// LA_ACT_ADD for the first object of a dlopen.
func (a *auditState) Opened(ns *namespace.Namespace, m *linkmap.Map) {
	if !a.on() {
		return
	}
	if a.consistent {
		a.consistent = false
		host.AuditActivity(laActAdd)
	}
	var dynamic uint64
	if m.Obj.Dynamic.Size > 0 {
		dynamic = m.Base + m.Obj.Dynamic.Addr
	}
	lm := host.AuditLinkMap(m.Name, m.Base, dynamic, m.Adopted || m.Vdso)
	a.lms[m] = lm
	a.objs[m] = host.AuditObjOpen(lm, 0)
}

// objSearch is la_objsearch for the library search (search.Config's
// ObjSearch), on behalf of the object req stands for.
func (a *auditState) objSearch(name string, flag search.SearchFlag, req *search.Requester) (string, bool) {
	if a.loading && a.report != nil {
		if o, ok := a.report.objs[req]; ok {
			return host.AuditObjSearch(name, o, uint32(flag))
		}
	}
	if !a.on() || a.ns == nil || a.loading {
		return name, true
	}
	for _, m := range a.ns.Chain {
		if a.ns.Requester(m) == req {
			if o := a.objs[m]; o.Valid() {
				return host.AuditObjSearch(name, o, uint32(flag))
			}
			break
		}
	}
	return name, true
}

// symbolOf is the address of def's symbol index in memory, and of its
// name.
func symbolOf(def *linkmap.Map, index uint32) (sym, name uint64) {
	symtab, _, strtab, _ := def.Obj.DynamicSymbols()
	sym = def.Base + symtab + uint64(index)*24
	return sym, def.Base + strtab + uint64(*(*uint32)(ptr(sym)))
}

// BoundNow implements namespace.Audit: la_symbind for a JUMP_SLOT bound
// before the program runs; what it returns goes in the GOT.
func (a *auditState) BoundNow(m, def *linkmap.Map, index uint32, addr uint64) {
	ref, d := a.objs[m], a.objs[def]
	if !a.on() || !a.symbind || !ref.Valid() || !d.Valid() {
		return
	}
	value := *(*uint64)(ptr(addr))
	sym, name := symbolOf(def, index)
	if v := host.AuditSymbindNow(ref, d, sym, index, name, value); v != value {
		*(*uint64)(ptr(addr)) = v
	}
}

// lazySlots tells host what each lazily bound PLT slot of maps binds, for
// la_symbind at its first call and la_pltenter and la_pltexit at every
// call.
func (a *auditState) lazySlots(maps []*linkmap.Map) {
	if !a.on() || !a.symbind && !a.profile {
		return
	}
	for _, m := range maps {
		l, ok := a.proc.lazy[m]
		if !ok {
			continue
		}
		l.AuditSlots()
		ref := a.objs[m]
		if !ref.Valid() {
			continue
		}
		for i := 0; i < l.Len(); i++ {
			if l.Failed(i) {
				continue
			}
			def, index, ok := a.ns.SlotDefinition(m, i)
			if !ok || !a.objs[def].Valid() {
				continue
			}
			sym, name := symbolOf(def, index)
			l.SetAuditSlot(i, ref, a.objs[def], sym, index, name)
		}
	}
}

// trampoline is GOT[2] for lazily bound objects.
func (a *auditState) trampoline() uint64 {
	if a.on() && a.profile {
		return host.AuditTrampoline()
	}
	return host.Trampoline()
}

// consistentNow is la_activity(LA_ACT_CONSISTENT): the start-up objects
// are loaded and relocated, or a dlopen's loaded.
func (a *auditState) consistentNow() {
	if a.on() {
		host.AuditActivity(laActConsistent)
		a.consistent = true
	}
}

// withClose is fns, m's finalizers, followed by la_objclose for m.
func (a *auditState) withClose(m *linkmap.Map, fns []host.Fn) []host.Fn {
	if !a.on() {
		return fns
	}
	if o := a.objs[m]; o.Valid() && !m.Vdso {
		fns = append(fns, host.Fn{Mark: host.FnAuditClose, Addr: o.Addr(), Owner: m.Serial})
	}
	return fns
}

// exitFinis makes what runs at exit glibc's _dl_fini with audit
// libraries: la_activity(LA_ACT_DELETE), each object's finalizers and
// la_objclose, la_activity(LA_ACT_CONSISTENT), then the audit libraries'
// own finalizers.
func (a *auditState) exitFinis(start *host.Start, ns *namespace.Namespace) {
	if !a.on() {
		start.Finis = append(start.Finis, a.finisIfAny()...)
		return
	}
	fns := []host.Fn{{Mark: host.FnAuditActivity, Addr: laActDelete}}
	for _, m := range ns.Main.Initfini {
		var own []host.Fn
		if !noInitFini(m) {
			own = finisOf(m)
		}
		fns = append(fns, a.withClose(m, own)...)
	}
	fns = append(fns, host.Fn{Mark: host.FnAuditActivity, Addr: laActConsistent})
	start.Finis = append(fns, a.finis...)
}

func (a *auditState) finisIfAny() []host.Fn {
	if a == nil {
		return nil
	}
	return a.finis
}

// giveHandles makes the link maps la_objopen was given the program's
// handles of the objects ldgo loaded.
func (a *auditState) giveHandles(h *handleTable) {
	if a == nil {
		return
	}
	for m, lm := range a.lms {
		if !m.Adopted && !m.Vdso {
			h.add(m, lm)
		}
	}
}

// dlsym is la_symbind with LA_SYMB_DLSYM for what dlsym found for
// caller.
func (a *auditState) dlsym(caller *linkmap.Map, res lookup.Result, addr uint64) uint64 {
	if !a.on() || res.Map == nil {
		return addr
	}
	ref, def := a.objs[caller], a.objs[res.Map]
	if !ref.Valid() || !def.Valid() {
		return addr
	}
	sym, name := symbolOf(res.Map, res.Index)
	return host.AuditSymbindDlsym(ref, def, sym, res.Index, name, addr)
}

// unloading brackets the unloading of objects dlclose chose:
// la_activity(LA_ACT_DELETE) before, LA_ACT_CONSISTENT after.
func (a *auditState) unloading(gone []*linkmap.Map, done bool) {
	if !a.on() || len(gone) == 0 {
		return
	}
	if done {
		host.AuditActivity(laActConsistent)
		return
	}
	host.AuditActivity(laActDelete)
}

// loadReport shows the loading of an audit library to those loaded
// before it, as glibc does: la_objopen for each of its objects but the
// dynamic linker, la_objsearch for their searches, la_activity at the
// end; its bindings are not shown.
type loadReport struct {
	lmid int64
	objs map[*search.Requester]host.AuditObj
	head host.AuditObj
}

func (r *loadReport) Begin(*namespace.Namespace) error { return nil }

func (r *loadReport) Opened(ns *namespace.Namespace, m *linkmap.Map) {
	if m.Rtld {
		return
	}
	var dynamic uint64
	if m.Obj.Dynamic.Size > 0 {
		dynamic = m.Base + m.Obj.Dynamic.Addr
	}
	o := host.AuditObjOpen(host.AuditLinkMap(m.Name, m.Base, dynamic, m.Adopted), r.lmid)
	if !r.head.Valid() {
		r.head = o
	}
	r.objs[ns.Requester(m)] = o
}

func (r *loadReport) BoundNow(m, def *linkmap.Map, index uint32, addr uint64) {}
