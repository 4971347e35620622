package main

import (
	"fmt"
	"io"

	"github.com/ldgo/ldgo/analyze"
	"github.com/ldgo/ldgo/lookup"
)

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
// relocation) follows, as verify prints it, and makes the status 1.
func runBindings(a *analyze.Analysis, opts *options, out io.Writer) int {
	res := a.Bind(opts.now)
	status := 0
	if len(res.Problems) > 0 {
		status = 1
	}
	if opts.json {
		list := []bindingJSON{}
		for _, b := range res.Bindings {
			list = append(list, bindingJSON{
				Ref: b.Ref.DisplayName(opts.Progname), Def: b.Def.DisplayName(opts.Progname),
				Symbol: b.Name, Version: b.Version, Protected: b.Protected, Lazy: b.Lazy,
			})
		}
		writeJSON(out, list)
		return status
	}
	for _, b := range res.Bindings {
		line := lookup.BindingLine(b.Ref.DisplayName(opts.Progname), b.Def.DisplayName(opts.Progname), b.Name, b.Version, b.Protected)
		if b.Lazy {
			line += " (lazy)"
		}
		fmt.Fprintln(out, line)
	}
	for _, p := range res.Problems {
		fmt.Fprintln(out, problemLine(p, opts.Progname))
	}
	return status
}
