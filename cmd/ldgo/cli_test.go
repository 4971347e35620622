package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	ldoptions "github.com/ldgo/ldgo/link/options"
)

// ldgo as a command-line tool: usage, help, version, options, several
// programs, JSON, the manual page and the shell completion, each checked
// on the built binary.

func TestUsage(t *testing.T) {
	bin := buildLdgo(t)
	usage := mainUsage()
	for _, tc := range []struct {
		args []string
		want result
	}{
		{nil, result{stderr: usage, status: 2}},
		{[]string{"--help"}, result{stdout: usage}},
		{[]string{"-h"}, result{stdout: usage}},
		{[]string{"help"}, result{stdout: usage}},
		{[]string{"nosuch"}, result{stderr: "ldgo: unknown command \"nosuch\"\nRun 'ldgo help' for the list of commands.\n", status: 2}},
		{[]string{"help", "nosuch"}, result{stderr: "ldgo help: unknown command \"nosuch\"\nRun 'ldgo help' for the list of commands.\n", status: 2}},
	} {
		sameResult(t, "ldgo "+strings.Join(tc.args, " "), tc.want, runAs(t, nil, bin, tc.args...))
	}
	for _, c := range commands {
		if !strings.Contains(usage, "\n  "+c.name+" ") {
			t.Errorf("ldgo help does not list %s:\n%s", c.name, usage)
		}
	}
}

// Every command prints its usage on stdout and exits 0 for --help, -h
// and ldgo help COMMAND; the usage names every option it takes.
func TestCommandHelp(t *testing.T) {
	bin := buildLdgo(t)
	for _, c := range commands {
		want := result{stdout: c.usage()}
		asks := [][]string{{c.name, "--help"}, {c.name, "-h"}, {"help", c.name}}
		if c.ownUsage != nil {
			// ld's -h is -soname: link takes it as ld does.
			asks = slices.Delete(asks, 1, 2)
		}
		for _, args := range asks {
			sameResult(t, "ldgo "+strings.Join(args, " "), want, runAs(t, nil, bin, args...))
		}
		for _, o := range append(c.options, helpOption) {
			if !strings.Contains(want.stdout, "--"+o.name) {
				t.Errorf("ldgo %s --help does not name --%s:\n%s", c.name, o.name, want.stdout)
			}
		}
	}
	// Help wins wherever it is among an analysis command's arguments.
	sameResult(t, "ldgo list PROG --help", result{stdout: cmdList.usage()}, runAs(t, nil, bin, "list", "/usr/bin/true", "--help"))
}

// A command line that cannot be run is refused with status 2 and a hint,
// on stderr.
func TestUsageErrors(t *testing.T) {
	bin := buildLdgo(t)
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"list"}, "ldgo list: missing program\n"},
		{[]string{"tree", "--nosuch", "/usr/bin/true"}, "ldgo tree: unknown option --nosuch\n"},
		{[]string{"verify", "/usr/bin/true", "--library-path"}, "ldgo verify: option --library-path needs a value (PATH)\n"},
		{[]string{"bindings", "--json=yes", "/usr/bin/true"}, "ldgo bindings: option --json takes no value\n"},
		{[]string{"list", "--now", "/usr/bin/true"}, "ldgo list: unknown option --now\n"},
		{[]string{"run"}, "ldgo run: expected a program to run\n"},
		{[]string{"run", "--json", "/usr/bin/true"}, "ldgo run: --json needs --list, --verify or --calls\n"},
		{[]string{"completion"}, "ldgo completion: expected the shell: bash\n"},
		{[]string{"version", "extra"}, "ldgo version: takes no arguments\n"},
	} {
		name := strings.Fields(tc.msg)[1]
		want := result{stderr: tc.msg + "Run 'ldgo " + strings.TrimSuffix(name, ":") + " --help' for usage.\n", status: 2}
		sameResult(t, "ldgo "+strings.Join(tc.args, " "), want, runAs(t, nil, bin, tc.args...))
	}
}

// ldgo version says what the go command recorded in the binary: the
// module's version, the Go release and the build mode.
func TestVersion(t *testing.T) {
	bin := buildLdgo(t)
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	info := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(strings.ReplaceAll(sc.Text(), "=", " "))
		if len(f) >= 3 && (f[0] == "mod" || f[0] == "build") {
			info[f[0]+" "+f[1]] = f[2]
		}
	}
	goVersion, _, _ := strings.Cut(string(out), "\n")
	goVersion = goVersion[strings.LastIndex(goVersion, " ")+1:]
	want := "ldgo " + info["mod github.com/ldgo/ldgo"]
	if rev := info["build vcs.revision"]; rev != "" {
		want += " (revision " + rev[:12]
	}
	v := runAs(t, nil, bin, "version")
	if v.status != 0 || v.stderr != "" || !strings.HasPrefix(v.stdout, want) ||
		!strings.Contains(v.stdout, "\n"+goVersion+", -buildmode="+info["build -buildmode"]+"\n") {
		t.Errorf("ldgo version: %+v\ngo version -m says:\n%s", v, out)
	}
	sameResult(t, "ldgo --version", v, runAs(t, nil, bin, "--version"))
}

