// Package rtld is the run-time part of ldgo: it loads a program into this
// process with the same engine the analysis commands use (package
// namespace over a process image instead of a file image), adopts the
// glibc objects the system's ld.so already loaded (host mode), relocates,
// prepares lazy binding, initializers and finalizers, and hands the
// process to the program.
package rtld

import (
	"debug/elf"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ldgo/ldgo/analyze"
	"github.com/ldgo/ldgo/bindcache"
	"github.com/ldgo/ldgo/host"
	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/lookup"
	"github.com/ldgo/ldgo/namespace"
	"github.com/ldgo/ldgo/object"
	"github.com/ldgo/ldgo/plan"
	"github.com/ldgo/ldgo/reloc"
	"github.com/ldgo/ldgo/search"
)

// Options say what to run and how.
type Options struct {
	// Path is the program's file.
	Path string
	// Argv is the program's argument vector (argv[0] included); Env its
	// environment.
	Argv []string
	Env  []string

	LibraryPath     string
	LibraryPathWhat string
	Preload         []string
	PreloadWhat     string
	InhibitCache    bool
	// BindNow binds every PLT slot before the program starts
	// (LD_BIND_NOW); BindNot never writes a GOT entry at a first call
	// (LD_BIND_NOT).
	BindNow bool
	BindNot bool
	// Warn is LD_WARN: the warnings glibc gives only then (a copy
	// relocation's definition smaller than the program's symbol).
	Warn bool
	// TraceLazy prints a line at each PLT slot's first call
	// (LDGO_DEBUG=lazy).
	TraceLazy bool
	// Debug is what LD_DEBUG asks for.
	Debug Debug
	// BindCacheDir, if not empty, is where the bind cache is kept: a
	// run over the same objects as an earlier one binds without searching.
	BindCacheDir string
	// Tunables is GLIBC_TUNABLES in the program's environment, which
	// sizes glibc's static TLS.
	Tunables string
	// Audit are the audit libraries to load (LD_AUDIT, --audit).
	Audit []string
	// Calls, if set, counts the calls through every PLT slot and prints
	// them at exit (ldgo run --calls).
	Calls *CallsOptions
	// Plan is LDGO_PLAN: "exec" relocates by the program's launch plan,
	// made now from the files, carried out by the executor
	// (relocateByPlan); anything else by the engine. PlanDir is where
	// plans are kept ("": none kept).
	Plan    string
	PlanDir string
	// TLSModule is the path the system's ld.so preloaded the static TLS
	// module from, when ldgo was started again with one
	// (StaticTLSNeeded), or "".
	TLSModule string
}

// Debug selects glibc's LD_DEBUG categories that ldgo run prints.
type Debug struct {
	Bindings, Statistics, Libs, Versions, Reloc, Symbols, Files, Scopes bool
	// Output is LD_DEBUG_OUTPUT: the output goes to Output.PID instead
	// of standard error.
	Output string
}

// Error is a failure to start the program, worded as glibc's ld.so words
// it.
type Error struct {
	Msg string
	// Status is the exit status ld.so gives for the failure: 0 stands
	// for its usual 127 (a fatal error); a missing version is 1.
	Status int
}

func (e *Error) Error() string { return e.Msg }

// ExitStatus is the status ld.so exits with for err: 127 unless the error
// says otherwise.
func ExitStatus(err error) int {
	var e *Error
	if errors.As(err, &e) && e.Status != 0 {
		return e.Status
	}
	return 127
}

// ErrStatic is returned for a program without a dynamic section: there is
// nothing to link, it should be executed directly.
var ErrStatic = errors.New("statically linked")

