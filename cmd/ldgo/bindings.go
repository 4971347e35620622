package main

import (
	"fmt"
	"io"

	"github.com/ldgo/ldgo/analyze"
	"github.com/ldgo/ldgo/lookup"
)

var cmdBindings = analysisCommand("bindings",
	"show every symbol binding, as LD_DEBUG=bindings does",
	`Prints, for each PROG, every symbol binding in the form of glibc's
LD_DEBUG=bindings (without the pid column): bindings made at start-up
first, in glibc's relocation order, then PLT references, marked (lazy),
which glibc binds at their first call. References that bind to nothing are
reported on standard error as ldd -r reports them (missing versions
first), with status 1.`,
	[]option{{name: "now", help: "bind every PLT slot at start-up, as LD_BIND_NOW"}},
	runBindings)

type bindingsOutput struct {
	header
	Problems   []string       `json:"problems,omitempty"`
	Bindings   []bindingJSON  `json:"bindings"`
	Unresolved []undefinedRef `json:"unresolved"`
	Other      []string       `json:"other_errors,omitempty"`
}

type bindingJSON struct {
	Ref       string `json:"ref"`
	Def       string `json:"def"`
	Symbol    string `json:"symbol"`
	Version   string `json:"version,omitempty"`
	Protected bool   `json:"protected,omitempty"`
	Lazy      bool   `json:"lazy,omitempty"`
}

// runBindings prints every symbol binding in glibc's LD_DEBUG=bindings
// form, without the pid column. Lazy PLT bindings come after the start-up
// ones and are marked. What does not bind (an undefined symbol, a damaged
// relocation) goes to stderr, in ldd -r's words, and makes the status 1.
func runBindings(a *analyze.Analysis, opts *options, h header, out, errOut io.Writer) int {
	prog := opts.Progname
	res := a.Bind(opts.now)
	status := 0
	if len(res.Problems) > 0 {
		status = 1
	}
	problems := versionMessages(a, prog)
	undef, other := unresolved(res.Problems, prog)
	for _, p := range problems {
		fmt.Fprintln(errOut, p)
	}
	for _, u := range undef {
		fmt.Fprintln(errOut, u)
	}
	for _, o := range other {
		fmt.Fprintln(errOut, o)
	}
	if opts.json {
		doc := bindingsOutput{header: h, Problems: problems, Bindings: []bindingJSON{}, Unresolved: undef, Other: other}
		for _, b := range res.Bindings {
			doc.Bindings = append(doc.Bindings, bindingJSON{
				Ref: b.Ref.DisplayName(prog), Def: b.Def.DisplayName(prog),
				Symbol: b.Name, Version: b.Version, Protected: b.Protected, Lazy: b.Lazy,
			})
		}
		writeJSON(out, doc)
		return status
	}
	for _, b := range res.Bindings {
		line := lookup.BindingLine(b.Ref.DisplayName(prog), b.Def.DisplayName(prog), b.Name, b.Version, b.Protected)
		if b.Lazy {
			line += " (lazy)"
		}
		fmt.Fprintln(out, line)
	}
	return status
}
