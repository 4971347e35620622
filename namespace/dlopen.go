package namespace

import (
	"debug/elf"
	"errors"
	"fmt"
	"strings"

	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/lookup"
	"github.com/ldgo/ldgo/object"
)

// OpenMode is how dlopen was asked to load an object.
type OpenMode struct {
	Global bool // RTLD_GLOBAL: its searchlist joins the global scope
	NoLoad bool // RTLD_NOLOAD: only an object already loaded
	// DeepBind (RTLD_DEEPBIND): the new objects look in their own
	// searchlist before the global scope.
	DeepBind bool
}

// ErrNotLoaded is Dlopen's answer with NoLoad for an object not loaded:
// glibc's dlopen returns NULL then without an error.
var ErrNotLoaded = errors.New("not loaded")

// Dlopen loads name on behalf of caller (whose RPATH and RUNPATH take
// part in the search, as in glibc's dl_open_worker), with the objects it
// needs, and gives each new object its scope: the global scope, then the
// searchlist of the object opened. It returns the object and the objects
// loaded now, in the order they are to be relocated; the caller relocates
// them and runs their initializers. On failure nothing new stays in the
// namespace.
func (ns *Namespace) Dlopen(name string, caller *linkmap.Map, mode OpenMode) (*linkmap.Map, []*linkmap.Map, error) {
	if name == "" {
		return ns.Main, nil, nil
	}
	expanded, err := ns.Searcher.ExpandNeeded(name, ns.requesters[caller])
	if err != nil {
		return nil, nil, &LoadError{Name: name, Err: err}
	}
	if mode.NoLoad {
		m := ns.findLoaded(expanded)
		if m == nil {
			return nil, nil, ErrNotLoaded
		}
		ns.promote(m, mode)
		return m, nil, nil
	}
	before := len(ns.Chain)
	ndeps := len(ns.Deps)
	ns.dlopening = true
	m, _, err := ns.mapObject(caller, expanded, linkmap.Loaded, false)
	ns.dlopening = false
	if err != nil {
		return nil, nil, err
	}
	if inChain(ns.Chain[:before], m) {
		ns.promote(m, mode)
		return m, nil, nil
	}
	m.Dlopened = true
	if err := ns.mapDeps(m, nil); err != nil {
		ns.forget(before, ndeps)
		return nil, nil, err
	}
	added := append([]*linkmap.Map(nil), ns.Chain[before:]...)
	for _, a := range added {
		a.OpenedBy = m
	}
	global := ns.Main.Searchlist
	for _, a := range added {
		a.Scope = [][]*linkmap.Map{global, m.Searchlist}
		if mode.DeepBind {
			a.Scope = [][]*linkmap.Map{m.Searchlist, global}
		}
		if a.Obj.Dyn.Symbolic {
			a.Scope = append([][]*linkmap.Map{{a}}, a.Scope...)
		}
	}
	for _, a := range added {
		for _, p := range ns.checkMap(a) {
			if p.Fatal() {
				ns.forget(before, ndeps)
				return nil, nil, &LoadError{Name: p.File.DisplayName(ns.cfg.Progname), Err: errors.New(p.Message)}
			}
		}
	}
	ns.promote(m, mode)
	// Relocated in the reverse of the initialization order, dependencies
	// first, as dl_open_worker does.
	var order []*linkmap.Map
	for i := len(m.Initfini) - 1; i >= 0; i-- {
		if inChain(added, m.Initfini[i]) {
			order = append(order, m.Initfini[i])
		}
	}
	return m, order, nil
}

// forget removes what a failed dlopen added. The mappings stay: nothing
// refers to them, and unmapping is the mapper's business.
func (ns *Namespace) forget(chainLen, depsLen int) {
	for _, m := range ns.Chain[chainLen:] {
		m.Removed = true
		delete(ns.requesters, m)
		if m.File != nil {
			m.File.Close()
		}
	}
	ns.Chain = ns.Chain[:chainLen]
	ns.Deps = ns.Deps[:depsLen]
}

// promote adds m's searchlist to the global scope for RTLD_GLOBAL. Every
// scope that holds the global searchlist sees the longer one.
func (ns *Namespace) promote(m *linkmap.Map, mode OpenMode) {
	if !mode.Global {
		return
	}
	global := ns.Main.Searchlist
	for _, s := range m.Searchlist {
		if !s.Global {
			s.Global = true
			global = append(global, s)
		}
	}
	ns.setGlobal(global)
}

// setGlobal makes global the global scope: the program's searchlist, and
// every scope that held the old one.
func (ns *Namespace) setGlobal(global []*linkmap.Map) {
	old := ns.Main.Searchlist
	if len(global) == len(old) {
		return
	}
	ns.Main.Searchlist = global
	for _, x := range ns.Chain {
		for i, s := range x.Scope {
			if len(s) == len(old) && len(s) > 0 && &s[0] == &old[0] {
				x.Scope[i] = global
			}
		}
	}
}