// Run loads and starts the program. It does not return when the program
// starts.
func Run(opts Options) error {
	prog := opts.Argv[0]
	fail := func(err error) error {
		var e *Error
		if errors.As(err, &e) {
			return err
		}
		return &Error{Msg: analyze.Describe(prog, err)}
	}

	// The thread that will serve the program's dl* calls starts beside
	// the loading.
	host.StartDLServer()
	// The engine allocates as it loads; collecting little and seldom
	// pays, and the collector is off once the program runs.
	debug.SetGCPercent(400)
	debugFD := 2
	if opts.Debug.Output != "" {
		fd, err := unix.Open(fmt.Sprintf("%s.%d", opts.Debug.Output, os.Getpid()), unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o666)
		if err == nil {
			debugFD = fd
		}
	}
	host.SetDebug(host.Debug{FD: debugFD})
	loadStart := host.Cycles()

	// Until the static TLS is known to fit, this start may be followed
	// by another, which then says what there is to say.
	out := &heldOutput{held: true}
	proc := NewProcess()
	proc.traceLazy = opts.TraceLazy
	d := &opts.Debug
	proc.trace = lookupTrace{prog: prog, symbols: d.Symbols, bindings: d.Bindings,
		failures: d.Libs || d.Reloc || d.Files || d.Symbols || d.Bindings || d.Versions || d.Scopes}
	cfg := namespace.Config{
		Search: search.Config{
			LibraryPath:     opts.LibraryPath,
			LibraryPathWhat: opts.LibraryPathWhat,
			InhibitCache:    opts.InhibitCache,
			// Objects are read through their mapped segments.
			Open: object.OpenHeaders,
			Caps: hostCaps(),
		},
		Preload:     opts.Preload,
		PreloadWhat: opts.PreloadWhat,
		PreloadFile: "/etc/ld.so.preload",
		Progname:    prog,
		Warn:        func(msg string) { out.do(func() { os.Stderr.WriteString(msg) }) },
		// Relative relocations go on a second core, ahead of the rest.
		Early: true,
	}
	debugLine := func(line string) { out.do(func() { host.DebugLine(line + "\n") }) }
	if opts.Debug.Libs {
		cfg.Search.Debug = debugLine
	}
	if opts.Debug.Versions {
		cfg.DebugVersions = debugLine
	}
	if opts.Debug.Reloc {
		cfg.DebugReloc = debugLine
	}
	if opts.Debug.Files {
		cfg.DebugFiles = debugLine
	}
	if cfg.Search.LibraryPathWhat == "" {
		cfg.Search.LibraryPathWhat = "LD_LIBRARY_PATH"
	}
	tlsArea, tlsAreaErr := host.StaticTLSArea(opts.TLSModule)
	hostMaps, err := adoptHost(&cfg, proc, opts.TLSModule)
	if err != nil {
		return fail(err)
	}
	var audit *auditState
	if len(opts.Audit) > 0 {
		audit = newAudit(opts.Audit, &opts, proc, &cfg)
		// An audit library sees every binding made.
		opts.BindCacheDir = ""
	}

	// A static program has nothing to link: the caller executes it.
	hdr, err := object.ReadProgramInfo(opts.Path)
	if err != nil {
		return fail(&namespace.LoadError{Name: opts.Path, Err: err})
	}
	if !hdr.Dynamic {
		return ErrStatic
	}
	if hdr.Interp != "" && cfg.Rtld != nil && !sameFile(hdr.Interp, cfg.Rtld.Name) {
		return &Error{Msg: fmt.Sprintf("%s: ldgo run: the program's interpreter %s is not the system's %s; only programs for the glibc ldgo runs with can be hosted", prog, hdr.Interp, cfg.Rtld.Name)}
	}
	ns, err := namespace.Open(opts.Path, cfg, proc)
	if err != nil {
		out.release()
		return fail(err)
	}
	main := ns.Main
	surplus := namespace.StaticTLSSurplus(opts.Tunables)
	if err := placeTLS(ns, proc, prog, tlsArea, tlsAreaErr, surplus); err != nil {
		var need *StaticTLSNeeded
		if !errors.As(err, &need) {
			out.release()
		}
		return err
	}
	out.release()
	if opts.Debug.Scopes {
		ns.DebugScopes(debugLine)
	}
	if m := execStackWanted(ns); m != nil {
		if err := host.MakeStacksExecutable(); err != nil {
			return &Error{Msg: fmt.Sprintf("%s: error while loading shared libraries: %s: cannot enable executable stack as shared object requires: %v", prog, m.DisplayName(prog), err)}
		}
	}

	for _, p := range ns.CheckVersions() {
		if p.Fatal() {
			// ld.so checks versions apart from loading and exits
			// with 1 (rtld.c, version_check_doit).
			return &Error{Msg: fmt.Sprintf("%s: %s: %s", prog, p.File.DisplayName(prog), p.Message), Status: 1}
		}
	}

	// Functions the program reaches through ldgo.
	if err := proc.substitute(hostMaps, ns); err != nil {
		return fail(err)
	}
	if opts.Calls != nil {
		proc.startCounting(opts.Calls, prog, hostMaps)
	}

	loadEnd := host.Cycles()
	planned, err := proc.relocateByPlan(ns, &opts, prog, audit != nil, debugLine)
	if err != nil {
		return fail(err)
	}
	var (
		cacheKey   *bindcache.Key
		cacheEntry *bindcache.Entry
		stats      namespace.Stats
	)
	if planned {
		// Traced from here on: the program's dlopen and dlsym.
		proc.trace.attach(&ns.Linker)
		if err := publishStaticTLS(proc, prog); err != nil {
			return err
		}
	} else {
		cacheKey, cacheEntry = useBindCache(ns, opts)
		// Traced from here on, the program's dlopen and dlsym included.
		proc.trace.attach(&ns.Linker)
		relocOpts := namespace.RelocOptions{
			Lazy:    !opts.BindNow,
			Profile: audit.on() && audit.profile,
			OnWarning: func(m *linkmap.Map, w *reloc.Warning) {
				os.Stderr.WriteString(w.Msg + "\n")
			},
			Verbose: opts.Warn,
		}
		ns.LookAhead(relocOpts)
		proc.relroLater = true
		relocErr := ns.RelocateAll(relocOpts)
		if relocErr != nil {
			proc.trace.failed(relocErr)
			return fail(relocErr)
		}
		if err := publishStaticTLS(proc, prog); err != nil {
			return err
		}
		if err := rebindAdopted(ns, proc); err != nil {
			return fail(err)
		}
		stats = ns.Stats()
		ns.FinishLookAhead()
		err = proc.prepareLazy(ns, prog, proc.order)
		ns.EndLookAhead()
		if err != nil {
			return fail(err)
		}
		audit.lazySlots(proc.order)
	}
	// RELRO is protected once the second goroutine is done: each
	// mprotect while another thread runs costs a TLB shootdown.
	if err := proc.ProtectRelro(); err != nil {
		return fail(err)
	}
	if err := proc.countCalls(ns, prog, ns.Chain); err != nil {
		return fail(err)
	}
	if cacheKey != nil && cacheEntry == nil {
		bindcache.Store(opts.BindCacheDir, cacheKey, ns.Linker.Record)
	}
	fromCache := ns.Linker.Replayed
	if cacheEntry != nil {
		cacheEntry.Close()
	} else if !planned {
		for _, m := range ns.Chain {
			proc.giveBackReadOnly(m)
		}
	}
	ns.Linker.Recording, ns.Linker.Record, ns.Linker.Replay, ns.Linker.Maps = false, nil, nil, nil
	relocEnd := host.Cycles()
	host.SetLazyFlags(opts.TraceLazy, opts.BindNot)
	dl := &dlSession{ns: ns, proc: proc, prog: prog, progName: opts.Argv[0], bindNow: opts.BindNow}
	audit.giveHandles(&dl.handles)
	describeObjects(ns, opts.Argv[0], &dl.handles)
	host.ServeDL(dl.serve)

	start := &host.Start{
		Entry:  main.Base + main.Obj.Entry,
		Argv:   opts.Argv,
		Env:    opts.Env,
		ExecFn: opts.Path,
	}
	if err := setAuxv(start, main); err != nil {
		return fail(err)
	}
	initFini(start, ns)
	if audit != nil {
		audit.exitFinis(start, ns)
	}
	if err := setProgramNames(ns, start); err != nil {
		return fail(err)
	}
	for _, m := range hostMaps {
		if !m.Adopted || m.Vdso {
			continue
		}
		for _, s := range m.Obj.Progs {
			if s.Type == elf.PT_LOAD && s.Flags&elf.PF_X != 0 {
				start.NoFreeze = append(start.NoFreeze, [2]uint64{m.Base + s.Vaddr, m.Base + s.Vaddr + s.Memsz})
			}
		}
	}
	// The start-up statistics are printed as the program is entered,
	// once ldgo's own threads are parked.
	host.SetDebug(host.Debug{FD: debugFD, Statistics: opts.Debug.Statistics,
		Libs: opts.Debug.Libs || opts.Debug.Reloc || opts.Debug.Files, Lookups: stats.Lookups, CacheHits: stats.CacheHits,
		Relocation: relocEnd - loadEnd, Load: loadEnd - loadStart, OwnStart: loadStart - host.StartCycles(),
		Relative: stats.Relative, FromBindCache: fromCache, LookedAhead: ns.LookedAhead()})
	audit.consistentNow()
	if err := start.Enter(); err != nil {
		return &Error{Msg: fmt.Sprintf("%s: ldgo run: cannot hand the process to the program: %v", prog, err)}
	}
	return nil
}

