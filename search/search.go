// Package search finds shared libraries the way glibc 2.36's ld.so does on
// Debian x86-64: a name with a slash is a path; any other name is looked
// for in the RPATHs of the requesting object and its loaders (unless the
// requester has a RUNPATH), LD_LIBRARY_PATH, the requester's RUNPATH,
// /etc/ld.so.cache and the system directories, each directory tried with
// the glibc-hwcaps and legacy hardware-capability subdirectories first.
//
// Directory knowledge is shared as glibc shares it: a directory found not
// to exist is not tried again, whichever list names it. Every result
// records the rule that found it and every path tried, so a user can see
// why a library was or was not found.
package search

import (
	"debug/elf"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"syscall"

	"github.com/ldgo/ldgo/object"
	"github.com/ldgo/ldgo/sysroot"
)

// DefaultDirs are glibc's system search directories on Debian x86-64.
var DefaultDirs = []string{"/lib/x86_64-linux-gnu/", "/usr/lib/x86_64-linux-gnu/", "/lib/", "/usr/lib/"}

// Rule is the step of the search that found a library.
type Rule int

const (
	// ByPath: the name contains a slash and is opened as given.
	ByPath Rule = iota
	ByRPATH
	ByLibraryPath
	ByRUNPATH
	ByCache
	ByDefault
)

var ruleNames = [...]string{"path", "RPATH", "LD_LIBRARY_PATH", "RUNPATH", "ld.so.cache", "system search path"}

func (r Rule) String() string {
	if int(r) < len(ruleNames) {
		return ruleNames[r]
	}
	return "unknown"
}

// Config changes how libraries are searched for.
type Config struct {
	// LibraryPath is LD_LIBRARY_PATH; LibraryPathWhat names its source
	// in messages ("LD_LIBRARY_PATH", or "--library-path").
	LibraryPath     string
	LibraryPathWhat string
	// InhibitCache skips /etc/ld.so.cache (ld.so --inhibit-cache).
	InhibitCache bool
	// CacheFile is the cache to read; empty means DefaultCacheFile.
	CacheFile string
	// SystemDirs replace DefaultDirs when set; each ends in '/'.
	SystemDirs []string
	// Caps are the hardware capabilities; nil means this machine's.
	Caps *Caps
	// Debug, when set, receives the lines glibc prints for
	// LD_DEBUG=libs, without the pid prefix.
	Debug func(line string)
	// Open opens each file tried; nil means Root.OpenObject. A loader
	// that maps objects gives object.OpenHeaders.
	Open func(path string) (*object.File, error)
	// ObjSearch, if set, sees every name the search is about to try and
	// may replace it, as LD_AUDIT's la_objsearch: first the name asked
	// for (SearchOrig), then each path it tries with the flag of the
	// list the path comes from; req asked for the library. It returns
	// the name to use instead, or false to skip this one.
	ObjSearch func(name string, flag SearchFlag, req *Requester) (string, bool)
	// Root is the tree every path is read in (--root): the cache file,
	// the directories, every file tried, as the tree's own program
	// would see them. Nil is the host's file system.
	Root *sysroot.Root
}

// SearchFlag says where a name the search tries comes from, with the
// values of <link.h>'s LA_SER_* constants.
type SearchFlag uint32

const (
	SearchOrig    SearchFlag = 0x01 // the name asked for
	SearchLibPath SearchFlag = 0x02 // a directory of LD_LIBRARY_PATH
	SearchRunpath SearchFlag = 0x04 // of an RPATH or RUNPATH
	SearchConfig  SearchFlag = 0x08 // ld.so.cache
	SearchDefault SearchFlag = 0x40 // a system directory
)

// searchFlags are the flags of the lists each rule reads.
var searchFlags = [...]SearchFlag{ByRPATH: SearchRunpath, ByLibraryPath: SearchLibPath, ByRUNPATH: SearchRunpath, ByCache: SearchConfig, ByDefault: SearchDefault}

// OpenObject opens the file at path as the search opens each file tried:
// with Open, or in Root without it.
func (c *Config) OpenObject(path string) (*object.File, error) {
	if c.Open != nil {
		return c.Open(path)
	}
	return c.Root.OpenObject(path)
}