// Dlclose drops one reference to m, as glibc's dlclose. When none is left
// it returns the objects to unload, in the order their finalizers run: m
// and what its loading brought in, and objects closed earlier but kept for
// them, unless NODELETE or still needed by the program or an object still
// open. The caller runs their finalizers, then calls Unload.
func (ns *Namespace) Dlclose(m *linkmap.Map) ([]*linkmap.Map, error) {
	if m.Removed || (m.Dlopened && m.Opencount == 0) {
		return nil, errors.New("shared object not open")
	}
	if m.Opencount > 0 {
		m.Opencount--
	}
	if m.Opencount > 0 || m.NoDelete || !m.Dlopened {
		return nil, nil
	}
	// What stays: the start-up objects, what open objects need (their
	// searchlists), what NODELETE pins, and what all of those came to
	// depend on through their bindings (glibc's l_reldeps).
	live := map[*linkmap.Map]bool{}
	var mark func(x *linkmap.Map)
	mark = func(x *linkmap.Map) {
		if live[x] {
			return
		}
		live[x] = true
		// What stays keeps what it needs, as glibc's _dl_close_worker
		// keeps a used object's l_initfini.
		for _, d := range x.Needed {
			mark(d)
		}
		for _, d := range x.Reldeps {
			mark(d)
		}
	}
	for _, x := range ns.Chain {
		open := x.Dlopened && (x.Opencount > 0 || x.NoDelete)
		switch {
		case x.Removed:
		case x.OpenedBy == nil || x.NoDelete:
			mark(x)
		case open:
			for _, y := range x.Searchlist {
				mark(y)
			}
		}
	}
	// What goes, in the order glibc's _dl_close_worker runs their
	// finalizers: the whole namespace sorted for finalization, so that
	// dependents come before what they need, also among objects closed
	// earlier and kept only for m's.
	order := make([]*linkmap.Map, 0, len(ns.Chain))
	for _, x := range ns.Chain {
		if !x.Removed && !x.Faked {
			order = append(order, x)
		}
	}
	sortMaps(order, false, true)
	var unload []*linkmap.Map
	for _, x := range order {
		if x != nil && x.OpenedBy != nil && !live[x] {
			unload = append(unload, x)
		}
	}
	return unload, nil
}

// Unload takes objects Dlclose chose out of the namespace: out of the
// chain and the global scope, and forgotten by later lookups.
func (ns *Namespace) Unload(gone []*linkmap.Map) {
	drop := map[*linkmap.Map]bool{}
	for _, x := range gone {
		x.Removed = true
		drop[x] = true
		delete(ns.requesters, x)
	}
	keep := func(list []*linkmap.Map) []*linkmap.Map {
		var out []*linkmap.Map
		for _, x := range list {
			if !drop[x] {
				out = append(out, x)
			}
		}
		return out
	}
	ns.setGlobal(keep(ns.Main.Searchlist))
	ns.Chain = keep(ns.Chain)
	ns.Linker.Forget()
}

// Dlsym is glibc's dlsym and dlvsym: name (in version, if not empty)
// looked up in the searchlist of handle, or for a nil handle in the
// caller's scope (RTLD_DEFAULT), or with next in the global scope after
// the caller (RTLD_NEXT). An unversioned name takes the default version.
// The lookup is made, and traced (LD_DEBUG=bindings), in the name of the
// handle's object, or of the caller for RTLD_DEFAULT and RTLD_NEXT, as
// glibc's is.
func (ns *Namespace) Dlsym(handle, caller *linkmap.Map, next bool, name, version string) (lookup.Result, error) {
	req := &lookup.Request{Hash: object.NewHash(name), Flags: lookup.ReturnNewest}
	if version != "" {
		// glibc's _dl_vsym asks for the version as a hidden one: only
		// a definition at that very version will do.
		req.Version = &object.Version{Name: version, Hash: object.SysVHash(version), Hidden: true}
	}
	var scope [][]*linkmap.Map
	switch {
	case next:
		if caller == nil {
			return lookup.Result{}, errors.New("RTLD_NEXT used in code not dynamically loaded")
		}
		// The searchlist of the object that started the caller's
		// loading: the program's (the global scope) for what was loaded
		// at start-up, a dlopen'ed object's own for what it brought in
		// (glibc's dlopen'ed objects have no l_loader).
		top := caller
		for top.Loader != nil && !top.Dlopened {
			top = top.Loader
		}
		if !inChain(top.Searchlist, caller) {
			return lookup.Result{}, &LoadError{Name: caller.Name, Err: &lookup.UndefinedError{Name: name, Version: version}}
		}
		scope = [][]*linkmap.Map{top.Searchlist}
		req.Skip, req.RefMap = caller, caller
	case handle == nil:
		if caller == nil {
			caller = ns.Main
		}
		scope = caller.Scope
		req.RefMap = caller
	default:
		scope = [][]*linkmap.Map{handle.Searchlist}
		req.RefMap = handle
	}
	res, err := ns.Linker.Symbol(scope, req)
	if err == nil && res.Map == nil {
		err = &lookup.UndefinedError{Name: name, Version: version}
	}
	if err != nil {
		who := ns.Main
		if handle != nil {
			who = handle
		} else if caller != nil {
			who = caller
		}
		return res, &LoadError{Name: who.DisplayName(ns.cfg.Progname), Err: err}
	}
	return res, nil
}

// DlError words err as glibc's dlerror does: "OBJECT: message", or the
// message alone when no object is named.
func DlError(err error) string {
	var le *LoadError
	if errors.As(err, &le) {
		var oe *object.Error
		if errors.As(le.Err, &oe) {
			return oe.Error()
		}
		if le.Name == "" {
			return le.Err.Error()
		}
		return fmt.Sprintf("%s: %s", le.Name, le.Err)
	}
	return strings.TrimSpace(err.Error())
}

// NeedsStaticTLS reports whether m's TLS must be reachable at a fixed
// offset from the thread pointer (initial-exec accesses).
func NeedsStaticTLS(m *linkmap.Map) bool {
	return m.Obj.TLS != nil && m.Obj.Dyn.Flags&elf.DF_STATIC_TLS != 0
}