// heldOutput is what the start-up prints, held back while it may be
// followed by another start.
type heldOutput struct {
	held bool
	out  []func()
}

func (h *heldOutput) do(print func()) {
	if h.held {
		h.out = append(h.out, print)
		return
	}
	print()
}

// release prints what was held, and from then on prints at once.
func (h *heldOutput) release() {
	h.held = false
	for _, print := range h.out {
		print()
	}
	h.out = nil
}

// hostCaps are the search's hardware capabilities, from the CPUID answers
// glibc's ld.so read for this process (search.HostCaps would execute the
// instruction again, a trap each in a virtual machine).
func hostCaps() *search.Caps {
	caps := search.CapsFrom(host.CPUID)
	return &caps
}

// execStackWanted returns an object that asks for an executable stack.
func execStackWanted(ns *namespace.Namespace) *linkmap.Map {
	for _, m := range ns.Chain {
		if !m.Adopted && !m.Vdso && !m.Faked && m.Obj != nil && wantsExecStack(m) {
			return m
		}
	}
	return nil
}

// wantsExecStack reports whether m asks for an executable stack: a
// PT_GNU_STACK with PF_X, or none at all (x86-64's default is an
// executable stack), as glibc decides.
func wantsExecStack(m *linkmap.Map) bool {
	return !m.Obj.HasStack || m.Obj.StackFlags&elf.PF_X != 0
}

