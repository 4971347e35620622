// Package resolve decides which files are in the link and which
// definition each symbol name binds to, with GNU ld's rules: inputs are
// taken in command-line order; an archive member is extracted when it
// defines a name some earlier file refers to (strongly) and nothing
// defines yet, and a --start-group is rescanned until nothing more is
// extracted; a shared library given --as-needed is kept only if it
// defines such a name at its position; a strong definition beats a weak
// one and both beat a common block, which beats a shared library's; the
// first COMDAT group of a signature is kept and the others discarded.
//
// Files are opened and parsed in parallel (input), and their global
// names interned into the sharded Table as they are parsed; the walk
// that applies the order-dependent rules above then only compares and
// assigns pointers.
package resolve

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/ldgo/ldgo/link/input"
	"github.com/ldgo/ldgo/link/options"
	"github.com/ldgo/ldgo/link/parallel"
	"github.com/ldgo/ldgo/link/timing"
)

// Result is the outcome of resolution.
type Result struct {
	Table  *Table
	Files  []*File  // relocatable objects, in link order
	Shlibs []*Shlib // the shared libraries kept, in order
	// Diagnostics are errors found (multiple definitions, ...).
	Diagnostics []error

	// Extractions say why each archive member is in the link, in the
	// order they were extracted (--why-extract).
	Extractions []Extraction

	// Implicit are the libraries the shared libraries need that are
	// not in the link themselves (loadNeeded); only their definitions
	// count, for ShlibUndefined.
	Implicit []*Shlib
	// Warnings are GNU ld's warnings found while loading.
	Warnings []string

	globals []*Symbol
	extra   []*Symbol // defined on the command line
}

// Extraction is an archive member brought in by a reference.
type Extraction struct {
	Reference string // the file that referred to Symbol
	Member    string // "archive(member)"
	Symbol    string
}

// DefaultSearchDirs are Debian's GNU ld SEARCH_DIR directories, searched
// after the -L ones unless -nostdlib.
var DefaultSearchDirs = []string{
	"/usr/local/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
	"/usr/lib/x86_64-linux-gnu64", "/usr/local/lib64", "/lib64", "/usr/lib64",
	"/usr/local/lib", "/lib", "/usr/lib", "/usr/x86_64-linux-gnu/lib64", "/usr/x86_64-linux-gnu/lib",
}

// item is one input after searching: an opened file with the state at
// its position, or a group bound.
type item struct {
	file       input.File
	state      options.State
	byLibrary  bool // found by -l: DT_NEEDED is its file name
	groupStart bool
	groupEnd   bool
	// Set by parsing.
	obj  *File
	lib  *Shlib
	arch *archive
	err  error
}

type archive struct {
	*input.Archive
	extracted map[uint64]bool
	byMember  map[uint64][]int // the index's entries by member, made when first needed
	// syms are the index's names' symbols, looked up once each is in
	// the table (a name never leaves it).
	syms []*Symbol
}

// symbol returns the symbol of index entry i, nil if no file has named it.
func (a *archive) symbol(t *Table, i int) *Symbol {
	if a.syms == nil {
		a.syms = make([]*Symbol, len(a.Index))
	}
	s := a.syms[i]
	if s == nil {
		s = t.Lookup(a.Index[i].Name)
		a.syms[i] = s
	}
	return s
}

// entries returns the indexes in a.Index of the names member off defines.
func (a *archive) entries(off uint64) []int {
	if a.byMember == nil {
		a.byMember = make(map[uint64][]int)
		for i, e := range a.Index {
			a.byMember[e.Member] = append(a.byMember[e.Member], i)
		}
	}
	return a.byMember[off]
}

type resolver struct {
	opts    *options.Options
	table   *Table
	trace   io.Writer
	res     *Result
	comdat  map[string]*input.Group
	sonames map[string]bool
	threads int
	opened  map[string]input.File
	wraps   map[string]bool // --wrap's names; read-only once loading starts
	traced  map[string]bool // -y's names
	// versionedRefs says an object refers to a symbol at a version
	// (foo@V): libraries' versioned names are then looked up too.
	versionedRefs atomic.Bool
}

