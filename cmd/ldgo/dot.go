package main

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"github.com/ldgo/ldgo/linkmap"
)

// The dependency graph for Graphviz (ldgo tree --format dot): one node
// per object, and per library not found; one edge per request, labelled
// as the text tree labels it.

// writeDot prints the graph of the program's requests as a digraph.
func writeDot(out io.Writer, tb *treeBuilder, prog string) {
	g := &dotGraph{tb: tb, ids: map[*linkmap.Map]string{}, missing: map[string]string{}}
	fmt.Fprintf(&g.b, "digraph %s {\n", dotQuote(prog))
	g.b.WriteString("\tnode [shape=box, fontname=\"monospace\"];\n\tedge [fontname=\"monospace\", fontsize=10];\n")
	main := tb.ns.Main
	g.ids[main] = "n0"
	fmt.Fprintf(&g.b, "\tn0 [label=%s, style=bold];\n", dotQuote(prog))
	g.next = 1
	g.edges("n0", tb.top())
	expanded := map[*linkmap.Map]bool{main: true}
	// Every object's requests, in load order: each object once.
	for _, m := range tb.ns.Chain {
		if id, ok := g.ids[m]; ok && !expanded[m] {
			expanded[m] = true
			g.edges(id, tb.children(m))
		}
	}
	g.b.WriteString("}\n")
	out.Write(g.b.Bytes())
}

type dotGraph struct {
	tb      *treeBuilder
	b       bytes.Buffer
	ids     map[*linkmap.Map]string
	missing map[string]string // a library not found, by name
	next    int
}

const dotRed = "color=red, fontcolor=red"

// node returns the node of the request's object, declaring it the first
// time.
func (g *dotGraph) node(n *treeNode) string {
	if n.NotFound {
		key := n.Name
		if n.Ignored {
			key = "\x00preload " + n.Name
		}
		if id, ok := g.missing[key]; ok {
			return id
		}
		id := g.newID()
		g.missing[key] = id
		what := "not found"
		if n.Ignored {
			what = "cannot be preloaded: ignored"
		}
		fmt.Fprintf(&g.b, "\t%s [label=%s, tooltip=%s, %s];\n", id, dotQuote(n.Name+"\n"+what), dotQuote(strings.Join(append([]string{n.Error}, n.Tried...), "\n")), dotRed)
		return id
	}
	if id, ok := g.ids[n.m]; ok {
		return id
	}
	id := g.newID()
	g.ids[n.m] = id
	// The name it is known by over its path, as ldd shows them.
	label := n.m.Name
	if !n.m.Rtld && len(n.m.Names) > 0 && n.m.Names[0] != n.m.Name {
		label = n.m.Names[0] + "\n" + n.m.Name
	}
	fmt.Fprintf(&g.b, "\t%s [label=%s];\n", id, dotQuote(label))
	return id
}

func (g *dotGraph) newID() string {
	id := fmt.Sprintf("n%d", g.next)
	g.next++
	return id
}

// edges declares the requests of the object from, and their objects.
func (g *dotGraph) edges(from string, nodes []*treeNode) {
	for _, n := range nodes {
		to := g.node(n)
		label := strings.Join(nodeWhy(n), "; ")
		attrs := ""
		switch {
		case n.NotFound:
			label = strings.TrimPrefix(label+"; ", "; ") + n.Error
			attrs = ", " + dotRed
		case n.Loaded:
			attrs = ", style=dashed, color=gray40, fontcolor=gray40"
		}
		fmt.Fprintf(&g.b, "\t%s -> %s [label=%s%s];\n", from, to, dotQuote(label), attrs)
	}
}

// dotQuote makes s a DOT string: quotes and backslashes escaped, line
// breaks as Graphviz's \n.
func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// drawSVG pipes the graph through Graphviz's dot.
func drawSVG(out, errOut io.Writer, tb *treeBuilder, prog string) int {
	var graph bytes.Buffer
	writeDot(&graph, tb, prog)
	cmd := exec.Command("dot", "-Tsvg")
	cmd.Stdin = &graph
	cmd.Stdout = out
	cmd.Stderr = errOut
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(errOut, "ldgo tree: dot -Tsvg: %v\n", err)
		return 1
	}
	return 0
}