// useBindCache looks for the bindings of an earlier run over the same
// objects: found, the engine replays them instead of searching; not found,
// it records this run's for the next. It returns the entry's key (nil when
// the cache is off or cannot be used) and the entry replayed, if any.
func useBindCache(ns *namespace.Namespace, opts Options) (*bindcache.Key, *bindcache.Entry) {
	if opts.BindCacheDir == "" {
		return nil, nil
	}
	k := &bindcache.Key{Program: opts.Path}
	var maps []*linkmap.Map
	for _, m := range ns.Chain {
		if m.Faked || m.Obj == nil {
			continue
		}
		if m.Serial > math.MaxUint32 {
			// The record names objects by 32-bit serials.
			return nil, nil
		}
		o := bindcache.Object{Serial: m.Serial, Path: m.Name}
		if m.Vdso {
			o.Path = object.VDSOName
		}
		id, err := identityOf(m)
		if err != nil {
			return nil, nil
		}
		o.ID = id
		k.Objects = append(k.Objects, o)
		for uint64(len(maps)) <= m.Serial {
			maps = append(maps, nil)
		}
		maps[m.Serial] = m
	}
	search, err := bindcache.Settings(opts.LibraryPath, opts.Preload, opts.InhibitCache, opts.BindNow)
	if err != nil {
		return nil, nil
	}
	k.Search = search
	if e, err := bindcache.Load(opts.BindCacheDir, k); err == nil {
		ns.Linker.Replay, ns.Linker.Maps = e.Bindings(), maps
		return k, e
	}
	ns.Linker.Recording = true
	return k, nil
}

// identityOf is the identity of a loaded object, as anything kept from
// a run records it (the bind cache, a launch plan).
func identityOf(m *linkmap.Map) (object.Identity, error) {
	var st object.FileStatus
	switch {
	case m.File != nil:
		st = m.File.FileStatus
	case m.Vdso:
	default:
		// Loaded by the system's ld.so: the file the path names now.
		// Should it not be the one in memory any more, the build-id,
		// read from memory, tells them apart.
		var err error
		if st, err = object.StatFile(m.Name); err != nil {
			return object.Identity{}, err
		}
	}
	return object.IdentityOf(st, m.Obj), nil
}

