package main

import (
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"

	"github.com/ldgo/ldgo/analyze"
	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/namespace"
	"github.com/ldgo/ldgo/search"
)

var cmdTree = analysisCommandWith("tree",
	"show the dependency tree and why each library was found where",
	`Prints, for each PROG, every library request as a tree: each library under
the object that needs it, with the rule that found it (path, RPATH,
LD_LIBRARY_PATH, RUNPATH, ld.so.cache, system search path), the directory
and, for RPATH and RUNPATH, whose it was. Preloads are labelled
[LD_PRELOAD] or [--preload]. A library met again is shown once more
with "(see above)", its needs not repeated (--all repeats them, and
labels each request by what it found: the rule for the request that
loaded the library, "already loaded" for the others). A missing library
lists every path tried; the status is then 1.
With --format dot, the same graph for Graphviz: each object a node,
each request an edge labelled with the rule that found the library (or
"already loaded"), missing libraries in red; --format svg draws it
with Graphviz's dot.`,
	[]option{
		{name: "all", help: "show the needs of a library at every request for it"},
		{name: "format", arg: "FORMAT", help: "text (the default), dot (Graphviz) or svg (drawn by\nGraphviz's dot)"},
	}, runTree, prepareTree)

func prepareTree(opts *options) error {
	switch opts.format {
	case "", "text":
		opts.format = ""
	case "dot":
	case "svg":
		if opts.nprogs > 1 {
			return errors.New("--format svg draws one program at a time")
		}
		if _, err := exec.LookPath("dot"); err != nil {
			return failure{"--format svg needs Graphviz's dot, which is not in PATH (Debian: apt-get install graphviz); --format dot prints the graph for it"}
		}
	default:
		return fmt.Errorf("unknown format %q (text, dot or svg)", opts.format)
	}
	if opts.format != "" && opts.json {
		return errors.New("--json and --format " + opts.format + " print different things: choose one")
	}
	return nil
}

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

	// m is the object the request resolved to; nil when it failed.
	m *linkmap.Map
}

// runTree prints the dependency tree: each library under the objects that
// asked for it, with the rule that found it.
func runTree(a *analyze.Analysis, opts *options, h header, out, errOut io.Writer) int {
	ns := a.NS
	tb := &treeBuilder{ns: ns, libraryPathWhat: opts.LibraryPathWhat, loading: map[*linkmap.Map]namespace.Dep{}}
	for _, d := range ns.Deps {
		if d.Found != nil && d.Map != nil {
			if _, ok := tb.loading[d.Map]; !ok {
				tb.loading[d.Map] = d
			}
		}
	}
	status := 0
	for _, d := range ns.Deps {
		if d.Err != nil && !d.Preload {
			status = 1
		}
	}
	switch opts.format {
	case "dot":
		writeDot(out, tb, opts.Progname)
		return status
	case "svg":
		return max(status, drawSVG(out, errOut, tb, opts.Progname))
	}
	if opts.json {
		needs := tb.expand(tb.top(), map[*linkmap.Map]bool{ns.Main: true, ns.Rtld: true})
		if needs == nil {
			needs = []*treeNode{}
		}
		writeJSON(out, treeOutput{header: h, Needs: needs})
		return status
	}
	fmt.Fprintln(out, opts.Progname)
	p := &treePrinter{tb: tb, out: out, all: opts.all, shown: map[*linkmap.Map]string{ns.Main: opts.Progname}, missing: map[string]bool{}}
	p.print(tb.top(), "", []*linkmap.Map{ns.Main})
	return status
}

// treeBuilder makes the tree's nodes, one per request.
type treeBuilder struct {
	ns              *namespace.Namespace
	libraryPathWhat string
	// loading is, for each object, the request that loaded it.
	loading map[*linkmap.Map]namespace.Dep
}

// top returns the requests of the tree's first level: the interpreter,
// the preloads, the program's needs.
func (tb *treeBuilder) top() []*treeNode {
	ns := tb.ns
	var needs []*treeNode
	if interp := ns.Main.Obj.Interp; interp != "" {
		needs = append(needs, &treeNode{Name: interp, Path: interp, Rule: "interpreter (PT_INTERP)", m: ns.Rtld})
	}
	for _, d := range ns.Deps {
		if d.Preload {
			needs = append(needs, tb.node(d))
		}
	}
	return append(needs, tb.children(ns.Main)...)
}

