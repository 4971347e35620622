package namespace

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/object"
	"github.com/ldgo/ldgo/search"
)

// mapObject returns the object name refers to when loader asks for it:
// one already loaded under that name, SONAME or file, or one found and
// loaded now (glibc's _dl_map_object). In trace mode a library that is not
// found becomes a faked map, returned together with the error.
func (ns *Namespace) mapObject(loader *linkmap.Map, name string, kind linkmap.Kind, trace bool) (*linkmap.Map, *search.Found, error) {
	if m := ns.findLoaded(name); m != nil {
		return m, nil, nil
	}
	if d := ns.cfg.DebugFiles; d != nil && loader != nil {
		how := "needed by"
		if ns.dlopening {
			how = "dynamically loaded by"
		}
		d("")
		d(fmt.Sprintf("file=%s [0];  %s %s [0]", name, how, loader.DisplayName(ns.cfg.Progname)))
	}
	found, err := ns.Searcher.Find(name, ns.requesters[loader])
	if err != nil {
		var nf *search.NotFoundError
		if trace && errors.As(err, &nf) {
			m := ns.newMap(&linkmap.Map{Name: name, Names: []string{name}, Kind: kind, Loader: loader, Faked: true})
			ns.Chain = append(ns.Chain, m)
			return m, nil, err
		}
		return nil, nil, &LoadError{Name: name, Err: err}
	}
	f := found.File
	for _, m := range ns.Chain {
		if !m.Removed && !m.Faked && m.ID != (object.FileID{}) && m.ID == f.ID {
			f.Close()
			m.AddName(name)
			return m, nil, nil
		}
	}
	for _, a := range ns.cfg.Adoptable {
		if a.ID == f.ID && !inChain(ns.Chain, a) {
			f.Close()
			a.Kind = kind
			a.Loader = loader
			a.AddName(name)
			if a.Name == "" {
				a.Name = found.Path
			}
			ns.add(a, found.Path)
			ns.debugLinkMap(name, a)
			ns.opened(a)
			return a, found, nil
		}
	}
	obj := f.Object
	if obj.Type != elf.ET_DYN {
		f.Close()
		return nil, nil, &LoadError{Name: name, Err: errors.New("cannot dynamically load executable")}
	}
	if obj.Dynamic.Size == 0 {
		f.Close()
		return nil, nil, &LoadError{Name: name, Err: errors.New("object file has no dynamic section")}
	}
	if obj.Dyn.Flags1&elf.DF_1_PIE != 0 {
		f.Close()
		return nil, nil, &LoadError{Name: name, Err: errors.New("cannot dynamically load position-independent executable")}
	}
	base, mobj, err := ns.mapper.Map(f, found.Path)
	if err != nil {
		f.Close()
		return nil, nil, &LoadError{Name: name, Err: err}
	}
	if mobj.Dyn.Flags1&elf.DF_1_PIE != 0 {
		// Known only now when the dynamic section is read through the
		// mapping (object.OpenHeaders).
		if u, ok := ns.mapper.(Unmapper); ok {
			u.Unmap(&linkmap.Map{Obj: mobj, Base: base})
		}
		f.Close()
		return nil, nil, &LoadError{Name: name, Err: errors.New("cannot dynamically load position-independent executable")}
	}
	m := &linkmap.Map{Obj: mobj, File: f, ID: f.ID, Name: found.Path, Names: []string{name}, Base: base, Kind: kind, Loader: loader}
	ns.add(ns.newMap(m), found.Path)
	ns.debugLinkMap(name, m)
	ns.opened(m)
	return m, found, nil
}

func inChain(chain []*linkmap.Map, m *linkmap.Map) bool {
	for _, x := range chain {
		if x == m {
			return true
		}
	}
	return false
}

// add enters a newly loaded object in the chain and gives it what the
// library search and TLS need.
func (ns *Namespace) add(m *linkmap.Map, path string) {
	if m.Serial == 0 {
		ns.newMap(m)
	}
	ns.Chain = append(ns.Chain, m)
	ns.requesters[m] = &search.Requester{Name: m.Name, Origin: ns.originOf(path), Dyn: &m.Obj.Dyn, Loader: ns.requesters[m.Loader], Audit: ns.forAudit}
	ns.assignTLS(m)
}

// findLoaded is the first half of _dl_map_object: an object already in the
// namespace that answers to name, by a name it was loaded under or by its
// SONAME.
func (ns *Namespace) findLoaded(name string) *linkmap.Map {
	for _, m := range ns.Chain {
		if m.Faked || m.Removed {
			continue
		}
		if m.NameMatches(name) {
			return m
		}
		if d := &m.Obj.Dyn; d.HasSoname && d.Soname == name {
			m.AddName(name)
			return m
		}
	}
	return nil
}