func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// adoptHost makes maps of the objects the system's ld.so loaded into this
// process: the dynamic linker, the vDSO, and the others (libc.so.6) as
// objects a search may find and adopt. tlsModule names the static TLS
// module, ldgo's own.
func adoptHost(cfg *namespace.Config, proc *Process, tlsModule string) ([]*linkmap.Map, error) {
	tp := uint64(host.ThreadPointer())
	var maps []*linkmap.Map
	for _, o := range host.Objects() {
		if o.Name == "" || o.Name == tlsModule {
			continue // ldgo itself
		}
		vdso := o.Name == object.VDSOName
		obj, err := object.FromMemory(o.Name, o.Base, o.Progs, !vdso)
		if err != nil {
			return nil, fmt.Errorf("cannot read %s from memory: %w", o.Name, err)
		}
		m := &linkmap.Map{Obj: obj, Name: o.Name, Names: []string{o.Name}, Base: uint64(o.Base), Kind: linkmap.Library, Adopted: true}
		if obj.Dyn.HasSoname {
			m.AddName(obj.Dyn.Soname)
		}
		if o.TLSModID != 0 && o.TLSData != 0 {
			m.TLSModID = o.TLSModID
			m.TLSOffset = tp - uint64(o.TLSData)
			m.HasStaticTLS = true
		}
		proc.Adopt(m)
		maps = append(maps, m)
		switch {
		case vdso:
			m.Vdso = true
			cfg.Vdso = m
		case obj.Dyn.HasSoname && strings.HasPrefix(obj.Dyn.Soname, "ld-linux"):
			cfg.Rtld = m
		default:
			var ust unix.Stat_t
			if err := unix.Stat(o.Name, &ust); err != nil {
				continue
			}
			m.ID = object.FileID{Dev: ust.Dev, Ino: ust.Ino}
			cfg.Adoptable = append(cfg.Adoptable, m)
		}
	}
	if cfg.Rtld == nil {
		return nil, errors.New("ldgo run: the system's dynamic linker is not in this process")
	}
	return maps, nil
}

// substitute arranges for references to ld.so's and libc's functions
// that ldgo provides itself to bind to ldgo's.
func (p *Process) substitute(hostMaps []*linkmap.Map, ns *namespace.Namespace) error {
	var startMain bool
	real := map[string]uint64{}
	for _, m := range hostMaps {
		if m.Vdso {
			continue
		}
		d := lookup.Definitions(m, "__libc_start_main", "__tls_get_addr", "dl_iterate_phdr", "_dl_find_object", "dladdr", "dladdr1",
			"dlopen", "dlsym", "dlvsym", "dlclose", "dlerror", "dlinfo")
		for _, a := range d["__libc_start_main"] {
			p.subst.set(a, host.StartMain())
			startMain = true
		}
		for _, a := range d["__tls_get_addr"] {
			p.subst.set(a, host.TLSGetAddr())
			host.SetRealTLSGetAddr(a)
		}
		// Loading and introspection: glibc's only know what glibc's
		// ld.so loaded.
		ours := host.DLFunctions()
		ours["dl_iterate_phdr"] = host.DLIteratePhdr()
		ours["_dl_find_object"] = host.DLFindObject()
		ours["dladdr"] = host.DLAddr()
		ours["dladdr1"] = host.DLAddr1()
		for name, ours := range ours {
			for _, a := range d[name] {
				p.subst.set(a, ours)
				real[name] = a
			}
		}
	}
	if !startMain {
		return errors.New("ldgo run: __libc_start_main not found in the adopted libc")
	}
	for _, name := range []string{"dl_iterate_phdr", "_dl_find_object", "dladdr1"} {
		if real[name] == 0 {
			return fmt.Errorf("ldgo run: %s not found in the adopted libc", name)
		}
	}
	host.SetRealDL(real["dl_iterate_phdr"], real["_dl_find_object"], real["dladdr1"])
	return nil
}

