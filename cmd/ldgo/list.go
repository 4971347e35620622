package main

import (
	"debug/elf"
	"fmt"
	"io"

	"github.com/ldgo/ldgo/analyze"
	"github.com/ldgo/ldgo/linkmap"
)

var cmdList = analysisCommand("list",
	"list the libraries PROG loads, as ldd does",
	`Prints, for each PROG, the objects glibc's ld.so would load for it, in
load order, as ldd prints them (with the addresses of ldgo's file image),
and the versions that are missing. A file ldd would not trace (missing, not
a regular file, unreadable, not a dynamically linked ELF object of this
machine) is reported in ldd's words, with status 1.`,
	nil, runList)

// listEntry is one line of `ldgo list`.
type listEntry struct {
	Name     string `json:"name"`
	Path     string `json:"path,omitempty"`
	Address  uint64 `json:"address,omitempty"`
	NotFound bool   `json:"not_found,omitempty"`
}

type listOutput struct {
	header
	// StaticallyLinked is set for an object without DT_NEEDED, of
	// which ldd says "statically linked" and lists nothing.
	StaticallyLinked bool        `json:"statically_linked,omitempty"`
	Problems         []string    `json:"problems,omitempty"`
	Objects          []listEntry `json:"objects"`
}

// runList prints what ldd prints: version problems first, then every
// object after the program in load order.
func runList(a *analyze.Analysis, opts *options, h header, out, errOut io.Writer) int {
	res := listOutput{header: h, Objects: []listEntry{}, Problems: versionMessages(a, opts.Progname)}
	if len(a.NS.Main.Obj.Dyn.Needed) == 0 {
		res.StaticallyLinked = true
	} else {
		for _, m := range a.NS.Chain[1:] {
			res.Objects = append(res.Objects, listEntryOf(m))
		}
	}
	// ld.so prints them on stderr, which ldd merges into its output.
	if opts.ldso {
		for _, p := range res.Problems {
			fmt.Fprintln(errOut, p)
		}
	}
	if opts.json {
		writeJSON(out, res)
		return 0
	}
	if !opts.ldso {
		for _, p := range res.Problems {
			fmt.Fprintln(out, p)
		}
	}
	if res.StaticallyLinked {
		fmt.Fprintln(out, "\tstatically linked")
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

// versionMessages are glibc's messages about the versions the objects
// need and do not find, as ldd prints them first.
func versionMessages(a *analyze.Analysis, prog string) []string {
	var msgs []string
	for _, p := range a.NS.CheckVersions() {
		msgs = append(msgs, fmt.Sprintf("%s: %s: %s", prog, p.File.DisplayName(prog), p.Message))
	}
	return msgs
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
