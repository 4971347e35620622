package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ldgo/ldgo/analyze"
	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/lookup"
	"github.com/ldgo/ldgo/namespace"
)

var cmdVerify = analysisCommand("verify",
	"report undefined symbols and missing versions, as ldd -r does",
	`Reports, for each PROG, what keeps it from loading: missing libraries
(with every path tried), missing versions (with the symbols that need each)
and undefined symbols, in glibc's words, as ldd -r reports them. The status
is 0 when everything resolves, 1 when something does not (or the file is
not a dynamically linked program), 2 for a shared object (no interpreter)
that resolves: ld.so --verify's 2.`,
	nil, runVerify)

type verifyOutput struct {
	header
	OK        bool             `json:"ok"`
	Missing   []missingLibrary `json:"missing_libraries"`
	Versions  []versionProblem `json:"version_problems"`
	Undefined []undefinedRef   `json:"undefined_symbols"`
	Other     []string         `json:"other_errors,omitempty"`
}

type missingLibrary struct {
	Name     string   `json:"name"`
	NeededBy string   `json:"needed_by"`
	Tried    []string `json:"tried,omitempty"`
}

type versionProblem struct {
	Message  string   `json:"message"`
	File     string   `json:"file"`
	Required string   `json:"required_by"`
	Version  string   `json:"version,omitempty"`
	Fatal    bool     `json:"fatal"`
	Symbols  []string `json:"symbols,omitempty"`
	// References are the relocations of required_by that name those
	// symbols: what makes the version needed.
	References []versionReference `json:"references,omitempty"`
}

// versionReference is one symbol that needs a missing version, with the
// object whose relocations name it and their types.
type versionReference struct {
	Symbol      string   `json:"symbol"`
	Object      string   `json:"object"`
	Relocations []string `json:"relocations"`
}

type undefinedRef struct {
	Symbol  string `json:"symbol"`
	Version string `json:"version,omitempty"`
	Object  string `json:"object"`
}

// unresolved sorts the problems of binding into undefined symbols, named
// as ldd -r names them, and other errors.
func unresolved(problems []analyze.Problem, prog string) (undef []undefinedRef, other []string) {
	undef = []undefinedRef{}
	for _, p := range problems {
		var ue *lookup.UndefinedError
		if errors.As(p.Err, &ue) {
			undef = append(undef, undefinedRef{Symbol: ue.Name, Version: ue.Version, Object: p.Map.DisplayName(prog)})
		} else {
			other = append(other, p.Err.Error())
		}
	}
	return undef, other
}

// versionReferences finds, for each of symbols, which of m's relocations
// name it at version of file: the references that need the version. A
// symbol no relocation names still needs it (glibc checks versions
// before anything is relocated), and is listed without references.
func versionReferences(m *linkmap.Map, symbols []string, version, file, prog string) []versionReference {
	var out []versionReference
	for _, name := range symbols {
		vr := versionReference{Symbol: name, Object: m.DisplayName(prog)}
		for _, r := range analyze.References(m, name) {
			if r.Version == nil || r.Version.Name != version || r.Version.File != file {
				continue
			}
			for _, rel := range r.Relocs {
				what := fmt.Sprintf("%s at %#x", relocName(rel.Type), rel.Offset)
				if rel.Slot >= 0 {
					what += fmt.Sprintf(", PLT slot %d", rel.Slot)
				}
				vr.Relocations = append(vr.Relocations, what)
			}
		}
		if len(vr.Relocations) > 0 {
			out = append(out, vr)
		}
	}
	return out
}

// String is ldd -r's line for an undefined symbol.
func (u undefinedRef) String() string {
	msg := "undefined symbol: " + u.Symbol
	if u.Version != "" {
		msg += ", version " + u.Version
	}
	return msg + "\t(" + u.Object + ")"
}

// runVerify reports, as `ldd -r` does, what keeps the program from
// loading: missing libraries, missing versions (with the symbols that need
// each) and undefined symbols. The status says whether the program would
// load (ldd -r always exits 0): 0 when everything resolves, 1 when not,
// and, as ld.so --verify, 2 for a shared object without an interpreter
// that otherwise resolves.
func runVerify(a *analyze.Analysis, opts *options, h header, out, _ io.Writer) int {
	prog := opts.Progname
	res := verifyOutput{header: h, Missing: []missingLibrary{}, Versions: []versionProblem{}, Undefined: []undefinedRef{}}
	fatal := false
	for _, d := range a.NS.Deps {
		if d.Map == nil || !d.Map.Faked || d.Err == nil {
			continue
		}
		ml := missingLibrary{Name: d.Name, NeededBy: "LD_PRELOAD"}
		if d.From != nil {
			ml.NeededBy = d.From.DisplayName(prog)
		}
		if t := triedOf(d.Err); t != nil {
			ml.Tried = t
		}
		res.Missing = append(res.Missing, ml)
		fatal = true
	}
	for _, p := range a.NS.CheckVersions() {
		vp := versionProblem{
			Message:  fmt.Sprintf("%s: %s: %s", prog, p.File.DisplayName(prog), p.Message),
			File:     p.File.DisplayName(prog),
			Required: p.Required.DisplayName(prog),
			Version:  p.Version,
			Fatal:    p.Fatal(),
		}
		if p.Version != "" {
			vp.Symbols = namespace.ReferencesTo(p.Required, p.Version, p.Needed)
			vp.References = versionReferences(p.Required, vp.Symbols, p.Version, p.Needed, prog)
		}
		fatal = fatal || vp.Fatal
		res.Versions = append(res.Versions, vp)
	}
	a.Verbose = true // ldd -r runs ld.so with LD_WARN=yes
	bind := a.Bind(true)
	res.Undefined, res.Other = unresolved(bind.Problems, prog)
	// Relocation's warnings (a copy relocation's size), which ldd -r
	// prints among its findings and which do not stop a load.
	var relocWarnings []string
	for _, w := range bind.Warnings {
		relocWarnings = append(relocWarnings, strings.TrimSuffix(w, "\n"))
	}
	res.Warnings = append(res.Warnings, relocWarnings...)
	fatal = fatal || len(bind.Problems) > 0
	res.OK = !fatal
	status := 0
	switch {
	case fatal:
		status = 1
	case a.NS.Main.Obj.Interp == "":
		status = 2
	}
	if opts.json {
		writeJSON(out, res)
		return status
	}
	for _, m := range res.Missing {
		fmt.Fprintf(out, "%s => not found (needed by %s)\n", m.Name, m.NeededBy)
		for _, t := range m.Tried {
			fmt.Fprintf(out, "\ttried %s\n", t)
		}
	}
	for _, v := range res.Versions {
		fmt.Fprintln(out, v.Message)
		if len(v.Symbols) > 0 {
			fmt.Fprintf(out, "\tneeded by: %s\n", quoteList(v.Symbols))
		}
		for _, r := range v.References {
			fmt.Fprintf(out, "\t%s is referenced by %s: %s\n", r.Symbol, r.Object, strings.Join(r.Relocations, "; "))
		}
	}
	for _, w := range relocWarnings {
		fmt.Fprintln(out, w)
	}
	for _, u := range res.Undefined {
		fmt.Fprintln(out, u)
	}
	for _, o := range res.Other {
		fmt.Fprintln(out, o)
	}
	return status
}
