// Package namespace builds and links the set of objects a program runs
// with, in the order and with the rules of glibc's ld.so: the program, the
// vDSO and the dynamic linker already present; LD_PRELOAD objects; the
// program's dependencies found breadth first; one global scope in that
// order; version requirements checked; initializer order sorted from the
// dependency graph; relocations applied object by object in reverse
// initializer order, each symbol looked up through package lookup and each
// value written through package reloc.
//
// The analysis commands drive it over a file image; `ldgo run` drives it
// over the process itself. Where the two differ — placing an object in
// memory, running code — a Mapper and a reloc.Env decide.
package namespace

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/lookup"
	"github.com/ldgo/ldgo/object"
	"github.com/ldgo/ldgo/reloc"
	"github.com/ldgo/ldgo/search"
)

// Mapper places objects in an image.
type Mapper interface {
	// Map places the file's segments and returns the object's base
	// (l_addr) and the object as it is to be read from now on (the
	// file's own reading, or one over the mapped memory).
	Map(f *object.File, name string) (base uint64, obj *object.Object, err error)
	// Env is the image relocations are written to.
	Env() reloc.Env
}

// Unmapper is a Mapper that can take an object out of its image again.
type Unmapper interface {
	Unmap(m *linkmap.Map) error
}

// Config is what changes how a program's objects are found and linked.
type Config struct {
	Search search.Config
	// Preload names objects to load right after the program (LD_PRELOAD
	// and --preload), in order; PreloadWhat is the word glibc uses for
	// them in messages ("LD_PRELOAD").
	Preload     []string
	PreloadWhat string
	// PreloadFile is read for more preloads ("/etc/ld.so.preload");
	// empty means none.
	PreloadFile string
	// Trace keeps going past a missing library, recording it, as ldd
	// does; otherwise the first missing library is an error.
	Trace bool
	// Progname is the program as given: how messages name it.
	Progname string
	// OriginAsGiven takes the program's $ORIGIN from the path as given,
	// as when ld.so is run with the program as its argument (which is
	// what ldd does), instead of from the file the path resolves to.
	OriginAsGiven bool
	// Rtld and Vdso are the dynamic linker and the vDSO, already loaded
	// (adopted) or read from files; Rtld may be nil to read the
	// program's PT_INTERP, Vdso nil for none.
	Rtld *linkmap.Map
	Vdso *linkmap.Map
	// CommandRtld, when Rtld is nil and the program names no
	// interpreter (a shared object), is the dynamic linker that loads
	// it: the one run as a command (ld.so OBJECT, as ldd runs it),
	// which is in the namespace under the name it was run by.
	CommandRtld string
	// Adoptable are objects already in the process: when a search finds
	// the same file, the object is adopted instead of loaded again.
	Adoptable []*linkmap.Map
	// Warn receives non-fatal messages in glibc's words.
	Warn func(msg string)
	// DebugVersions and DebugReloc, when set, receive glibc's
	// LD_DEBUG=versions and LD_DEBUG=reloc lines.
	DebugVersions func(line string)
	DebugReloc    func(line string)
	// DebugFiles receives glibc's LD_DEBUG=files lines.
	DebugFiles func(line string)
	// Audit, if set, sees the loading as LD_AUDIT's interface reports
	// it (see Audit).
	Audit Audit
	// Early has RelocateAll apply the objects' relative relocations on
	// another goroutine, ahead of the rest, when the mapper's image is a
	// RelativeWriter (see relocateEarly). Only for a process that may
	// still start threads.
	Early bool
}

// Namespace is the set of loaded objects.
type Namespace struct {
	cfg    Config
	mapper Mapper
	// dlopening is set while dlopen maps its object (LD_DEBUG=files
	// says "dynamically loaded by").
	dlopening bool
	// forAudit marks an audit library's namespace (OpenAudit).
	forAudit bool

	Main *linkmap.Map
	Rtld *linkmap.Map
	Vdso *linkmap.Map
	// Chain lists every object in glibc's l_next order: the order ldd
	// prints them and dl_iterate_phdr reports them.
	Chain []*linkmap.Map
	// Preloads are the preloaded objects, in order.
	Preloads []*linkmap.Map
	// Deps records every dependency request: who asked for what, and
	// what it resolved to.
	Deps []Dep

	Linker   lookup.Linker
	Searcher *search.Searcher

	requesters  map[*linkmap.Map]*search.Requester
	early       *early
	words       []Word // the relocators' batch, reused
	serial      uint64
	tlsNext     uint64
	cacheHits   uint64
	ahead       *lookahead // PLT slots looked up ahead (LookAhead)
	lookedAhead uint64     // answers Fixup took from ahead
}

