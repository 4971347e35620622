package namespace

import (
	"fmt"

	"github.com/ldgo/ldgo/linkmap"
)

// VersionProblem is one needed symbol version that its file does not
// define, or a file without version information, in glibc's words.
type VersionProblem struct {
	// File is the object that should define the version (glibc names it
	// first in the message); Required is the object that needs it.
	File, Required *linkmap.Map
	// Needed is the name the requirement gives the file (its SONAME).
	Needed  string
	Version string
	// Weak problems are only reported, never fatal; so is a file with
	// no version information at all (NoInfo).
	Weak   bool
	NoInfo bool
	// Message is glibc's text, without the leading object name.
	Message string
}

// CheckVersions checks every version each object needs against the object
// that should define it (glibc's _dl_check_all_versions), in chain order.
func (ns *Namespace) CheckVersions() []VersionProblem {
	var out []VersionProblem
	for _, m := range ns.Chain {
		if m.Faked || m.Obj == nil {
			continue
		}
		out = append(out, ns.checkMap(m)...)
	}
	return out
}

func (ns *Namespace) checkMap(m *linkmap.Map) []VersionProblem {
	var out []VersionProblem
	name := m.DisplayName(ns.cfg.Progname)
	for _, vn := range m.Obj.Verneeds {
		needed := ns.findNeeded(vn.File, m)
		if needed == nil || needed.Faked {
			continue
		}
		if !needed.Obj.HasVerdef() {
			out = append(out, VersionProblem{
				File: needed, Required: m, Needed: vn.File, NoInfo: true,
				Message: fmt.Sprintf("no version information available (required by %s)", name),
			})
			continue
		}
		for _, a := range vn.Aux {
			if d := ns.cfg.DebugVersions; d != nil {
				d(fmt.Sprintf("checking for version `%s' in file %s [0] required by file %s [0]", a.Name, needed.DisplayName(ns.cfg.Progname), name))
			}
			if needed.Obj.DefinesVersion(a.Name, a.Hash) {
				continue
			}
			p := VersionProblem{File: needed, Required: m, Needed: vn.File, Version: a.Name, Weak: a.Weak()}
			if p.Weak {
				p.Message = fmt.Sprintf("weak version `%s' not found (required by %s)", a.Name, name)
			} else {
				p.Message = fmt.Sprintf("version `%s' not found (required by %s)", a.Name, name)
			}
			out = append(out, p)
		}
	}
	return out
}

// findNeeded finds the object a DT_VERNEED entry names: in the whole
// namespace first, then among m's own dependencies.
func (ns *Namespace) findNeeded(file string, m *linkmap.Map) *linkmap.Map {
	for _, l := range ns.Chain {
		if l.NameMatches(file) {
			return l
		}
	}
	for _, l := range m.Searchlist {
		if l.NameMatches(file) {
			return l
		}
	}
	return nil
}

// Fatal reports whether a version problem stops the program from loading.
func (p *VersionProblem) Fatal() bool { return !p.Weak && !p.NoInfo }

// ReferencesTo lists the symbols of m that are bound to version v of file
// (a version that may be missing): which symbols need it. A symbol at a
// needed version is a reference even when defined: an executable's copy
// of a library's data (a COPY relocation) is defined there.
func ReferencesTo(m *linkmap.Map, version, file string) []string {
	var out []string
	obj := m.Obj
	for i := 0; i < obj.NumSymbols(); i++ {
		idx := uint32(i)
		if v, _ := obj.SymbolVersion(idx); v != nil && v.File == file && v.Name == version {
			out = append(out, obj.SymbolName(idx))
		}
	}
	return out
}