// originOf is $ORIGIN for an object found at path: its directory, made
// absolute against the current directory without cleaning, as glibc's
// _dl_new_object computes it. In a tree (--root) the current directory
// is the tree's top, as after chroot.
func (ns *Namespace) originOf(path string) string {
	if path == "" {
		return ""
	}
	if !filepath.IsAbs(path) {
		wd := "/"
		if ns.cfg.Search.Root == nil {
			var err error
			if wd, err = os.Getwd(); err != nil {
				return ""
			}
		}
		if wd[len(wd)-1] != '/' {
			wd += "/"
		}
		path = wd + path
	}
	i := len(path) - 1
	for i > 0 && path[i] != '/' {
		i--
	}
	if i == 0 {
		return "/"
	}
	return path[:i]
}

// depEntry is one element of the breadth-first list mapDeps builds.
type depEntry struct {
	m    *linkmap.Map
	done bool
}

// mapDeps loads the dependencies of root breadth first, after root and the
// preloads, and sets root's search list and initializer order (glibc's
// _dl_map_object_deps).
func (ns *Namespace) mapDeps(root *linkmap.Map, preloads []*linkmap.Map) error {
	known := []*depEntry{{m: root}}
	reserved := map[*linkmap.Map]bool{root: true}
	for _, p := range preloads {
		known = append(known, &depEntry{m: p})
		reserved[p] = true
	}
	var firstErr error
	for i := 0; i < len(known); {
		e := known[i]
		l := e.m
		e.done = true
		collect := l.Searchlist == nil && l.Needed == nil && l != root && l.Obj != nil && l.Obj.Dynamic.Size > 0
		var needed []*linkmap.Map
		if l.Obj != nil && !l.Faked {
			kind := l.Kind
			if kind == linkmap.Executable {
				kind = linkmap.Library
			}
			// The names as readDynamic kept them, in the order of the
			// tags: the file's string table is not read again.
			d := &l.Obj.Dyn
			var nNeeded, nAux, nFilter int
			for _, t := range d.Tags {
				var raw string
				switch t.Tag {
				case elf.DT_NEEDED:
					raw, nNeeded = d.Needed[nNeeded], nNeeded+1
				case elf.DT_AUXILIARY:
					raw, nAux = d.Auxiliary[nAux], nAux+1
				case elf.DT_FILTER:
					raw, nFilter = d.Filter[nFilter], nFilter+1
				default:
					continue
				}
				name, err := ns.Searcher.ExpandNeeded(raw, ns.requesters[l])
				if err != nil {
					if t.Tag == elf.DT_AUXILIARY {
						continue
					}
					firstErr = &LoadError{Name: raw, Err: err}
					break
				}
				dep, found, err := ns.mapObject(l, name, kind, ns.cfg.Trace)
				if err != nil && (dep == nil || t.Tag != elf.DT_NEEDED) {
					if t.Tag == elf.DT_AUXILIARY {
						continue // a missing auxiliary object is not an error
					}
					firstErr = err
					break
				}
				ns.Deps = append(ns.Deps, Dep{From: l, Name: name, Map: dep, Found: found, Err: err})
				if t.Tag == elf.DT_NEEDED {
					if !reserved[dep] {
						known = append(known, &depEntry{m: dep})
						reserved[dep] = true
					}
					needed = append(needed, dep)
					continue
				}
				// A filtee is searched before the filter: insert it
				// right before the current object, or move it there if
				// it is already later in the list.
				needed = append(needed, dep)
				if reserved[dep] {
					at := -1
					for j := i + 1; j < len(known); j++ {
						if known[j].m == dep {
							at = j
							break
						}
					}
					if at < 0 {
						continue // already earlier: found early enough
					}
					known = append(known[:at], known[at+1:]...)
				}
				reserved[dep] = true
				known = append(known, nil)
				copy(known[i+1:], known[i:])
				known[i] = &depEntry{m: dep}
				i++
				ns.Chain = remove(ns.Chain, dep)
				for j, m := range ns.Chain {
					if m == l {
						ns.Chain = insert(ns.Chain, j, dep)
						break
					}
				}
			}
		}
		if firstErr != nil {
			break
		}
		if collect {
			l.Needed = needed
			if l.Needed == nil {
				l.Needed = []*linkmap.Map{}
			}
		}
		for i < len(known) && known[i].done {
			i++
		}
		// Filtees inserted before the current object are processed
		// next; the walk resumes at the first entry not yet done.
		for j := 0; j < len(known); j++ {
			if !known[j].done {
				i = j
				break
			}
		}
	}

	list := make([]*linkmap.Map, 0, len(known))
	for _, e := range known {
		if !e.m.Faked {
			list = append(list, e.m)
		}
	}
	root.Searchlist = list
	if root.Needed == nil {
		root.Needed = directNeeded(root, ns.Deps)
	}
	order := make([]*linkmap.Map, len(list))
	copy(order, list)
	// The root goes first (it is initialized last); filtees inserted
	// before it follow.
	for k, m := range order {
		if m == root {
			copy(order[1:k+1], order[:k])
			order[0] = root
			break
		}
	}
	sortMaps(order, true, false)
	root.Initfini = order
	return firstErr
}

// directNeeded lists what root's DT_NEEDED entries resolved to.
func directNeeded(root *linkmap.Map, deps []Dep) []*linkmap.Map {
	var out []*linkmap.Map
	for _, d := range deps {
		if d.From == root && d.Map != nil {
			out = append(out, d.Map)
		}
	}
	return out
}