// Dep is one request for an object: a DT_NEEDED entry, a preload or a
// dlopen.
type Dep struct {
	From *linkmap.Map // the requesting object; nil for preloads
	Name string
	Map  *linkmap.Map // what it resolved to (Faked when missing)
	// Found says how it was found when this request loaded it; nil when
	// the object was already loaded (or adopted, or missing).
	Found *search.Found
	// Err is why it is missing (trace mode).
	Err error
	// Preload is set for LD_PRELOAD and /etc/ld.so.preload requests;
	// PreloadFrom names where the request came from, as glibc's message
	// about a preload that cannot be loaded names it: "LD_PRELOAD",
	// "--preload" or the preload file.
	Preload     bool
	PreloadFrom string
}

// LoadError is a failure to load an object, in glibc's terms: the object
// named and what went wrong.
type LoadError struct {
	Name string // the object as glibc names it in the message
	Err  error
	// Occasion is glibc's heading for the failure; empty means "error
	// while loading shared libraries".
	Occasion string
}

func (e *LoadError) Error() string {
	// A file that is found but cannot be used is named by its path, as
	// glibc names it, whatever name it was asked for by.
	var oe *object.Error
	if errors.As(e.Err, &oe) {
		return oe.Error()
	}
	return e.Name + ": " + e.Err.Error()
}

func (e *LoadError) Unwrap() error { return e.Err }

// Open reads the program at path and loads everything it needs.
func Open(path string, cfg Config, mapper Mapper) (*Namespace, error) {
	if cfg.Progname == "" {
		cfg.Progname = path
	}
	ns := &Namespace{cfg: cfg, mapper: mapper, requesters: make(map[*linkmap.Map]*search.Requester)}
	if err := ns.loadProgram(path); err != nil {
		return nil, err
	}
	if err := ns.loadStartup(); err != nil {
		return ns, err
	}
	return ns, nil
}

func (ns *Namespace) warn(format string, args ...any) {
	if ns.cfg.Warn != nil {
		ns.cfg.Warn(fmt.Sprintf(format, args...))
	}
}

func (ns *Namespace) newMap(m *linkmap.Map) *linkmap.Map {
	ns.serial++
	m.Serial = ns.serial
	return m
}

func (ns *Namespace) loadProgram(path string) error {
	f, err := ns.cfg.Search.OpenObject(path)
	if err != nil {
		return &LoadError{Name: path, Err: err}
	}
	base, obj, err := ns.mapper.Map(f, path)
	if err != nil {
		return &LoadError{Name: path, Err: err}
	}
	main := ns.newMap(&linkmap.Map{Obj: obj, File: f, Kind: linkmap.Executable, Base: base})
	ns.Main = main
	ns.Chain = append(ns.Chain, main)
	ns.assignTLS(main)

	// $ORIGIN of a program the kernel started is the directory of the
	// file it ran, links resolved (glibc reads /proc/self/exe); of one
	// given to ld.so on its command line, the directory of the path as
	// given.
	origin := ns.originOf(path)
	if !ns.cfg.OriginAsGiven {
		if real, err := ns.cfg.Search.Root.Resolve(path, nil); err == nil {
			origin = filepath.Dir(real)
		}
	}
	req := &search.Requester{Name: ns.cfg.Progname, Origin: origin, Dyn: &obj.Dyn, IsMain: true}
	ns.requesters[main] = req
	s, err := search.New(ns.cfg.Search, req)
	if err != nil {
		return err
	}
	ns.Searcher = s
	return nil
}

// Requester returns how the library search sees m.
func (ns *Namespace) Requester(m *linkmap.Map) *search.Requester { return ns.requesters[m] }

// loadStartup is the start-up part of glibc's dl_main: the dynamic linker
// and the vDSO, preloads, dependencies, scopes, versions.
func (ns *Namespace) loadStartup() error {
	main := ns.Main
	if main.Obj.Dynamic.Size == 0 {
		return nil // statically linked: nothing to link
	}
	if err := ns.addRtld(); err != nil {
		return err
	}
	if a := ns.cfg.Audit; a != nil {
		if err := a.Begin(ns); err != nil {
			return err
		}
	}
	if v := ns.cfg.Vdso; v != nil {
		ns.Vdso = ns.newMap(v)
		ns.Chain = append(ns.Chain, v)
	}

	if err := ns.loadPreloads(); err != nil {
		return err
	}
	if a := ns.cfg.Audit; a != nil && ns.Vdso != nil {
		a.Opened(ns, ns.Vdso)
	}
	if err := ns.mapDeps(main, ns.Preloads); err != nil {
		return err
	}
	for _, m := range main.Searchlist {
		m.Global = true
	}
	ns.placeRtld()
	scope := [][]*linkmap.Map{main.Searchlist}
	for _, m := range ns.Chain {
		if m.Scope == nil && !m.Vdso && !m.Faked {
			m.Scope = scopeFor(m, scope)
		}
	}
	return nil
}

