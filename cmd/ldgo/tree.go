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

var cmdTree = analysisCommand("tree",
	"show the dependency tree and why each library was found where",
	`Prints, for each PROG, every library request as a tree: each library under
the object that needs it, with the rule that found it (path, RPATH,
LD_LIBRARY_PATH, RUNPATH, ld.so.cache, system search path), the directory
and, for RPATH and RUNPATH, whose it was. Preloads are labelled
[LD_PRELOAD] or [--preload]. A missing library lists every path tried;
the status is then 1.`,
	nil, runTree)

type treeOutput struct {
	header
	Needs []*treeNode `json:"needs"`
}

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
	// Preload names where a preload came from: "LD_PRELOAD",
	// "--preload" or the preload file. Ignored is set for one that
	// could not be loaded, which glibc ignores.
	Preload string `json:"preload,omitempty"`
	Ignored bool   `json:"ignored,omitempty"`
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
func runTree(a *analyze.Analysis, opts *options, h header, out, _ io.Writer) int {
	ns := a.NS
	prog := opts.Progname
	var needs []*treeNode
	if interp := ns.Main.Obj.Interp; interp != "" {
		needs = append(needs, &treeNode{Name: interp, Path: interp, Rule: "interpreter (PT_INTERP)"})
	}
	tb := &treeBuilder{ns: ns, libraryPathWhat: opts.LibraryPathWhat, expanded: map[*linkmap.Map]bool{ns.Main: true}}
	if ns.Rtld != nil {
		tb.expanded[ns.Rtld] = true
	}
	for _, d := range ns.Deps {
		if d.Preload {
			needs = append(needs, tb.node(d))
		}
	}
	needs = append(needs, tb.children(ns.Main)...)
	status := 0
	for _, d := range ns.Deps {
		if d.Err != nil && !d.Preload {
			status = 1
		}
	}
	if opts.json {
		if needs == nil {
			needs = []*treeNode{}
		}
		writeJSON(out, treeOutput{header: h, Needs: needs})
		return status
	}
	fmt.Fprintln(out, prog)
	printTree(out, needs, "")
	return status
}

// treeBuilder makes the tree's nodes, each object's needs under the first
// request that loaded it.
type treeBuilder struct {
	ns              *namespace.Namespace
	libraryPathWhat string
	expanded        map[*linkmap.Map]bool
}

func (tb *treeBuilder) children(m *linkmap.Map) []*treeNode {
	var out []*treeNode
	for _, d := range tb.ns.Deps {
		if d.From == m && !d.Preload {
			out = append(out, tb.node(d))
		}
	}
	return out
}

func (tb *treeBuilder) node(d namespace.Dep) *treeNode {
	n := &treeNode{Name: d.Name, Preload: d.PreloadFrom}
	if d.Err != nil {
		n.Ignored = d.Preload
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
			n.From = tb.libraryPathWhat
		}
		if d.Preload && f.Rule == search.ByPath {
			n.Rule = "" // the preload's label says it all
		}
	}
	switch {
	case m.Rtld:
		n.Rule = "the dynamic linker (already loaded)"
		n.Loaded = true
	case tb.expanded[m] || d.Found == nil:
		n.Loaded = true
	default:
		tb.expanded[m] = true
		n.Needs = tb.children(m)
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
	var why []string
	if n.Preload != "" {
		why = append(why, n.Preload)
	}
	label := func() string {
		if len(why) == 0 {
			return ""
		}
		return "  [" + strings.Join(why, "; ") + "]"
	}
	switch {
	case n.Ignored:
		return fmt.Sprintf("%s => cannot be preloaded (%s): ignored%s", n.Name, n.Error, label())
	case n.NotFound:
		return fmt.Sprintf("%s => not found (%s)", n.Name, n.Error)
	}
	var b strings.Builder
	b.WriteString(n.Name)
	if n.Path != n.Name {
		b.WriteString(" => " + n.Path)
	}
	switch {
	case n.Rule == "":
	case n.Rule == search.ByLibraryPath.String() && n.From != "":
		// The path's source: LD_LIBRARY_PATH or --library-path.
		why = append(why, fmt.Sprintf("%s: %s", n.From, n.Dir+n.Subdir))
	case n.From != "":
		why = append(why, fmt.Sprintf("%s of %s: %s", n.Rule, n.From, n.Dir+n.Subdir))
	case n.Dir != "":
		why = append(why, fmt.Sprintf("%s: %s", n.Rule, n.Dir+n.Subdir))
	default:
		why = append(why, n.Rule)
	}
	if n.Loaded && !strings.Contains(n.Rule, "already loaded") {
		why = append(why, "already loaded")
	}
	b.WriteString(label())
	return b.String()
}