// children returns the requests m made, in order.
func (tb *treeBuilder) children(m *linkmap.Map) []*treeNode {
	var out []*treeNode
	for _, d := range tb.ns.Deps {
		if d.From == m && !d.Preload {
			out = append(out, tb.node(d))
		}
	}
	return out
}

// node is one request as it was answered, its needs not filled in.
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
	n.m = m
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
	case d.Found == nil:
		n.Loaded = true
	}
	return n
}

// found is the request n, labelled with what found its object: the
// request that loaded it.
func (tb *treeBuilder) found(n *treeNode) *treeNode {
	d, ok := tb.loading[n.m]
	if !ok || n.m == nil {
		return n
	}
	f := tb.node(d)
	f.Name, f.Preload = n.Name, n.Preload
	return f
}

// expand fills in the needs of each object under the request that loaded
// it, as the JSON document has them.
func (tb *treeBuilder) expand(nodes []*treeNode, done map[*linkmap.Map]bool) []*treeNode {
	for _, n := range nodes {
		if n.m != nil && !n.Loaded && !done[n.m] {
			done[n.m] = true
			n.Needs = tb.expand(tb.children(n.m), done)
		} else if n.m != nil && n.Rule != "interpreter (PT_INTERP)" {
			n.Loaded = true
		}
	}
	return nodes
}

// treePrinter prints the text tree. Each object's needs are shown at its
// first appearance, a later one says "(see above)"; with all, at every
// request, but for an object needing one of its own askers.
type treePrinter struct {
	tb      *treeBuilder
	out     io.Writer
	all     bool
	shown   map[*linkmap.Map]string // the name each object was shown by
	missing map[string]bool
}

const seeAbove = "(see above)"

func (p *treePrinter) print(nodes []*treeNode, indent string, path []*linkmap.Map) {
	for i, n := range nodes {
		branch, next := "├── ", "│   "
		if i == len(nodes)-1 {
			branch, next = "└── ", "    "
		}
		line := describeNode(n)
		var needs []*treeNode
		switch {
		case n.NotFound:
			if p.missing[n.Name] && !p.all {
				line += " " + seeAbove
				break
			}
			p.missing[n.Name] = true
			for _, t := range n.Tried {
				line += "\n" + indent + next + "  tried " + t
			}
		case p.all && slices.Contains(path, n.m):
			line += " " + seeAbove
		case p.all:
			needs = p.tb.children(n.m)
		case p.shown[n.m] != "":
			// By its name alone when the line above shows that name.
			line = n.Name + " " + seeAbove
			if p.shown[n.m] != n.Name {
				line = describeName(n) + " " + seeAbove
			}
		default:
			p.shown[n.m] = n.Name
			line = describeNode(p.tb.found(n))
			needs = p.tb.children(n.m)
		}
		fmt.Fprintf(p.out, "%s%s%s\n", indent, branch, line)
		if len(needs) > 0 {
			p.print(needs, indent+next, append(path, n.m))
		}
	}
}

// triedOf returns the paths a failed search tried.
func triedOf(err error) []string {
	var nf *search.NotFoundError
	if errors.As(err, &nf) {
		return nf.Tried
	}
	return nil
}

// describeNode is a request's line of the text tree: what it asked
// for, what it found, and why there.
func describeNode(n *treeNode) string {
	why := nodeWhy(n)
	label := ""
	if len(why) > 0 {
		label = "  [" + strings.Join(why, "; ") + "]"
	}
	switch {
	case n.Ignored:
		return fmt.Sprintf("%s => cannot be preloaded (%s): ignored%s", n.Name, n.Error, label)
	case n.NotFound:
		return fmt.Sprintf("%s => not found (%s)", n.Name, n.Error)
	}
	return describeName(n) + label
}

// describeName is what a request asked for and found.
func describeName(n *treeNode) string {
	if n.Path != n.Name {
		return n.Name + " => " + n.Path
	}
	return n.Name
}

// nodeWhy is the label of a request: where a preload came from, the rule
// that found the file and where, whether it was already loaded.
func nodeWhy(n *treeNode) []string {
	var why []string
	if n.Preload != "" {
		why = append(why, n.Preload)
	}
	if n.NotFound {
		return why
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
	return why
}