// Load reads the inputs named by opts and resolves their symbols. trace
// receives -t's lines. The error is for a file that cannot be found or
// read; problems of resolution are Result.Diagnostics.
//
// opened holds files already opened, by path, to be used rather than
// opened again; timer measures the steps.
func Load(opts *options.Options, trace io.Writer, timer *timing.Timer, opened map[string]input.File) (*Result, error) {
	r := &resolver{
		opts:    opts,
		table:   NewTable(),
		trace:   trace,
		res:     &Result{},
		comdat:  map[string]*input.Group{},
		sonames: map[string]bool{},
		threads: opts.Threads,
		opened:  opened,
	}
	if len(opts.TraceSymbols) > 0 && trace != nil {
		r.traced = map[string]bool{}
		for _, n := range opts.TraceSymbols {
			r.traced[n] = true
		}
	}
	if len(opts.Wraps) > 0 {
		r.wraps = map[string]bool{}
		for _, w := range opts.Wraps {
			r.wraps[w] = true
		}
	}
	r.res.Table = r.table
	end := timer.Start("open inputs")
	items, err := r.expand(opts.Inputs, "")
	end()
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, errors.New("no input files")
	}
	end = timer.Start("parse objects")
	r.table.Reserve(namesIn(items))
	r.parseAll(items)
	end()
	for _, it := range items {
		if it.err != nil {
			return nil, it.err
		}
	}
	// -u names and the entry point are references from the command
	// line: they extract archive members.
	for _, name := range append(opts.Undefined[:len(opts.Undefined):len(opts.Undefined)], opts.Entry) {
		if name != "" {
			s := r.table.Intern(name)
			r.reference(s, nil, false)
			r.res.extra = append(r.res.extra, s)
		}
	}
	end = timer.Start("resolve symbols")
	defer end()
	if err := r.walk(items); err != nil {
		return nil, err
	}
	copyNeeded := false
	for _, l := range r.res.Shlibs {
		copyNeeded = copyNeeded || l.CopyDTNeeded
	}
	if opts.CheckShlibUndefined() || copyNeeded {
		r.loadNeeded(items)
		if err := r.missingDSO(); err != nil {
			return nil, err
		}
	}
	return r.res, nil
}

// expand searches for every input and opens it, reading linker scripts
// (which name more inputs) as it goes. scriptDir is the directory of the
// script being expanded, "" for the command line.
func (r *resolver) expand(inputs []options.Input, scriptDir string) ([]*item, error) {
	var items []*item
	for _, in := range inputs {
		switch in.Kind {
		case options.GroupStart:
			items = append(items, &item{groupStart: true})
			continue
		case options.GroupEnd:
			items = append(items, &item{groupEnd: true})
			continue
		}
		path, byLib, err := r.find(in, scriptDir)
		if err != nil {
			return nil, err
		}
		// A file named twice is two inputs: only the first is the one
		// already opened.
		f, ok := r.opened[path]
		delete(r.opened, path)
		if !ok {
			if f, err = input.Open(path); err != nil {
				return nil, err
			}
		}
		if s, ok := f.(*input.Script); ok {
			more, err := r.expandScript(s, in.State)
			if err != nil {
				return nil, err
			}
			items = append(items, more...)
			continue
		}
		items = append(items, &item{file: f, state: in.State, byLibrary: byLib})
	}
	return items, nil
}

func (r *resolver) expandScript(s *input.Script, state options.State) ([]*item, error) {
	var ins []options.Input
	for _, e := range s.Entries {
		st := state
		st.AsNeeded = state.AsNeeded || e.AsNeeded
		switch {
		case e.GroupStart:
			ins = append(ins, options.Input{Kind: options.GroupStart})
		case e.GroupEnd:
			ins = append(ins, options.Input{Kind: options.GroupEnd})
		case e.Library:
			ins = append(ins, options.Input{Kind: options.Library, Name: e.Name, State: st})
		default:
			ins = append(ins, options.Input{Kind: options.File, Name: e.Name, State: st})
		}
	}
	saved := r.opts.LibraryPaths
	r.opts.LibraryPaths = append(append([]string(nil), saved...), s.SearchDirs...)
	defer func() { r.opts.LibraryPaths = saved }()
	return r.expand(ins, filepath.Dir(s.Path))
}

// find returns the path of an input: a file as named (or, from a script,
// searched as GNU ld does), or a -l library searched in the library
// path.
func (r *resolver) find(in options.Input, scriptDir string) (path string, byLib bool, err error) {
	dirs := r.searchDirs()
	if in.Kind == options.Library {
		name := in.Name
		if strings.HasPrefix(name, ":") {
			for _, d := range dirs {
				if p := filepath.Join(d, name[1:]); isFile(p) {
					return p, true, nil
				}
			}
		} else {
			for _, d := range dirs {
				if !in.Static {
					if p := filepath.Join(d, "lib"+name+".so"); isFile(p) {
						return p, true, nil
					}
				}
				if p := filepath.Join(d, "lib"+name+".a"); isFile(p) {
					return p, true, nil
				}
			}
		}
		return "", false, fmt.Errorf("cannot find -l%s: No such file or directory", name)
	}
	name := in.Name
	if scriptDir != "" && strings.HasPrefix(name, "=") {
		name = r.opts.Sysroot + name[1:]
	}
	if isFile(name) || scriptDir == "" {
		if _, err := os.Stat(name); err != nil {
			return "", false, fmt.Errorf("cannot find %s: No such file or directory", name)
		}
		return name, false, nil
	}
	// A relative name in a script that is not in the current directory
	// is looked for beside the script, then in the library path.
	if !filepath.IsAbs(name) {
		for _, d := range append([]string{scriptDir}, dirs...) {
			if p := filepath.Join(d, name); isFile(p) {
				return p, false, nil
			}
		}
	}
	return "", false, fmt.Errorf("cannot find %s", name)
}

