package rtld

import (
	"debug/elf"
	"errors"
	"fmt"

	"github.com/ldgo/ldgo/host"
	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/namespace"
)

// dlopen's mode bits (<dlfcn.h>).
const (
	rtldLazy     = 0x00001
	rtldNow      = 0x00002
	rtldNoLoad   = 0x00004
	rtldDeepBind = 0x00008
	rtldGlobal   = 0x00100
	rtldNoDelete = 0x01000
)

// dlSession answers the program's dlopen, dlsym, dlvsym and dlclose with
// the engine that loaded it. It runs on host's server thread only.
type dlSession struct {
	ns       *namespace.Namespace
	proc     *Process
	prog     string // the program as given, for messages
	progName string // argv[0], for dladdr
	bindNow  bool   // LD_BIND_NOW
	handles  handleTable
}

// handleTable maps the link maps given to the program (its dlopen
// handles) to the engine's maps and back.
type handleTable struct {
	of    map[*linkmap.Map]uint64
	byLM  map[uint64]*linkmap.Map
	count int
}

func (h *handleTable) add(m *linkmap.Map, lm uint64) {
	if h.of == nil {
		h.of, h.byLM = map[*linkmap.Map]uint64{}, map[uint64]*linkmap.Map{}
	}
	h.of[m], h.byLM[lm] = lm, m
}

func (s *dlSession) serve(req host.DLRequest) host.DLResult {
	switch req.Op {
	case host.DLOpen:
		return s.open(req)
	case host.DLSym:
		return s.sym(req)
	case host.DLClose:
		m := s.handles.byLM[req.Handle]
		if m == nil {
			return host.DLResult{Err: "shared object not open"}
		}
		gone, err := s.ns.Dlclose(m)
		if err != nil {
			return host.DLResult{Err: err.Error()}
		}
		var res host.DLResult
		for _, x := range gone {
			var fns []host.Fn
			if !noInitFini(x) {
				fns = finisOf(x)
			}
			res.Finis = append(res.Finis, s.proc.audit.withClose(x, fns)...)
			res.Owners = append(res.Owners, x.Serial)
		}
		return res
	case host.DLUnload:
		var gone []*linkmap.Map
		for _, m := range s.ns.Chain {
			for _, o := range req.Owners {
				if m.Serial == o {
					gone = append(gone, m)
				}
			}
		}
		s.proc.audit.unloading(gone, false)
		s.ns.Unload(gone)
		// Out of what dl_iterate_phdr, dladdr and the others see first;
		// unmapped once no thread still looks at them.
		describeObjects(s.ns, s.progName, &s.handles)
		host.WaitObjectReaders()
		for _, m := range gone {
			if err := s.proc.Unmap(m); err != nil {
				return host.DLResult{Err: fmt.Sprintf("%s: %v", m.Name, err)}
			}
		}
		s.proc.audit.unloading(gone, true)
		return host.DLResult{}
	}
	return host.DLResult{Err: "ldgo: unknown request"}
}

// mapAt is the object whose segments hold addr: the caller of a dl*
// function. The program stands in for an address ldgo does not know.
func (s *dlSession) mapAt(addr uint64) *linkmap.Map {
	if m := objectAt(s.ns, addr); m != nil {
		return m
	}
	return s.ns.Main
}

func (s *dlSession) open(req host.DLRequest) host.DLResult {
	if !req.HasName {
		return host.DLResult{Addr: s.handles.of[s.ns.Main]}
	}
	fail := func(msg string) host.DLResult { return host.DLResult{Err: msg} }
	if req.Mode&(rtldLazy|rtldNow) == 0 {
		return fail(req.Name + ": invalid mode for dlopen(): Invalid argument")
	}
	mode := namespace.OpenMode{Global: req.Mode&rtldGlobal != 0, NoLoad: req.Mode&rtldNoLoad != 0, DeepBind: req.Mode&rtldDeepBind != 0}
	m, added, err := s.ns.Dlopen(req.Name, s.mapAt(req.Caller), mode)
	if errors.Is(err, namespace.ErrNotLoaded) {
		return host.DLResult{}
	}
	if err != nil {
		return fail(namespace.DlError(err))
	}
	if len(added) > 0 {
		s.proc.audit.consistentNow()
	}
	err = s.load(added, req.Mode&rtldNow != 0 || s.bindNow)
	if err != nil {
		s.proc.trace.failed(err)
		for _, a := range added {
			a.Removed = true
		}
		return fail(namespace.DlError(err))
	}
	m.Opencount++
	if req.Mode&rtldNoDelete != 0 {
		m.NoDelete = true
	}
	res := host.DLResult{Addr: s.handles.of[m]}
	// Initializers dependencies first; finalizers the other way.
	for i := len(m.Initfini) - 1; i >= 0; i-- {
		if a := m.Initfini[i]; !a.InitDone && !noInitFini(a) {
			res.Inits = append(res.Inits, initsOf(a)...)
			a.InitDone = true
		}
	}
	for _, a := range m.Initfini {
		if inList(added, a) {
			var fns []host.Fn
			if !noInitFini(a) {
				fns = finisOf(a)
			}
			res.Finis = append(res.Finis, s.proc.audit.withClose(a, fns)...)
		}
	}
	return res
}

