package resolve

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ldgo/ldgo/link/input"
	"github.com/ldgo/ldgo/link/options"
	"github.com/ldgo/ldgo/object"
	"github.com/ldgo/ldgo/search"
)

// loadNeeded finds the libraries the link's shared libraries name in
// DT_NEEDED and the link does not have, and the ones those need, as GNU
// ld loads them to see what the libraries' own references bind to. They
// define nothing for the output (it does not need them); a library
// that cannot be found is a warning in GNU ld's words.
//
// The search is GNU ld's for a native linker: -rpath-link, -rpath,
// LD_RUN_PATH (only with neither), LD_LIBRARY_PATH, the needing
// library's DT_RUNPATH (or DT_RPATH), then the default directories (not
// the -L ones).
func (r *resolver) loadNeeded(items []*item) {
	known := map[string]bool{}
	// Libraries read but left out (--as-needed, unneeded) are still
	// the files their names stand for.
	dropped := map[string]*Shlib{}
	for _, it := range items {
		if it.lib == nil {
			continue
		}
		if r.sonames[it.lib.NeededName] {
			known[it.lib.NeededName] = true
		} else {
			dropped[it.lib.NeededName] = it.lib
		}
	}
	queue := append([]*Shlib(nil), r.res.Shlibs...)
	for len(queue) > 0 {
		l := queue[0]
		queue = queue[1:]
		for _, name := range l.Obj.Dyn.Needed {
			if known[name] {
				continue
			}
			known[name] = true
			found := dropped[name]
			if found == nil {
				found = r.findNeeded(name, l)
			}
			if found == nil {
				r.res.Warnings = append(r.res.Warnings,
					fmt.Sprintf("%s, needed by %s, not found (try using -rpath or -rpath-link)", name, l.Path))
				continue
			}
			if !found.Obj.Dyn.HasSoname {
				// Named as the library that needs it names it.
				found.NeededName = name
			}
			known[found.NeededName] = true
			queue = append(queue, found)
			found.CopyDTNeeded = l.CopyDTNeeded
			if l.CopyDTNeeded {
				// As an --as-needed library after the others: in the
				// link if it defines what an object refers to.
				if r.addShlib(&item{lib: found, state: options.State{AsNeeded: true, CopyDTNeeded: true}}) {
					continue
				}
			}
			r.res.Implicit = append(r.res.Implicit, found)
		}
	}
}

// missingDSO is GNU ld's error for an object's reference (not weak) to
// a name only a library the link did not name defines (one loaded for
// another library's DT_NEEDED): the output would not need that library,
// so the dynamic linker would not bind the reference. GNU ld stops at
// the first such name, in the order it reads the libraries.
func (r *resolver) missingDSO() error {
	for _, l := range r.res.Implicit {
		obj := l.Obj
		for i := 1; i < obj.NumSymbols(); i++ {
			sym := obj.Symbol(uint32(i))
			if sym.Undefined() || sym.Bind() == elf.STB_LOCAL {
				continue
			}
			if _, hidden := obj.SymbolVersion(uint32(i)); hidden {
				continue
			}
			s := r.table.Lookup(obj.SymbolName(uint32(i)))
			if s == nil || s.Kind != Undefined || !s.StrongRef || s.RefBy == nil {
				continue
			}
			return errors.Join(fmt.Errorf("%s: undefined reference to symbol '%s'", s.RefBy.Name, s.Name),
				fmt.Errorf("%s: error adding symbols: DSO missing from command line", l.Path))
		}
	}
	return nil
}

// findNeeded searches for the library named name that l needs.
func (r *resolver) findNeeded(name string, l *Shlib) *Shlib {
	if strings.Contains(name, "/") {
		return r.openNeeded(name)
	}
	var dirs []string
	split := func(list []string) {
		for _, s := range list {
			for _, d := range strings.Split(s, ":") {
				if d != "" {
					dirs = append(dirs, d)
				}
			}
		}
	}
	split(r.opts.RpathLink)
	split(r.opts.Rpath)
	if len(r.opts.RpathLink) == 0 && len(r.opts.Rpath) == 0 {
		split([]string{os.Getenv("LD_RUN_PATH")})
	}
	split([]string{os.Getenv("LD_LIBRARY_PATH")})
	path := l.Obj.Dyn.Runpath
	if !l.Obj.Dyn.HasRunpath {
		path = l.Obj.Dyn.Rpath
	}
	split([]string{search.ExpandDST(path, filepath.Dir(l.Path), "x86_64")})
	if !r.opts.NoStdlib {
		dirs = append(dirs, DefaultSearchDirs...)
	}
	for _, d := range dirs {
		if lib := r.openNeeded(d + "/" + name); lib != nil {
			return lib
		}
	}
	return nil
}

