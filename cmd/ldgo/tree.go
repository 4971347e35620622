package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ldgo/ldgo/analyze"
	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/namespace"
	"github.com/ldgo/ldgo/search"
)

// treeNode is one request for a library and what answered it.
type treeNode struct {
	Name string `json:"name"`
	Path string `json:"path,omitempty"`
	// Rule says how the file was found; From names the object whose
	// RPATH or RUNPATH held the directory.
	Rule   string `json:"rule,omitempty"`
	Dir    string `json:"dir,omitempty"`
	Subdir string `json:"subdir,omitempty"`
	From   string `json:"from,omitempty"`
	// Loaded is set when the object was already loaded by an earlier
	// request, so it is not expanded again.
	Loaded   bool        `json:"already_loaded,omitempty"`
	NotFound bool        `json:"not_found,omitempty"`
	Error    string      `json:"error,omitempty"`
	Tried    []string    `json:"tried,omitempty"`
	Needs    []*treeNode `json:"needs,omitempty"`
}

// runTree prints the dependency tree: each library under the objects that
// asked for it, with the rule that found it.
func runTree(a *analyze.Analysis, opts *options, out io.Writer) int {
	ns := a.NS
	prog := opts.Progname
	root := &treeNode{Name: prog, Path: prog}
	if interp := ns.Main.Obj.Interp; interp != "" {
		root.Needs = append(root.Needs, &treeNode{Name: interp, Path: interp, Rule: "interpreter (PT_INTERP)"})
	}
	expanded := map[*linkmap.Map]bool{ns.Main: true}
	if ns.Rtld != nil {
		expanded[ns.Rtld] = true
	}
	for _, d := range ns.Deps {
		if d.Preload {
			root.Needs = append(root.Needs, nodeFor(ns, d, prog, expanded))
		}
	}
	root.Needs = append(root.Needs, children(ns, ns.Main, prog, expanded)...)
	status := 0
	for _, d := range ns.Deps {
		if d.Err != nil {
			status = 1
		}
	}
	if opts.json {
		writeJSON(out, root)
		return status
	}
	fmt.Fprintln(out, prog)
	printTree(out, root.Needs, "")
	return status
}

func children(ns *namespace.Namespace, m *linkmap.Map, prog string, expanded map[*linkmap.Map]bool) []*treeNode {
	var out []*treeNode
	for _, d := range ns.Deps {
		if d.From == m && !d.Preload {
			out = append(out, nodeFor(ns, d, prog, expanded))
		}
	}
	return out
}

func nodeFor(ns *namespace.Namespace, d namespace.Dep, prog string, expanded map[*linkmap.Map]bool) *treeNode {
	n := &treeNode{Name: d.Name}
	if d.Err != nil {
		n.NotFound = true
		n.Error = d.Err.Error()
		n.Tried = triedOf(d.Err)
		return n
	}
	m := d.Map
	n.Path = m.Name
	if f := d.Found; f != nil {
		n.Rule, n.Dir, n.Subdir, n.From = f.Rule.String(), f.Dir, f.Subdir, f.From
		if f.Rule == search.ByLibraryPath && f.From == "" {
			n.From = "LD_LIBRARY_PATH"
		}
	}
	switch {
	case m.Rtld:
		n.Rule = "the dynamic linker (already loaded)"
		n.Loaded = true
	case expanded[m] || d.Found == nil:
		n.Loaded = true
	default:
		expanded[m] = true
		n.Needs = children(ns, m, prog, expanded)
	}
	return n
}

// triedOf returns the paths a failed search tried.
func triedOf(err error) []string {
	var nf *search.NotFoundError
	if errors.As(err, &nf) {
		return nf.Tried
	}
	return nil
}

func printTree(out io.Writer, nodes []*treeNode, indent string) {
	for i, n := range nodes {
		branch, next := "├── ", "│   "
		if i == len(nodes)-1 {
			branch, next = "└── ", "    "
		}
		fmt.Fprintf(out, "%s%s%s\n", indent, branch, describeNode(n))
		if n.NotFound {
			for _, t := range n.Tried {
				fmt.Fprintf(out, "%s%s  tried %s\n", indent, next, t)
			}
		}
		printTree(out, n.Needs, indent+next)
	}
}

func describeNode(n *treeNode) string {
	if n.NotFound {
		return fmt.Sprintf("%s => not found (%s)", n.Name, n.Error)
	}
	var b strings.Builder
	b.WriteString(n.Name)
	if n.Path != n.Name {
		b.WriteString(" => " + n.Path)
	}
	var why []string
	switch {
	case n.Rule == "":
	case n.From != "" && n.Rule != search.ByLibraryPath.String():
		why = append(why, fmt.Sprintf("%s of %s: %s", n.Rule, n.From, n.Dir+n.Subdir))
	case n.Dir != "":
		why = append(why, fmt.Sprintf("%s: %s", n.Rule, n.Dir+n.Subdir))
	default:
		why = append(why, n.Rule)
	}
	if n.Loaded && !strings.Contains(n.Rule, "already loaded") {
		why = append(why, "already loaded")
	}
	if len(why) > 0 {
		b.WriteString("  [" + strings.Join(why, "; ") + "]")
	}
	return b.String()
}