// Options may follow the programs of an analysis command, as in
// ldgo list PROG --json; "--" ends them.
func TestOptionsAfterProgram(t *testing.T) {
	f := newFixture(t)
	f.lib("libpre.so", `int pre(void) { return 1; }`)
	pre := f.path("libpre.so")
	for _, tc := range [][2][]string{
		{{"list", "--json", "/usr/bin/ls"}, {"list", "/usr/bin/ls", "--json"}},
		{{"tree", "--preload", pre, "/usr/bin/true"}, {"tree", "/usr/bin/true", "--preload", pre}},
		{{"tree", "--library-path=/nonexistent", "--json", "/usr/bin/true"}, {"tree", "/usr/bin/true", "--json", "--library-path=/nonexistent"}},
		{{"bindings", "--now", "/usr/bin/true"}, {"bindings", "/usr/bin/true", "--now"}},
		{{"verify", "--inhibit-cache", "/usr/bin/true", "/usr/bin/ls"}, {"verify", "/usr/bin/true", "--inhibit-cache", "/usr/bin/ls"}},
	} {
		before, after := ldgoStreams(t, nil, tc[0]...), ldgoStreams(t, nil, tc[1]...)
		if before.status != 0 || before != after {
			t.Errorf("ldgo %s: %+v\nldgo %s: %+v", strings.Join(tc[0], " "), before, strings.Join(tc[1], " "), after)
		}
	}
	got := ldgoStreams(t, nil, "list", "--", "--json")
	want := result{stderr: "ldgo list: --json: No such file or directory\n", status: 1}
	if got != want {
		t.Errorf("ldgo list -- --json: %+v, want %+v", got, want)
	}
}

// The JSON documents: one per program, each with the schema number, the
// command and the program, and every field documented in doc/json.md.
func TestJSONDocuments(t *testing.T) {
	doc, err := os.ReadFile("../../doc/json.md")
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	f.barLib("V3")
	f.lib("libgone.so", `int gone(void) { return 1; }`)
	prog := f.prog("prog", `int bar(void); int gone(void); int main(void) { return bar() + gone(); }`,
		"-L.", "-lv", "-lgone", "-Wl,-rpath,"+f.dir)
	f.barLib("V2")
	if err := os.Remove(f.path("libgone.so")); err != nil {
		t.Fatal(err)
	}
	progs := []string{prog, "/usr/bin/true", f.path("missing"), "/lib/x86_64-linux-gnu/libz.so.1"}
	env := []string{"LD_PRELOAD=" + f.path("nothing.so") + " libz.so.1"}
	keys := map[string]bool{}
	for _, args := range [][]string{
		append([]string{"list", "--json"}, progs...),
		append([]string{"tree", "--json"}, progs...),
		append([]string{"verify", "--json"}, progs...),
		append([]string{"bindings", "--json"}, progs...),
		append([]string{"bundle", "--json", "--to", t.TempDir(), "--also", "/etc/passwd"}, progs...),
		{"run", "--list", "--json", "/usr/bin/true"},
		{"run", "--verify", "--json", "/usr/bin/true"},
		{"plan", "--show", "--json", "/usr/bin/true"},
	} {
		var r result
		if args[0] == "run" {
			// ldgo run takes over the process: run the binary.
			r = runAs(t, nil, buildLdgo(t), args...)
		} else {
			r = ldgoStreams(t, env, args...)
		}
		docs := decodeDocuments(t, r.stdout)
		n := len(progs)
		if args[0] == "run" || args[0] == "plan" {
			n = 1
		}
		if len(docs) != n {
			t.Errorf("ldgo %s: %d documents for %d programs:\n%s", strings.Join(args, " "), len(docs), n, r.stdout)
			continue
		}
		command := args[0]
		switch args[1] {
		case "--list":
			command = "list" // ld.so --list is ldd's list
		case "--verify":
			command = "run --verify"
		}
		for i, d := range docs {
			want := progs[i]
			if args[0] == "run" || args[0] == "plan" {
				want = "/usr/bin/true"
			}
			if d["schema"] != 1.0 || d["command"] != command || d["program"] != want {
				t.Errorf("ldgo %s: document %d opens with schema %v, command %v, program %v", strings.Join(args, " "), i, d["schema"], d["command"], d["program"])
			}
			collectKeys(d, keys)
		}
	}
	var undocumented []string
	for k := range keys {
		if !bytes.Contains(doc, []byte("`"+k+"`")) {
			undocumented = append(undocumented, k)
		}
	}
	sort.Strings(undocumented)
	if len(undocumented) > 0 {
		t.Errorf("fields not in doc/json.md: %s", strings.Join(undocumented, ", "))
	}
	// The fixture exercises the fields that matter most.
	for _, k := range []string{"error", "warnings", "objects", "not_found", "preload", "ignored", "tried", "version_problems", "undefined_symbols", "missing_libraries", "unresolved", "bindings", "lazy", "status", "files", "link", "added"} {
		if !keys[k] {
			t.Errorf("no document had %q", k)
		}
	}
}