// describeObjects tells the C side what dl_iterate_phdr, _dl_find_object
// and dladdr report: every object of the namespace, in load order.
func describeObjects(ns *namespace.Namespace, prog string, handles *handleTable) {
	var objs []host.Loaded
	var maps []*linkmap.Map
	for _, m := range ns.Chain {
		if m.Faked || m.Obj == nil {
			continue
		}
		o := host.Loaded{Name: m.Name, Base: m.Base, Phdr: m.Base + m.Obj.Phdr, Phnum: len(m.Obj.Progs), Adopted: m.Adopted || m.Vdso}
		if m == ns.Main {
			o.Name = ""
		}
		lo, hi := m.Obj.LoadBounds()
		o.MapStart, o.MapEnd = m.Base+lo, m.Base+hi
		if m.Obj.Dynamic.Size > 0 {
			o.Dynamic = m.Base + m.Obj.Dynamic.Addr
		}
		for _, s := range m.Obj.Progs {
			if s.Type == elf.PT_GNU_EH_FRAME {
				o.EHFrame = m.Base + s.Vaddr
			}
		}
		o.TLSModID = m.TLSModID
		if m.HasStaticTLS {
			o.TLSOffset = m.TLSOffset
		}
		symtab, n, strtab, strsz := m.Obj.DynamicSymbols()
		if symtab != 0 && strtab != 0 {
			o.Symtab, o.NumSymbols, o.Strtab, o.StrtabSz = m.Base+symtab, uint64(n), m.Base+strtab, strsz
		}
		o.LinkMap = handles.of[m]
		if r := ns.Requester(m); r != nil {
			o.Origin = r.Origin
			o.SearchDirs = ns.Searcher.SearchDirs(r)
		} else {
			o.Origin = filepath.Dir(m.Name)
		}
		objs = append(objs, o)
		maps = append(maps, m)
	}
	host.SetObjects(objs, prog)
	for i, m := range maps {
		handles.add(m, host.LinkMap(i))
	}
}

// prepareLazy computes what every lazily bound PLT slot binds to, with the
// engine's Fixup, so that the resolver the program calls only installs it.
// A slot that cannot be bound fails at its first call, in glibc's words.
func (p *Process) prepareLazy(ns *namespace.Namespace, prog string, maps []*linkmap.Map) error {
	// The trace lines are made only when they are asked for: building
	// them for every slot would cost as much as binding it.
	var held strings.Builder
	for _, m := range maps {
		l, ok := p.lazy[m]
		if !ok {
			continue
		}
		tab, err := m.Obj.Relas(m.Obj.Dyn.JmpRel)
		if err != nil {
			return err
		}
		var story *lazyStory
		if p.traceLazy {
			story = newLazyStory(p, m, prog)
		}
		for i := 0; i < l.Len(); i++ {
			rel := tab.At(i)
			if rel.Type != elf.R_X86_64_JMP_SLOT {
				l.SetError(i, fmt.Sprintf("%s: ldgo: %s: PLT slot %d is not a JUMP_SLOT\n", prog, m.DisplayName(prog), i))
				continue
			}
			// What glibc's symbols and bindings print at the first call.
			if p.trace.on() {
				p.trace.hold(&held)
			}
			var (
				target, slot uint64
				def          *linkmap.Map
				src          lookupSource
			)
			if story != nil {
				target, slot, def, src, err = storyLookup(ns, m, i)
			} else {
				target, slot, def, err = ns.Fixup(m, i, false)
			}
			if p.trace.on() {
				p.trace.failed(err)
				if lines := p.trace.release(); lines != "" {
					l.SetDebugLines(i, lines)
				}
			}
			if err != nil {
				l.SetError(i, analyze.Describe(prog, err)+"\n")
				continue
			}
			if s, ok := p.subst.get(target); ok {
				target = s
			}
			l.Set(i, slot, target)
			if story != nil {
				var version string
				if v, _ := m.Obj.SymbolVersion(rel.Sym); v != nil {
					version = v.Name
				}
				l.SetTrace(i, story.lines(i, m.Obj.SymbolName(rel.Sym), version, def, slot, target, src))
			}
		}
	}
	return nil
}