func (r *resolver) searchDirs() []string {
	dirs := r.opts.LibraryPaths
	if !r.opts.NoStdlib {
		dirs = append(append([]string(nil), dirs...), DefaultSearchDirs...)
	}
	return dirs
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// namesIn estimates how many names resolution will see: the archives'
// index entries and the objects' symbols (those of the members taken
// are mostly in their archive's index).
func namesIn(items []*item) int {
	n := 0
	for _, it := range items {
		switch f := it.file.(type) {
		case *input.Archive:
			n += len(f.Index)
		case *input.Object:
			n += len(f.Symbols)
		}
	}
	return n
}

// parseAll turns the opened files into resolution's files, in parallel,
// interning their names.
func (r *resolver) parseAll(items []*item) {
	r.parallel(len(items), func(i int) {
		it := items[i]
		switch f := it.file.(type) {
		case *input.Object:
			it.obj, it.err = r.newFile(f)
		case *input.Shlib:
			it.lib = r.newShlib(f, it.byLibrary)
		case *input.Archive:
			if !f.HasIndex && !f.Empty && !it.state.WholeArchive {
				it.err = fmt.Errorf("%s: error adding symbols: archive has no index; run ranlib to add one", f.Path)
				return
			}
			it.arch = &archive{Archive: f, extracted: map[uint64]bool{}}
		}
	})
}

// parallel calls fn(0..n-1) on up to r.threads goroutines.
func (r *resolver) parallel(n int, fn func(i int)) { parallel.For(r.threads, n, fn) }

// newFile makes a resolution file of an object, interning its globals.
func (r *resolver) newFile(o *input.Object) (*File, error) {
	if o.LTO {
		return nil, fmt.Errorf("%s: this object was compiled with -flto (LTO); link-time optimization through the linker plugin is not supported yet: recompile without -flto", o.Name)
	}
	f := &File{Object: o, Syms: make([]*Symbol, len(o.Symbols))}
	f.locals = make([]Symbol, o.FirstGlobal)
	for i := 0; i < o.FirstGlobal; i++ {
		es := &o.Symbols[i]
		s := &f.locals[i]
		*s = Symbol{Name: es.Name, Local: true, Bind: elf.STB_LOCAL, Type: es.Sym.Type(),
			Vis: es.Sym.Visibility(), Value: es.Sym.Value, Size: es.Sym.Size, File: f,
			GOTIndex: -1, PLTIndex: -1, TLSGDIndex: -1, GOTTPIndex: -1, TLSDescIndex: -1}
		switch {
		case es.Shndx == uint32(elf.SHN_UNDEF):
			s.Kind = Undefined
		case es.Absolute():
			s.Kind = Defined
		case es.Common():
			s.Kind = Defined // a local common block makes no sense; treated as absolute
		default:
			s.Kind = Defined
			s.Section = o.Sections[es.Shndx]
			if s.Section == nil {
				s.Section = input.Dropped
			}
		}
		f.Syms[i] = s
	}
	for i := o.FirstGlobal; i < len(o.Symbols); i++ {
		// foo@@V defines foo at its default version V; foo@V (a
		// definition at another version, or a reference to one) is
		// a name of its own.
		name := o.Symbols[i].Name
		if base, ver, def := SplitVersion(name); def && o.Symbols[i].Defined() {
			name = base
		} else if ver != "" && !o.Symbols[i].Defined() {
			r.versionedRefs.Store(true)
		}
		if r.wraps != nil && !o.Symbols[i].Defined() {
			// --wrap: a reference to foo is to __wrap_foo, one to
			// __real_foo to foo.
			if r.wraps[name] {
				name = "__wrap_" + name
			} else if real, ok := strings.CutPrefix(name, "__real_"); ok && r.wraps[real] {
				name = real
			}
		}
		f.Syms[i] = r.table.Intern(name)
	}
	return f, nil
}

// SplitVersion splits a symbol name of a relocatable object into its
// name and version: foo@V (def false) or foo@@V (def true); ver is ""
// for an unversioned name.
func SplitVersion(name string) (base, ver string, def bool) {
	i := strings.IndexByte(name, '@')
	if i <= 0 {
		return name, "", false
	}
	if strings.HasPrefix(name[i:], "@@") {
		return name[:i], name[i+2:], true
	}
	return name[:i], name[i+1:], false
}

func (r *resolver) newShlib(l *input.Shlib, byLib bool) *Shlib {
	lib := &Shlib{Shlib: l, NeededName: l.Needed(byLib)}
	n := l.Obj.NumSymbols()
	lib.Syms = make([]*Symbol, n)
	for i := 1; i < n; i++ {
		sym := l.Obj.Symbol(uint32(i))
		if sym.Bind() == elf.STB_LOCAL {
			continue
		}
		lib.Syms[i] = r.table.Intern(l.Obj.SymbolName(uint32(i)))
	}
	return lib
}