func decodeDocuments(t *testing.T, s string) []map[string]any {
	t.Helper()
	var docs []map[string]any
	dec := json.NewDecoder(strings.NewReader(s))
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("not a stream of JSON objects: %v\n%s", err, s)
		}
		docs = append(docs, d)
	}
}

func collectKeys(v any, keys map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			keys[k] = true
			collectKeys(x, keys)
		}
	case []any:
		for _, x := range v {
			collectKeys(x, keys)
		}
	}
}

// doc/ldgo.1 is a manual page groff reads without a warning, and it names
// every command and every option of the usage, and no option that does
// not exist.
func TestManPage(t *testing.T) {
	if _, err := exec.LookPath("groff"); err != nil {
		t.Skip("groff not installed")
	}
	var warnings bytes.Buffer
	check := exec.Command("groff", "-man", "-Tutf8", "-ww", "-z", "../../doc/ldgo.1")
	check.Stderr = &warnings
	if err := check.Run(); err != nil || warnings.Len() > 0 {
		t.Errorf("groff: %v\n%s", err, warnings.String())
	}
	text, err := exec.Command("groff", "-man", "-Tascii", "-P-cbou", "-rLL=200n", "../../doc/ldgo.1").Output()
	if err != nil {
		t.Fatal(err)
	}
	page := string(text)
	known := map[string]bool{"--help": true, "--version": true}
	for _, c := range commands {
		if !regexp.MustCompile(`(?m)^ {7}` + c.name + `\b`).MatchString(page) {
			t.Errorf("the manual page has no entry for %s", c.name)
		}
		for _, o := range c.options {
			known["--"+o.name] = true
			if !strings.Contains(page, "--"+o.name) {
				t.Errorf("the manual page does not mention %s --%s", c.name, o.name)
			}
		}
	}
	// The link editor's own options (ld's, and ldgo's additions).
	for _, n := range ldoptions.Names() {
		known[n] = true
	}
	// Options of ld.so the page cites, and the form of all options.
	cited := map[string]bool{"--list": true, "--verify": true, "--name": true}
	for _, o := range regexp.MustCompile(`--[a-z][a-z0-9-]*`).FindAllString(page, -1) {
		if !known[o] && !cited[o] {
			t.Errorf("the manual page mentions %s, which no command takes", o)
		}
	}
}

// The bash completion completes commands and each command's options, and
// leaves the rest to file-name completion.
func TestBashCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	bin := buildLdgo(t)
	complete := func(words ...string) []string {
		script := `source <("$LDGO" completion bash) || exit 1
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _ldgo; printf '%s\n' "${COMPREPLY[@]}"`
		cmd := exec.Command(bash, append([]string{"-c", script, "bash"}, words...)...)
		cmd.Env = append(os.Environ(), "LDGO="+bin)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("completing %q: %v", words, err)
		}
		return strings.Fields(string(out))
	}
	var names []string
	for _, c := range commands {
		names = append(names, c.name)
	}
	if got := complete("ldgo", ""); !slices.Equal(got, append(names, "--help", "--version")) {
		t.Errorf("ldgo <TAB>: %q", got)
	}
	if got := complete("ldgo", "lis"); !slices.Equal(got, []string{"list"}) {
		t.Errorf("ldgo lis<TAB>: %q", got)
	}
	for _, c := range commands {
		for _, o := range append(c.options, helpOption) {
			if got := complete("ldgo", c.name, "/usr/bin/true", "--"+o.name); !slices.Contains(got, "--"+o.name) {
				t.Errorf("ldgo %s --%s<TAB>: %q", c.name, o.name, got)
			}
		}
	}
	for _, tc := range []struct {
		words []string
		want  []string
	}{
		{[]string{"ldgo", "help", "ver"}, []string{"verify", "version"}},
		{[]string{"ldgo", "completion", ""}, []string{"bash"}},
		{[]string{"ldgo", "list", "/usr/b"}, nil},               // file names
		{[]string{"ldgo", "list", "--library-path", "--"}, nil}, // a value
	} {
		if got := complete(tc.words...); !slices.Equal(got, tc.want) {
			t.Errorf("%s<TAB>: %q, want %q", strings.Join(tc.words, " "), got, tc.want)
		}
	}
}

// scripts/compare-glibc without arguments, or with something that is not
// ldgo, prints its usage instead of failing every program.
func TestCompareGlibcUsage(t *testing.T) {
	script := "../../scripts/compare-glibc"
	none := runAs(t, nil, script)
	if none.status != 2 || none.stdout != "" || !strings.HasPrefix(none.stderr, "usage: compare-glibc [-v] LDGO [PROG...]\n") {
		t.Errorf("compare-glibc: %+v", none)
	}
	help := runAs(t, nil, script, "--help")
	if help.status != 0 || help.stdout != none.stderr {
		t.Errorf("compare-glibc --help: %+v", help)
	}
	notLdgo := runAs(t, nil, script, "/usr/bin/true", "/usr/bin/ls")
	if notLdgo.status != 2 || notLdgo.stdout != "" || !strings.Contains(notLdgo.stderr, "/usr/bin/true is not ldgo") {
		t.Errorf("compare-glibc /usr/bin/true: %+v", notLdgo)
	}
}
