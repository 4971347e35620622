package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var passLine = regexp.MustCompile(`^ *([0-9.]+) ms +[0-9.]+% +[0-9.]+ MiB  ( *)(.*)$`)

// TestLinkTimePasses checks --time-passes: every pass of the link is
// listed once, nested passes indented under theirs and taking no more
// time than they do, and the total last; the link's output still works.
func TestLinkTimePasses(t *testing.T) {
	ld := ldgoAsLd(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "m.c")
	if err := os.WriteFile(src, []byte("#include <stdio.h>\nint main(void) { puts(\"timed\"); return 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	prog := filepath.Join(dir, "m")
	out, err := exec.Command("gcc", "-B", ld, "-Wl,--time-passes", "-o", prog, src).CombinedOutput()
	if err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	type pass struct {
		ms    float64
		depth int
	}
	passes := map[string]pass{}
	var order []string
	var parent string
	total := false
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n")[1:] {
		m := passLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("not a pass: %q in\n%s", line, out)
		}
		ms, _ := strconv.ParseFloat(m[1], 64)
		if strings.HasPrefix(m[3], "total; peak RSS ") {
			total = true
			continue
		}
		p := pass{ms, len(m[2]) / 2}
		if p.depth == 0 {
			parent = m[3]
		} else if ms > passes[parent].ms {
			t.Errorf("%q took %.3f ms, more than %q which holds it (%.3f ms)", m[3], ms, parent, passes[parent].ms)
		}
		passes[m[3]] = p
		order = append(order, m[3])
	}
	for _, want := range []string{"load inputs", "parse objects", "resolve symbols", "sections; string merging", "scan relocations", "synthetic sections; layout", "write output", "copy and relocate sections; synthetic sections", ".eh_frame", "build ID"} {
		if _, ok := passes[want]; !ok {
			t.Errorf("no pass %q in %q", want, order)
		}
	}
	if !total {
		t.Errorf("no total line:\n%s", out)
	}
	if got, err := exec.Command(prog).Output(); err != nil || string(got) != "timed\n" {
		t.Errorf("the program: %q, %v", got, err)
	}
}