// Requester is an object that asks for libraries, as the search sees it.
type Requester struct {
	// Name is how messages name the object (the program's name as given
	// for the main program).
	Name string
	// Origin is $ORIGIN for the object: its directory; "" when unknown.
	Origin string
	Dyn    *object.Dynamic
	// Loader is the object that caused this one to be loaded; its RPATH
	// is searched after this one's.
	Loader *Requester
	// IsMain marks the program (its RPATH is searched last among RPATHs).
	IsMain bool
	// Audit marks an object loaded for an audit library (glibc's
	// __RTLD_AUDIT): the program's RUNPATH is searched after the RPATHs.
	Audit          bool
	rpath, runpath *pathList
}

// Found is a library located by the search.
type Found struct {
	// Path is the file's path as glibc names the object (l_name).
	Path string
	File *object.File
	Rule Rule
	// Dir is the search directory that held it ("" for Path and Cache),
	// and Subdir the hardware-capability subdirectory under it.
	Dir    string
	Subdir string
	// From names the object whose RPATH or RUNPATH supplied Dir.
	From string
	// Tried lists, in order, every path opened before the one found.
	Tried []string
}

// NotFoundError is a library that no rule found.
type NotFoundError struct {
	Name string
	// Tried lists every path opened, in order.
	Tried []string
	// Cause is glibc's message: "cannot open shared object file", or
	// "wrong ELF class: ELFCLASS32" when only 32-bit files were found.
	Cause string
	// Errno is the error of the last attempt, shown after Cause.
	Errno error
}

func (e *NotFoundError) Error() string {
	if e.Errno != nil {
		return e.Cause + ": " + object.ErrorText(e.Errno)
	}
	return e.Cause
}

type dirStatus uint8

const (
	unknown dirStatus = iota
	nonexisting
	existing
)

// dir is a search directory, shared by every list that names it
// (r_search_path_elem): its status per capability subdirectory is learned
// once.
type dir struct {
	name   string // ends in '/', or "" for the current directory
	status []dirStatus
	// what and where are the first list's, which LD_DEBUG=libs prints.
	what, where string
}

// pathList is one search path: an RPATH, RUNPATH, LD_LIBRARY_PATH or the
// system directories.
type pathList struct {
	dirs []*dir
	rule Rule
	from string
	// dead marks a list none of whose directories exist; glibc stops
	// searching it.
	dead bool
}

// Searcher holds what glibc's _dl_init_paths sets up: the capability
// subdirectories, the known directories and the fixed lists.
type Searcher struct {
	cfg     Config
	caps    *Caps
	subdirs []string
	dirs    map[string]*dir
	system  *pathList
	env     *pathList
	main    *Requester

	cache      *Cache
	cacheTried bool
}

// New prepares a search for the program req: its RPATH or RUNPATH and
// LD_LIBRARY_PATH are read now, as glibc does at start-up.
func New(cfg Config, main *Requester) (*Searcher, error) {
	s := &Searcher{cfg: cfg, caps: cfg.Caps, dirs: make(map[string]*dir), main: main}
	if s.caps == nil {
		s.caps = HostCaps()
	}
	s.subdirs = s.caps.Subdirs()
	if s.cfg.LibraryPathWhat == "" {
		s.cfg.LibraryPathWhat = "LD_LIBRARY_PATH"
	}
	sys := cfg.SystemDirs
	if sys == nil {
		sys = DefaultDirs
	}
	s.system = &pathList{rule: ByDefault}
	for _, d := range sys {
		s.system.dirs = append(s.system.dirs, s.dir(d, "system search path", ""))
	}
	if main != nil {
		s.runpathOf(main)
		s.rpathOf(main)
	}
	if lp := cfg.LibraryPath; lp != "" {
		origin, platform := "", s.caps.Platform
		if main != nil {
			origin = main.Origin
		}
		expanded := ExpandDST(lp, origin, platform)
		s.env = s.fill(expanded, ":;", s.cfg.LibraryPathWhat, "", main, ByLibraryPath)
	}
	return s, nil
}

// Caps returns the capabilities the search uses.
func (s *Searcher) Caps() *Caps { return s.caps }

func (s *Searcher) debug(format string, args ...any) {
	if s.cfg.Debug != nil {
		s.cfg.Debug(fmt.Sprintf(format, args...))
	}
}