// rebindAdopted re-points the adopted objects' symbol references (libc's)
// that glibc's ld.so would have bound to an object ldgo loaded: the
// program's COPY of stdout, optind or environ, and a program's or a
// preloaded library's own malloc or other libc function. The system's
// ld.so bound them in ldgo's process, where only ldgo and libc were in
// the scope; the program's global scope comes first now.
func rebindAdopted(ns *namespace.Namespace, p *Process) error {
	for _, m := range ns.Chain {
		if !m.Adopted || m.Vdso || m == ns.Rtld || m.Obj.Dynamic.Size == 0 {
			continue
		}
		var words []namespace.Word
		for _, r := range []object.Range{m.Obj.Dyn.Rela, m.Obj.Dyn.JmpRel} {
			tab, err := m.Obj.Relas(r)
			if err != nil {
				return err
			}
			for i := 0; i < tab.Len(); i++ {
				rel := tab.At(i)
				switch rel.Type {
				case elf.R_X86_64_GLOB_DAT, elf.R_X86_64_JMP_SLOT, elf.R_X86_64_64:
				default:
					continue
				}
				if rel.Sym == 0 {
					continue
				}
				if ref := m.Obj.Symbol(rel.Sym); ref.Visibility() != elf.STV_DEFAULT {
					continue
				}
				// glibc binds libc's PLT slots at their first call, and
				// its symbols and bindings traces show them then, not
				// here (ldgo's never do: glibc's resolver binds them).
				onBind, onSearch := ns.Linker.OnBind, ns.Linker.OnSearch
				if rel.Type == elf.R_X86_64_JMP_SLOT {
					ns.Linker.OnBind, ns.Linker.OnSearch = nil, nil
				}
				res, err := ns.LookupReference(m, r.Addr+uint64(i)*24, rel.Sym, reloc.Class(rel.Type))
				ns.Linker.OnBind, ns.Linker.OnSearch = onBind, onSearch
				if err != nil || res.Map == nil || res.Map.Adopted {
					continue
				}
				v := res.Map.Base + res.Sym.Value
				if res.Sym.Type() == elf.STT_GNU_IFUNC {
					if v, err = p.CallIFunc(v); err != nil {
						return err
					}
				}
				if rel.Type == elf.R_X86_64_64 {
					v += uint64(rel.Addend)
				}
				words = append(words, namespace.Word{Addr: m.Base + rel.Off, Value: v})
			}
		}
		if len(words) > 0 {
			if err := writeAdopted(m, words); err != nil {
				return err
			}
		}
	}
	return nil
}

// setProgramNames points libc's names of the program (__progname,
// program_invocation_name...) at the program's argv[0], and lists the
// environ variables the start routine sets.
func setProgramNames(ns *namespace.Namespace, start *host.Start) error {
	argv0 := start.Argv0()
	short := argv0
	if i := strings.LastIndexByte(start.Argv[0], '/'); i >= 0 {
		short += uint64(i + 1)
	}
	values := map[plan.NameKind]uint64{plan.ShortName: short, plan.FullName: argv0}
	names := plan.ProgramNameSymbols()
	for _, m := range ns.Chain {
		if m.Vdso || m.Faked || m.Obj == nil || m.Rtld {
			continue
		}
		if !m.Adopted && m != ns.Main {
			continue
		}
		var words []namespace.Word
		for name, addrs := range lookup.Definitions(m, names...) {
			for _, a := range addrs {
				if v, ok := values[plan.ProgramNames[name]]; ok {
					if m.Adopted {
						words = append(words, namespace.Word{Addr: a, Value: v})
					} else {
						*(*uint64)(ptr(a)) = v
					}
					continue
				}
				start.EnvironSlots = append(start.EnvironSlots, a)
			}
		}
		if len(words) > 0 {
			if err := writeAdopted(m, words); err != nil {
				return err
			}
		}
	}
	return nil
}

const (
	atPhdr  = 3
	atPhent = 4
	atPhnum = 5
	atEntry = 9
)

// setAuxv gives the program the auxiliary vector this process got, with
// the program's headers and entry point.
func setAuxv(start *host.Start, main *linkmap.Map) error {
	auxv, err := unix.Auxv()
	if err != nil {
		return err
	}
	for _, kv := range auxv {
		k, v := uint64(kv[0]), uint64(kv[1])
		switch k {
		case atPhdr:
			v = main.Base + main.Obj.Phdr
		case atPhent:
			v = 56
		case atPhnum:
			v = uint64(len(main.Obj.Progs))
		case atEntry:
			v = main.Base + main.Obj.Entry
		}
		start.Auxv = append(start.Auxv, [2]uint64{k, v})
		if k == 0 {
			break
		}
	}
	return nil
}

