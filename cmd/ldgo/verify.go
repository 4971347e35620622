package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/ldgo/ldgo/analyze"
	"github.com/ldgo/ldgo/lookup"
	"github.com/ldgo/ldgo/namespace"
)

type verifyOutput struct {
	Program   string           `json:"program"`
	OK        bool             `json:"ok"`
	Missing   []missingLibrary `json:"missing_libraries"`
	Versions  []versionProblem `json:"version_problems"`
	Undefined []undefinedRef   `json:"undefined_symbols"`
	Other     []string         `json:"other_errors,omitempty"`
}

type missingLibrary struct {
	Name     string   `json:"name"`
	NeededBy string   `json:"needed_by"`
	Tried    []string `json:"tried"`
}

type versionProblem struct {
	Message  string   `json:"message"`
	File     string   `json:"file"`
	Required string   `json:"required_by"`
	Version  string   `json:"version,omitempty"`
	Fatal    bool     `json:"fatal"`
	Symbols  []string `json:"symbols,omitempty"`
}

type undefinedRef struct {
	Symbol  string `json:"symbol"`
	Version string `json:"version,omitempty"`
	Object  string `json:"object"`
}

// runVerify reports, as `ldd -r` does, what keeps the program from
// loading: missing libraries, missing versions (with the symbols that need
// each) and undefined symbols. The status is ld.so --verify's: 0 when
// everything resolves, 1 when not (or for a static program), 2 for a
// shared object without an interpreter that otherwise resolves.
func runVerify(a *analyze.Analysis, opts *options, out io.Writer) int {
	prog := opts.Progname
	if a.Static() {
		fmt.Fprintf(out, "%s: not a dynamic executable\n", prog)
		return 1
	}
	res := verifyOutput{Program: prog, Missing: []missingLibrary{}, Versions: []versionProblem{}, Undefined: []undefinedRef{}}
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
		}
		fatal = fatal || vp.Fatal
		res.Versions = append(res.Versions, vp)
	}
	bind := a.Bind(true)
	for _, p := range bind.Problems {
		if u, ok := undefined(p, prog); ok {
			res.Undefined = append(res.Undefined, u)
		} else {
			res.Other = append(res.Other, p.Err.Error())
		}
		fatal = true
	}
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
	}
	for _, u := range res.Undefined {
		fmt.Fprintln(out, u)
	}
	for _, o := range res.Other {
		fmt.Fprintln(out, o)
	}
	return status
}

// undefined returns p as an undefined symbol, if it is one.
func undefined(p analyze.Problem, prog string) (undefinedRef, bool) {
	var ue *lookup.UndefinedError
	if !errors.As(p.Err, &ue) {
		return undefinedRef{}, false
	}
	return undefinedRef{Symbol: ue.Name, Version: ue.Version, Object: p.Map.DisplayName(prog)}, true
}

// String is the line ldd -r prints for an undefined symbol.
func (u undefinedRef) String() string {
	msg := "undefined symbol: " + u.Symbol
	if u.Version != "" {
		msg += ", version " + u.Version
	}
	return msg + "\t(" + u.Object + ")"
}

// problemLine is the line verify prints for p.
func problemLine(p analyze.Problem, prog string) string {
	if u, ok := undefined(p, prog); ok {
		return u.String()
	}
	return p.Err.Error()
}