// dir returns the shared entry for a directory name (fillin_rpath's
// search of GL(dl_all_dirs)).
func (s *Searcher) dir(name, what, where string) *dir {
	if d, ok := s.dirs[name]; ok {
		return d
	}
	init := unknown
	if !strings.HasPrefix(name, "/") {
		// A relative directory is always tried: the current directory
		// can change.
		init = existing
	}
	d := &dir{name: name, status: make([]dirStatus, len(s.subdirs)), what: what, where: where}
	for i := range d.status {
		d.status[i] = init
	}
	s.dirs[name] = d
	return d
}

// fill splits a path list into directories (fillin_rpath): tokens
// expanded against req, elements that expand to nothing dropped, trailing
// slashes normalized to one, duplicates within the list dropped. An empty
// element is the current directory.
func (s *Searcher) fill(list, seps, what, where string, req *Requester, rule Rule) *pathList {
	pl := &pathList{rule: rule, from: where}
	origin := ""
	if req != nil {
		origin = req.Origin
	}
	for _, elem := range splitKeepEmpty(list, seps) {
		if elem != "" {
			elem = ExpandDST(elem, origin, s.caps.Platform)
			if elem == "" {
				continue
			}
			elem = strings.TrimRight(elem, "/")
			elem += "/"
		}
		d := s.dir(elem, what, where)
		if !slices.Contains(pl.dirs, d) {
			pl.dirs = append(pl.dirs, d)
		}
	}
	if len(pl.dirs) == 0 {
		return nil
	}
	return pl
}

// splitKeepEmpty splits list at any of seps, keeping empty elements.
func splitKeepEmpty(list, seps string) []string {
	var out []string
	start := 0
	for i := 0; i < len(list); i++ {
		if strings.IndexByte(seps, list[i]) >= 0 {
			out = append(out, list[start:i])
			start = i + 1
		}
	}
	return append(out, list[start:])
}

func (s *Searcher) rpathOf(r *Requester) *pathList {
	if r.rpath == nil {
		r.rpath = &pathList{dead: true}
		if d := r.Dyn; d != nil && d.HasRpath && !d.HasRunpath {
			if pl := s.fill(d.Rpath, ":", "RPATH", r.Name, r, ByRPATH); pl != nil {
				r.rpath = pl
			}
		}
	}
	if r.rpath.dead {
		return nil
	}
	return r.rpath
}

func (s *Searcher) runpathOf(r *Requester) *pathList {
	if r.runpath == nil {
		r.runpath = &pathList{dead: true}
		if d := r.Dyn; d != nil && d.HasRunpath {
			if pl := s.fill(d.Runpath, ":", "RUNPATH", r.Name, r, ByRUNPATH); pl != nil {
				r.runpath = pl
			}
		}
	}
	if r.runpath.dead {
		return nil
	}
	return r.runpath
}

// ExpandNeeded expands the tokens in a DT_NEEDED name of req. A token
// whose value is unknown is an error in glibc's words.
func (s *Searcher) ExpandNeeded(name string, req *Requester) (string, error) {
	if !HasDST(name) {
		return name, nil
	}
	origin := ""
	if req != nil {
		origin = req.Origin
	}
	out := ExpandDST(name, origin, s.caps.Platform)
	if out == "" {
		return "", errors.New("empty dynamic string token substitution")
	}
	return out, nil
}

// attempt carries one search's state: paths tried and why the last one
// failed.
type attempt struct {
	name       string
	req        *Requester
	tried      []string
	errno      error
	otherClass bool
}

// Find locates the library name requested by req (nil for none, as for
// the program's preloads glibc passes the program).
func (s *Searcher) Find(name string, req *Requester) (*Found, error) {
	if req == nil {
		req = s.main
	}
	a := &attempt{name: name, req: req, errno: syscall.ENOENT}
	if s.cfg.ObjSearch != nil {
		n, ok := s.cfg.ObjSearch(name, SearchOrig, req)
		if !ok {
			return nil, a.notFound()
		}
		name, a.name = n, n
	}
	if strings.Contains(name, "/") {
		// A path is opened without a search; glibc prints nothing
		// for it under LD_DEBUG=libs.
		path := name
		if req != nil {
			origin := req.Origin
			path = ExpandDST(name, origin, s.caps.Platform)
		}
		f, err := s.open(a, path, 0)
		if err != nil {
			return nil, err
		}
		if f != nil {
			return &Found{Path: path, File: f, Rule: ByPath, Tried: a.tried}, nil
		}
		return nil, a.notFound()
	}
	s.debug("find library=%s [0]; searching", name)
	if found, err := s.findByName(a, req); found != nil || err != nil {
		s.debug("")
		return found, err
	}
	s.debug("")
	return nil, a.notFound()
}