// initFini lists initializers and finalizers in glibc's order
// (plan.InitFini), each object's first announced, as glibc names it in
// LD_DEBUG=libs (l_name: "" for the program); the program's own
// initializers are run by __libc_start_main ("initialize program").
func initFini(start *host.Start, ns *namespace.Namespace) {
	main := ns.Main
	var maps []*linkmap.Map
	ids := map[*linkmap.Map]uint32{}
	index := func(m *linkmap.Map) uint32 {
		i, ok := ids[m]
		if !ok {
			i = uint32(len(maps))
			ids[m], maps = i, append(maps, m)
		}
		return i
	}
	inits, finis := plan.InitFini(ns, noInitFini, index)
	for _, m := range main.Initfini {
		if m != main && !noInitFini(m) {
			m.InitDone = true
		}
	}
	// Each object's functions are consecutive.
	convert := func(list []plan.Fn) []host.Fn {
		var out []host.Fn
		for len(list) > 0 {
			n := 1
			for n < len(list) && list[n].Object == list[0].Object {
				n++
			}
			out = append(out, hostFns(list[:n], maps[list[0].Object])...)
			list = list[n:]
		}
		return out
	}
	pre := 0
	if main.Obj.Dyn.PreinitArray.Size >= 8 {
		pre = 1
	}
	own := len(inits)
	for own > pre && maps[inits[own-1].Object] == main {
		own--
	}
	start.Inits = convert(inits[:own])
	if pre == 1 {
		// Not announced, as ldgo has not announced it.
		start.Inits[0].Announce, start.Inits[0].Owner = false, 0
	}
	start.ExeInits = convert(inits[own:])
	for i := range start.ExeInits {
		start.ExeInits[i].Announce = false
	}
	start.Finis = convert(finis)
}

// initsOf lists m's initializers (plan.Inits).
func initsOf(m *linkmap.Map) []host.Fn { return hostFns(plan.Inits(m, 0), m) }

// finisOf lists m's finalizers (plan.Finis).
func finisOf(m *linkmap.Map) []host.Fn { return hostFns(plan.Finis(m, 0), m) }

// hostFns are m's functions fns at m's base, the first announced, as
// glibc names m in LD_DEBUG=libs (l_name: "" for the program).
func hostFns(fns []plan.Fn, m *linkmap.Map) []host.Fn {
	out := make([]host.Fn, len(fns))
	for i, f := range fns {
		out[i] = host.Fn{Array: f.Count > 0, Addr: m.Base + f.Off, Count: f.Count, Owner: m.Serial}
	}
	if len(out) > 0 {
		out[0].Announce = true
		if m.Kind != linkmap.Executable {
			out[0].Object = m.Name
		}
	}
	return out
}

// noInitFini reports whether ldgo runs no initializer or finalizer of m:
// glibc's ld.so ran the adopted objects'.
func noInitFini(m *linkmap.Map) bool {
	return m.Adopted || m.Vdso || m.Rtld || m.Faked || m.Obj == nil
}

// ProgramPath finds the program as execvp would: a name without a slash
// is searched in PATH.
func ProgramPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		if err := unix.Access(name, unix.F_OK); err != nil {
			return "", err
		}
		return name, nil
	}
	path := "/bin:/usr/bin" // glibc's execvp without PATH (CS_PATH)
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && unix.Access(p, unix.X_OK) == nil {
			return p, nil
		}
	}
	return "", unix.ENOENT
}

// Script returns the interpreter and its optional argument when the file
// at path starts with "#!", as the kernel reads it.
func Script(path string) (interp, arg string, ok bool) {
	// Not waiting for a FIFO's writer: what is not a regular file is
	// refused later.
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return "", "", false
	}
	defer unix.Close(fd)
	buf := make([]byte, 256)
	n, _ := unix.Read(fd, buf)
	line := string(buf[:max(n, 0)])
	if !strings.HasPrefix(line, "#!") {
		return "", "", false
	}
	line, _, _ = strings.Cut(line[2:], "\n")
	// The interpreter ends at a space or a tab; the argument is the rest,
	// spaces and tabs around it trimmed (fs/binfmt_script.c).
	line = strings.Trim(line, " \t")
	interp, arg = line, ""
	if i := strings.IndexAny(line, " \t"); i >= 0 {
		interp, arg = line[:i], strings.TrimLeft(line[i:], " \t")
	}
	return interp, arg, interp != ""
}