// load gives the objects dlopen mapped their TLS, relocates them, and
// makes them known to dl_iterate_phdr and the other dl* functions.
func (s *dlSession) load(added []*linkmap.Map, now bool) error {
	var static []host.TLSBlock
	var staticOf []*linkmap.Map
	for _, a := range added {
		t := a.Obj.TLS
		if t == nil {
			continue
		}
		// A late library gets blocks allocated per thread at first use,
		// unless its initial-exec accesses need a static block: then it
		// takes room in glibc's surplus, in every thread.
		var tpoff uint64
		if namespace.NeedsStaticTLS(a) {
			off, err := s.proc.tls.allocate(a)
			if err != nil {
				return err
			}
			static, staticOf = append(static, tlsBlock(a, off)), append(staticOf, a)
			tpoff = off
		}
		registerTLS(a, tpoff)
	}
	for _, a := range added {
		if wantsExecStack(a) {
			if err := host.MakeStacksExecutable(); err != nil {
				return &namespace.LoadError{Name: a.Name, Err: fmt.Errorf("cannot enable executable stack as shared object requires: %v", err)}
			}
		}
	}
	for _, a := range added {
		if err := s.ns.Relocate(a, namespace.RelocOptions{Lazy: !now}); err != nil {
			return err
		}
	}
	// The threads get the blocks' images as relocation left them.
	for i, b := range static {
		if host.AddStaticTLS(b) != nil {
			return &namespace.LoadError{Name: staticOf[i].Name, Err: errors.New("cannot allocate memory in static TLS block")}
		}
	}
	if err := s.proc.prepareLazy(s.ns, s.prog, added); err != nil {
		return err
	}
	if err := s.proc.countCalls(s.ns, s.prog, added); err != nil {
		return err
	}
	s.proc.audit.lazySlots(added)
	s.proc.audit.giveHandles(&s.handles)
	describeObjects(s.ns, s.progName, &s.handles)
	return nil
}

func (s *dlSession) sym(req host.DLRequest) host.DLResult {
	var handle *linkmap.Map
	if req.Handle != 0 {
		if handle = s.handles.byLM[req.Handle]; handle == nil || handle.Removed {
			return host.DLResult{Err: fmt.Sprintf("ldgo: dlsym: %#x is not a handle dlopen returned", req.Handle)}
		}
	}
	res, err := s.ns.Dlsym(handle, s.mapAt(req.Caller), req.Next, req.Name, req.Version)
	if err != nil {
		s.proc.trace.failed(err)
		return host.DLResult{Err: namespace.DlError(err)}
	}
	if res.Sym.Type() == elf.STT_TLS {
		return host.DLResult{TLSModID: res.Map.TLSModID, TLSOffset: res.Sym.Value}
	}
	addr := res.Map.Base + res.Sym.Value
	if res.Sym.Type() == elf.STT_GNU_IFUNC {
		if addr, err = s.proc.CallIFunc(addr); err != nil {
			return host.DLResult{Err: err.Error()}
		}
	}
	if ours, ok := s.proc.subst.get(addr); ok {
		addr = ours
	}
	addr = s.proc.audit.dlsym(s.mapAt(req.Caller), res, addr)
	return host.DLResult{Addr: addr}
}

func inList(list []*linkmap.Map, m *linkmap.Map) bool {
	for _, x := range list {
		if x == m {
			return true
		}
	}
	return false
}