func (a *attempt) notFound() error {
	if a.otherClass {
		return &NotFoundError{Name: a.name, Tried: a.tried, Cause: "wrong ELF class: ELFCLASS32"}
	}
	return &NotFoundError{Name: a.name, Tried: a.tried, Cause: object.CauseOpen, Errno: a.errno}
}

// pathLists yields, in glibc's order, the search paths a search for a
// library req asks for goes through before ld.so.cache: the RPATHs of req
// and of its loaders (unless req has a RUNPATH), then the program's,
// LD_LIBRARY_PATH, and req's RUNPATH. A list is read when it is reached,
// as glibc's cache_rpath does, and one found to have no existing
// directory is left out. For dlinfo the program's RPATH comes again
// unless req is the program, as _dl_rtld_di_serinfo has it; a search
// takes it only when no loader was the program.
func (s *Searcher) pathLists(req *Requester, dlinfo bool) iter.Seq[*pathList] {
	return func(yield func(*pathList) bool) {
		if req == nil || req.Dyn == nil || !req.Dyn.HasRunpath {
			mainLoaded := false
			for l := req; l != nil; l = l.Loader {
				mainLoaded = mainLoaded || l == s.main
				if pl := s.rpathOf(l); pl != nil && !yield(pl) {
					return
				}
			}
			again := !mainLoaded
			if dlinfo {
				again = s.main != req
			}
			if s.main != nil && again {
				if pl := s.rpathOf(s.main); pl != nil && !yield(pl) {
					return
				}
			}
			if req != nil && req.Audit && s.main != nil && again && !dlinfo {
				if pl := s.runpathOf(s.main); pl != nil && !yield(pl) {
					return
				}
			}
		}
		if s.env != nil && !s.env.dead && !yield(s.env) {
			return
		}
		if req != nil {
			if pl := s.runpathOf(req); pl != nil {
				yield(pl)
			}
		}
	}
}

// noDefaultLib reports whether req keeps searches out of the system
// directories (DF_1_NODEFLIB).
func noDefaultLib(req *Requester) bool {
	return req != nil && req.Dyn != nil && req.Dyn.Flags1&elf.DF_1_NODEFLIB != 0
}

// SearchDirs returns the directories a search for a library req asks for
// goes through, in order, as glibc's dlinfo RTLD_DI_SERINFO lists them:
// the lists of pathLists, then the system directories (unless req has
// DF_1_NODEFLIB); ld.so.cache, which has no directory, is left out. Names
// are written as glibc writes them there: without the trailing slash,
// "." for the current directory.
func (s *Searcher) SearchDirs(req *Requester) []string {
	var out []string
	add := func(pl *pathList) {
		for _, d := range pl.dirs {
			switch name := d.name; {
			case name == "":
				out = append(out, ".")
			case name == "/":
				out = append(out, "/")
			default:
				out = append(out, strings.TrimSuffix(name, "/"))
			}
		}
	}
	for pl := range s.pathLists(req, true) {
		add(pl)
	}
	if !noDefaultLib(req) && !s.system.dead {
		add(s.system)
	}
	return out
}

func (s *Searcher) findByName(a *attempt, req *Requester) (*Found, error) {
	for pl := range s.pathLists(req, false) {
		if f, err := s.openPath(a, pl); f != nil || err != nil {
			return f, err
		}
	}
	nodeflib := noDefaultLib(req)
	if !s.cfg.InhibitCache {
		if path := s.lookupCache(a.name); path != "" {
			s.debug("  trying file=%s", path)
			usable := true
			if nodeflib {
				for _, d := range s.system.dirs {
					if strings.HasPrefix(path, d.name) {
						usable = false
					}
				}
			}
			if usable {
				f, err := s.open(a, path, SearchConfig)
				if err != nil {
					return nil, err
				}
				if f != nil {
					return &Found{Path: path, File: f, Rule: ByCache, Tried: a.tried[:len(a.tried)-1]}, nil
				}
			}
		}
	}
	if !nodeflib {
		return s.openPath(a, s.system)
	}
	return nil, nil
}