// scopeFor is an initially loaded object's l_scope: the global scope, with
// the object alone before it when it is DT_SYMBOLIC.
func scopeFor(m *linkmap.Map, global [][]*linkmap.Map) [][]*linkmap.Map {
	if m.Kind != linkmap.Executable && m.Obj.Dyn.Symbolic {
		return append([][]*linkmap.Map{{m}}, global...)
	}
	return global
}

// addRtld puts the dynamic linker in the chain, named by the program's
// PT_INTERP and answering to its SONAME too.
func (ns *Namespace) addRtld() error {
	interp := ns.Main.Obj.Interp
	r := ns.cfg.Rtld
	if r == nil {
		if interp == "" {
			interp = ns.cfg.CommandRtld
		}
		if interp == "" {
			return nil
		}
		f, err := ns.cfg.Search.OpenObject(interp)
		if err != nil {
			return &LoadError{Name: interp, Err: err}
		}
		base, obj, err := ns.mapper.Map(f, interp)
		if err != nil {
			return &LoadError{Name: interp, Err: err}
		}
		r = &linkmap.Map{Obj: obj, File: f, Base: base}
	}
	r.Kind = linkmap.Library
	r.Rtld = true
	if interp != "" {
		r.Name = interp
	}
	r.AddName(r.Name)
	if r.Obj.Dyn.HasSoname {
		r.AddName(r.Obj.Dyn.Soname)
	}
	ns.Rtld = ns.newMap(r)
	ns.Chain = append(ns.Chain, r)
	ns.requesters[r] = &search.Requester{Name: r.Name, Origin: filepath.Dir(r.Name), Dyn: &r.Obj.Dyn}
	ns.assignTLS(r)
	return nil
}

// placeRtld moves the dynamic linker in the chain to just after the object
// before it in the global search list, where gdb and ldd expect it, or
// drops it from the chain when nothing needs it.
func (ns *Namespace) placeRtld() {
	r := ns.Rtld
	if r == nil {
		return
	}
	ns.Chain = remove(ns.Chain, r)
	list := ns.Main.Searchlist
	for i := 1; i < len(list); i++ {
		if list[i] != r {
			continue
		}
		prev := list[i-1]
		for j, m := range ns.Chain {
			if m == prev {
				ns.Chain = insert(ns.Chain, j+1, r)
				return
			}
		}
	}
}

func remove(list []*linkmap.Map, m *linkmap.Map) []*linkmap.Map {
	for i, x := range list {
		if x == m {
			return append(list[:i:i], list[i+1:]...)
		}
	}
	return list
}

func insert(list []*linkmap.Map, i int, m *linkmap.Map) []*linkmap.Map {
	list = append(list, nil)
	copy(list[i+1:], list[i:])
	list[i] = m
	return list
}

// loadPreloads loads LD_PRELOAD objects and then /etc/ld.so.preload's. A
// preload that cannot be loaded is reported and ignored, as glibc does.
func (ns *Namespace) loadPreloads() error {
	what := ns.cfg.PreloadWhat
	if what == "" {
		what = "LD_PRELOAD"
	}
	for _, name := range ns.cfg.Preload {
		ns.preload(name, what)
	}
	if ns.cfg.PreloadFile == "" {
		return nil
	}
	data, err := ns.cfg.Search.Root.ReadFile(ns.cfg.PreloadFile)
	if err != nil {
		return nil
	}
	for _, name := range strings.FieldsFunc(string(data), func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == ':'
	}) {
		ns.preload(name, ns.cfg.PreloadFile)
	}
	return nil
}

// SplitPreload splits an LD_PRELOAD value as glibc does: on spaces and
// colons, empty names dropped.
func SplitPreload(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ':' })
}

func (ns *Namespace) preload(name, what string) {
	before := ns.serial
	m, found, err := ns.mapObject(ns.Main, name, linkmap.Library, false)
	ns.Deps = append(ns.Deps, Dep{Name: name, Map: m, Found: found, Err: err, Preload: true, PreloadFrom: what})
	if err != nil {
		cause := err.Error()
		var le *LoadError
		if errors.As(err, &le) {
			cause = le.Err.Error()
			var oe *object.Error
			if errors.As(le.Err, &oe) {
				cause = oe.Cause
			}
			var nf *search.NotFoundError
			if errors.As(le.Err, &nf) {
				cause = nf.Cause
			}
		}
		ns.warn("ERROR: ld.so: object '%s' from %s cannot be preloaded (%s): ignored.\n", name, what, cause)
		return
	}
	if m.Serial > before {
		// Only an object this preload loaded counts; a name that
		// matched an object already present adds nothing.
		ns.Preloads = append(ns.Preloads, m)
	}
}