// openNeeded reads path as a shared library, nil if it is none (GNU ld
// skips a file it cannot use and searches on).
func (r *resolver) openNeeded(path string) *Shlib {
	if !isFile(path) {
		return nil
	}
	f, err := input.Open(path)
	if err != nil {
		return nil
	}
	l, ok := f.(*input.Shlib)
	if !ok {
		return nil
	}
	return r.newShlib(l, false)
}

// ShlibUndefined returns GNU ld's errors for the shared libraries'
// undefined references (not weak) that nothing in the link defines
// (--no-allow-shlib-undefined): the libraries on the command line and
// those they need. One error per name, naming the first library that
// refers to it; a name an object refers to too is that object's
// undefined reference instead, unless --gc-sections may have removed
// the reference.
func (res *Result) ShlibUndefined(gcSections bool) []error {
	var errs []error
	reported := map[string]bool{}
	libs := append(res.Shlibs[:len(res.Shlibs):len(res.Shlibs)], res.Implicit...)
	for _, l := range libs {
		obj := l.Obj
		for i := 1; i < obj.NumSymbols(); i++ {
			sym := obj.Symbol(uint32(i))
			if !sym.Undefined() || sym.Bind() != elf.STB_GLOBAL {
				continue
			}
			name := obj.SymbolName(uint32(i))
			if reported[name] {
				continue
			}
			if s := res.Table.Lookup(name); s != nil && (s.IsDefined() || s.Referenced && !gcSections) {
				continue
			}
			ref, _ := obj.SymbolVersion(uint32(i))
			if definedByALibrary(libs, name, ref) {
				continue
			}
			reported[name] = true
			errs = append(errs, fmt.Errorf("%s: undefined reference to `%s'", l.Path, name))
		}
	}
	return errs
}

// HiddenReferenced is GNU ld's error for an executable that defines, as
// hidden or internal, a name a shared library of the link refers to
// (not weakly) and no library defines: the library cannot bind to it.
// GNU ld stops at the first; output is the output file's name.
func (res *Result) HiddenReferenced(output string) error {
	libs := append(res.Shlibs[:len(res.Shlibs):len(res.Shlibs)], res.Implicit...)
	for _, s := range res.Globals() {
		if s.ShlibRef == nil || s.Kind != Defined && s.Kind != Common || s.Vis != elf.STV_HIDDEN && s.Vis != elf.STV_INTERNAL {
			continue
		}
		if definedByALibrary(libs, s.Name, nil) {
			continue
		}
		what := "hidden"
		if s.Vis == elf.STV_INTERNAL {
			what = "internal"
		}
		return errors.Join(fmt.Errorf("%s: %s symbol `%s' in %s is referenced by DSO", output, what, s.Name, s.File.Name),
			errors.New("final link failed: bad value"))
	}
	return nil
}

// definedByALibrary reports whether one of libs defines name for a
// reference at version ref (nil: unversioned), looked up through each
// library's hash table as the dynamic linker looks it up. The names it
// is asked for are the few the link's own symbols leave undefined
// (mostly libc's references to the dynamic linker, which --as-needed
// leaves out of the link).
func definedByALibrary(libs []*Shlib, name string, ref *object.Version) bool {
	h := object.NewHash(name)
	for _, l := range libs {
		obj := l.Obj
		found := false
		obj.Candidates(&h, func(idx uint32) bool {
			sym := obj.Symbol(idx)
			if sym.Undefined() || sym.Bind() == elf.STB_LOCAL {
				return true
			}
			d := shlibDef{index: obj.Versym(idx) &^ object.VersymHidden}
			v, hidden := obj.SymbolVersion(idx)
			if v != nil {
				d.version = v.Name
			}
			d.hidden = hidden
			found = satisfied(d, ref)
			return !found
		})
		if found {
			return true
		}
	}
	return false
}

// shlibDef is a shared library's definition of a name.
type shlibDef struct {
	version string // "" for none
	index   uint16 // the version's index, without the hidden bit
	hidden  bool
}

// satisfied reports whether d binds a library's reference at version
// ref (nil: unversioned): a default version does; a hidden one only for
// a reference naming it, or, for an unversioned reference, if it is the
// library's base or first version (as GNU ld allows what ld.so allows).
func satisfied(d shlibDef, ref *object.Version) bool {
	switch {
	case !d.hidden:
		return true
	case ref != nil && ref.Name == d.version:
		return true
	}
	return ref == nil && (d.index == 1 || d.index == 2)
}