func (s *Searcher) lookupCache(name string) string {
	file := s.cfg.CacheFile
	if file == "" {
		file = DefaultCacheFile
	}
	s.debug(" search cache=%s", file)
	if !s.cacheTried {
		s.cacheTried = true
		if data, err := s.cfg.Root.ReadFile(file); err == nil {
			s.cache, _ = ParseCache(data)
		}
	}
	if s.cache == nil {
		return ""
	}
	return s.cache.Lookup(name, s.caps)
}

// openPath tries every directory of a list with every capability
// subdirectory (glibc's open_path).
func (s *Searcher) openPath(a *attempt, pl *pathList) (*Found, error) {
	any := false
	lastWhat := ""
	for i, d := range pl.dirs {
		if s.cfg.Debug != nil && d.what != lastWhat {
			lastWhat = d.what
			s.printSearchPath(pl.dirs[i:], d.what, d.where)
		}
		hereAny := false
		for c, sub := range s.subdirs {
			if d.status[c] == nonexisting {
				continue
			}
			path := d.name + sub + a.name
			s.debug("  trying file=%s", path)
			f, err := s.open(a, path, searchFlags[pl.rule])
			if err != nil {
				return nil, err
			}
			if d.status[c] == unknown {
				if f != nil {
					d.status[c] = existing
				} else if st, err := s.cfg.Root.Stat(strings.TrimSuffix(d.name+sub, "/")); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
					d.status[c] = nonexisting
				} else {
					d.status[c] = existing
				}
			}
			hereAny = hereAny || d.status[c] != nonexisting
			if f != nil {
				return &Found{Path: path, File: f, Rule: pl.rule, Dir: d.name, Subdir: sub, From: pl.from, Tried: a.tried[:len(a.tried)-1]}, nil
			}
		}
		if hereAny && a.errno != syscall.ENOENT && a.errno != syscall.EACCES {
			// The file exists but cannot be read: glibc gives up on the
			// list.
			return nil, nil
		}
		any = any || hereAny
	}
	if !any && pl != s.system && pl != s.env {
		pl.dead = true
	}
	return nil, nil
}

// printSearchPath is LD_DEBUG=libs's announcement of the directories a list
// is about to try.
func (s *Searcher) printSearchPath(dirs []*dir, what, where string) {
	var b strings.Builder
	b.WriteString(" search path=")
	first := true
	for _, d := range dirs {
		if d.what != what {
			break
		}
		for c, sub := range s.subdirs {
			if d.status[c] == nonexisting {
				continue
			}
			if !first {
				b.WriteByte(':')
			}
			first = false
			// The trailing slash is dropped, except from the root
			// directory itself, which glibc prints as "/".
			name := d.name + sub
			if name != "/" {
				name = strings.TrimSuffix(name, "/")
			}
			b.WriteString(name)
		}
	}
	b.WriteString("\t\t(")
	b.WriteString(what)
	if where != "" {
		b.WriteString(" from file ")
		b.WriteString(where)
	}
	b.WriteByte(')')
	s.debug("%s", b.String())
}

// open is glibc's open_verify during a search: a file that cannot be
// opened, a 32-bit file or another machine's file is skipped (nil, nil);
// a file that is not a valid ELF object stops the search with an error.
// A path from a list (flag not 0) is shown to ObjSearch first, which may
// have another file opened in its place: the object keeps the path's name,
// as glibc's does.
func (s *Searcher) open(a *attempt, path string, flag SearchFlag) (*object.File, error) {
	a.tried = append(a.tried, path)
	if flag != 0 && s.cfg.ObjSearch != nil {
		p, ok := s.cfg.ObjSearch(path, flag, a.req)
		if !ok {
			return nil, nil
		}
		path = p
	}
	f, err := s.cfg.OpenObject(path)
	if err == nil {
		return f, nil
	}
	var oe *object.Error
	if errors.As(err, &oe) && oe.Cause == object.CauseOpen {
		a.errno = oe.Err
		return nil, nil
	}
	if errors.Is(err, object.ErrOtherClass) {
		a.otherClass = true
		a.errno = syscall.ENOENT
		return nil, nil
	}
	if errors.Is(err, object.ErrOtherMachine) {
		a.errno = syscall.ENOENT
		return nil, nil
	}
	return nil, err
}
