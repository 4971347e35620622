package main

import (
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// treeLine is one line of the text tree.
type treeLine struct {
	depth  int
	name   string // what was asked for
	path   string // what it resolved to; the name for a library not found
	label  string // the bracketed rule, or the error of one not found
	see    bool   // "(see above)"
	parent int    // the index of the line above it in the tree; -1 for the top
}

var treeEntry = regexp.MustCompile(`^(.*?)(?: => (.*?))?(?:  \[(.*)\])?$`)

// parseTree reads a text tree back, the program's line first.
func parseTree(t *testing.T, out string) []treeLine {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	tree := []treeLine{{name: lines[0], path: lines[0], parent: -1}}
	stack := []int{0}
	for _, l := range lines[1:] {
		i := strings.Index(l, "── ")
		if i < 0 {
			continue // a path tried
		}
		depth := len([]rune(l[:i]))/4 + 1
		text := l[i+len("── "):]
		e := treeLine{depth: depth}
		if s, ok := strings.CutSuffix(text, " (see above)"); ok {
			e.see, text = true, s
		}
		switch {
		case strings.Contains(text, " => not found ("):
			e.name, e.label, _ = strings.Cut(text, " => not found (")
			e.path, e.label = e.name, strings.TrimSuffix(e.label, ")")
		case strings.Contains(text, " => cannot be preloaded ("):
			var rest string
			e.name, rest, _ = strings.Cut(text, " => cannot be preloaded (")
			cause, from, _ := strings.Cut(rest, "): ignored  [")
			e.path, e.label = e.name, strings.TrimSuffix(from, "]")+"; "+cause
		default:
			m := treeEntry.FindStringSubmatch(text)
			e.name, e.path, e.label = m[1], m[2], m[3]
			if e.path == "" {
				e.path = e.name
			}
		}
		if depth > len(stack) {
			t.Fatalf("a line deeper than the one above it: %q", l)
		}
		stack = stack[:depth]
		e.parent = stack[depth-1]
		stack = append(stack, len(tree))
		tree = append(tree, e)
	}
	return tree
}

// manyLibraries is a program of this machine with 40 libraries or more,
// as ldd lists them.
func manyLibraries(t *testing.T) (string, []string) {
	t.Helper()
	for _, prog := range []string{"/usr/bin/gdb", "/usr/bin/appstreamcli", "/usr/bin/llvm-symbolizer"} {
		if out, err := exec.Command("ldd", prog).Output(); err == nil {
			if lines := listLines(string(out)); len(lines) >= 40 {
				return prog, lines
			}
		}
	}
	t.Skip("no program with 40 libraries")
	return "", nil
}

// A program with many libraries: each library is shown, with its needs,
// once, where it first appears; later it says "(see above)", with
// nothing under it. --all shows the needs everywhere. Both are the same
// graph, holding what ldd lists.
func TestTreeSeeAbove(t *testing.T) {
	prog, ldd := manyLibraries(t)
	text := ldgoStreams(t, nil, "tree", prog)
	all := ldgoStreams(t, nil, "tree", "--all", prog)
	if text.status != 0 || all.status != 0 {
		t.Fatalf("ldgo tree: %+v\n--all: %+v", text, all)
	}
	tree, full := parseTree(t, text.stdout), parseTree(t, all.stdout)
	shown := map[string]int{} // name or path: the line that shows it
	for i, l := range tree {
		switch {
		case l.see:
			first, ok := shown[l.path]
			if !ok || first > i {
				t.Errorf("line %d: %s (see above), which is not above", i, l.name)
			}
			if i+1 < len(tree) && tree[i+1].depth > l.depth {
				t.Errorf("line %d: %s (see above) has needs under it", i, l.name)
			}
		case shown[l.path] != 0:
			t.Errorf("line %d: %s shown a second time (line %d)", i, l.path, shown[l.path])
		default:
			shown[l.path], shown[l.name] = i, i
		}
	}
	var listed []string
	for _, l := range ldd {
		if name, path, ok := strings.Cut(strings.TrimPrefix(l, "\t"), " => "); ok {
			listed = append(listed, name)
			if _, ok := shown[path]; !ok {
				t.Errorf("%s (%s, listed by ldd) is not in the tree", name, path)
			}
		}
	}
	if len(tree) >= len(full) {
		t.Errorf("the tree has %d lines, --all %d", len(tree), len(full))
	}
	edges := func(tree []treeLine) []string {
		var out []string
		for _, l := range tree[1:] {
			out = append(out, tree[l.parent].path+" -> "+l.name)
		}
		return sortUnique(out)
	}
	if got, want := edges(tree), edges(full); !slices.Equal(got, want) {
		t.Errorf("the tree and --all differ:\n%s\n--all:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// --all repeats each library's needs wherever it is.
	needs := map[string][]string{}
	for i, l := range full {
		var under []string
		for _, c := range full[i+1:] {
			if c.depth <= l.depth {
				break
			}
			if c.parent == i {
				under = append(under, c.name)
			}
		}
		if before, ok := needs[l.path]; ok && !l.see && !slices.Equal(before, under) {
			t.Errorf("--all: %s needs %q at line %d, %q before", l.path, under, i, before)
		}
		needs[l.path] = under
	}
	t.Logf("%s: %d libraries, %d lines, %d with --all", prog, len(listed), len(tree), len(full))
}

var (
	dotNode = regexp.MustCompile(`^\t(n\d+) \[label="((?:[^"\\]|\\.)*)"(.*)\];$`)
	dotEdge = regexp.MustCompile(`^\t(n\d+) -> (n\d+) \[label="((?:[^"\\]|\\.)*)"(.*)\];$`)
)

func dotUnquote(s string) string {
	return strings.NewReplacer(`\\`, `\`, `\"`, `"`, `\n`, "\n").Replace(s)
}

// The graph of --format dot, read back, has the text tree's requests as
// its edges, with the same labels, missing libraries in red; Graphviz
// draws it.
func TestTreeDot(t *testing.T) {
	f := newFixture(t)
	f.barLib("V3")
	f.lib("libgone.so", `int gone(void) { return 1; }`)
	f.lib("deps/liby.so", `int y(void) { return 1; }`)
	prog := f.prog("prog", `int bar(void); int gone(void); int y(void); int main(void) { return bar() + gone() + y(); }`,
		"-L.", "-Ldeps", "-lv", "-lgone", "-ly", "-Wl,-rpath,"+f.dir+":"+f.path("deps"))
	if err := exec.Command("rm", f.path("libgone.so")).Run(); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--preload", f.path("nothing.so") + " libz.so.1", prog},
		{"/usr/bin/ls"},
		{"/usr/bin/python3"},
	} {
		text := ldgoStreams(t, nil, append([]string{"tree", "--all"}, args...)...)
		graph := ldgoStreams(t, nil, append([]string{"tree", "--format", "dot"}, args...)...)
		if graph.status != text.status || graph.stderr != text.stderr {
			t.Errorf("ldgo tree --format dot %s: %+v, the text tree: %+v", strings.Join(args, " "), graph, text)
		}
		labels := map[string]string{}
		red := map[string]bool{}
		var edges []string
		for _, l := range strings.Split(graph.stdout, "\n") {
			if m := dotEdge.FindStringSubmatch(l); m != nil {
				edges = append(edges, labels[m[1]]+" -> "+labels[m[2]]+" ["+dotUnquote(m[3])+"]")
				if red[m[2]] != strings.Contains(m[4], "color=red") {
					t.Errorf("%s: an edge to a missing library is not red, or one to a library is", l)
				}
			} else if m := dotNode.FindStringSubmatch(l); m != nil {
				lines := strings.Split(dotUnquote(m[2]), "\n")
				labels[m[1]] = lines[len(lines)-1]
				if red[m[1]] = strings.Contains(m[3], "color=red"); red[m[1]] {
					labels[m[1]] = lines[0]
				}
			}
		}
		var want []string
		tree := parseTree(t, text.stdout)
		missing := 0
		for _, l := range tree[1:] {
			want = append(want, tree[l.parent].path+" -> "+l.path+" ["+l.label+"]")
			if strings.Contains(l.label, "cannot open") {
				missing++
			}
		}
		if got, want := sortUnique(edges), sortUnique(want); !slices.Equal(got, want) {
			t.Errorf("ldgo tree --format dot %s: edges\n\t%s\nthe text tree's:\n\t%s", strings.Join(args, " "), strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
		}
		nred := 0
		for _, r := range red {
			if r {
				nred++
			}
		}
		if args[len(args)-1] == prog && (missing == 0 || nred != 2) {
			t.Errorf("the fixture has %d missing libraries, %d red nodes:\n%s", missing, nred, graph.stdout)
		}
		if _, err := exec.LookPath("dot"); err == nil {
			cmd := exec.Command("dot", "-Tsvg")
			cmd.Stdin = strings.NewReader(graph.stdout)
			svg, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(svg), "<svg") {
				t.Errorf("dot -Tsvg: %v\n%s", err, svg)
			}
			if got := ldgoStreams(t, nil, append([]string{"tree", "--format", "svg"}, args...)...); got.stdout != string(svg) {
				t.Errorf("ldgo tree --format svg is not dot's drawing of --format dot:\n%s", got.stdout)
			}
		}
	}
	if got := ldgoStreams(t, []string{"PATH=/nonexistent"}, "tree", "--format", "svg", "/usr/bin/ls"); got.status != 1 || !strings.Contains(got.stderr, "ldgo tree: --format svg needs Graphviz's dot") {
		t.Errorf("--format svg without dot: %+v", got)
	}
	for _, args := range [][]string{{"--format", "png"}, {"--format", "dot", "--json"}, {"--format", "svg", "/usr/bin/true"}} {
		if got := ldgoStreams(t, nil, append(append([]string{"tree"}, args...), "/usr/bin/ls")...); got.status != exitUsage {
			t.Errorf("ldgo tree %s: %+v", strings.Join(args, " "), got)
		}
	}
}
