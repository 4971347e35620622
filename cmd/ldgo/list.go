package main

import (
	"debug/elf"
	"fmt"
	"io"

	"github.com/ldgo/ldgo/analyze"
	"github.com/ldgo/ldgo/linkmap"
)

// listEntry is one line of `ldgo list`.
type listEntry struct {
	Name     string `json:"name"`
	Path     string `json:"path,omitempty"`
	Address  uint64 `json:"address,omitempty"`
	NotFound bool   `json:"not_found,omitempty"`
}

type listOutput struct {
	Program  string      `json:"program"`
	Static   bool        `json:"static,omitempty"`
	Problems []string    `json:"problems,omitempty"`
	Objects  []listEntry `json:"objects"`
}

// runList prints what ldd prints: version problems first, then every
// object after the program in load order.
func runList(a *analyze.Analysis, opts *options, out io.Writer) int {
	res := listOutput{Program: opts.Progname, Objects: []listEntry{}}
	if a.Static() {
		res.Static = true
		if opts.json {
			writeJSON(out, res)
		} else {
			fmt.Fprintln(out, "\tnot a dynamic executable")
		}
		return 1
	}
	for _, p := range a.NS.CheckVersions() {
		res.Problems = append(res.Problems, fmt.Sprintf("%s: %s: %s", opts.Progname, p.File.DisplayName(opts.Progname), p.Message))
	}
	for _, m := range a.NS.Chain[1:] {
		res.Objects = append(res.Objects, listEntryOf(m))
	}
	if opts.json {
		writeJSON(out, res)
		return 0
	}
	for _, p := range res.Problems {
		fmt.Fprintln(out, p)
	}
	for _, e := range res.Objects {
		switch {
		case e.NotFound:
			fmt.Fprintf(out, "\t%s => not found\n", e.Name)
		case e.Path == "":
			fmt.Fprintf(out, "\t%s (0x%016x)\n", e.Name, e.Address)
		default:
			fmt.Fprintf(out, "\t%s => %s (0x%016x)\n", e.Name, e.Path, e.Address)
		}
	}
	return 0
}

func listEntryOf(m *linkmap.Map) listEntry {
	e := listEntry{Name: m.Names[0]}
	if m.Faked {
		e.NotFound = true
		return e
	}
	if m.Name != e.Name {
		e.Path = m.Name
	}
	e.Address = mapStart(m)
	return e
}

// mapStart is where the object's first segment is (glibc's l_map_start),
// the address ldd prints.
func mapStart(m *linkmap.Map) uint64 {
	for _, p := range m.Obj.Progs {
		if p.Type == elf.PT_LOAD {
			return m.Base + p.Vaddr&^0xfff
		}
	}
	return m.Base
}
