package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ldgo/ldgo/analyze"
	"github.com/ldgo/ldgo/namespace"
	"github.com/ldgo/ldgo/sysroot"
)

// The analysis commands (list, tree, verify, bindings) share their
// options, their handling of several programs and of --json, and ldd's
// checks of each program before it is loaded.

var analysisOptions = []option{
	{name: "library-path", arg: "PATH", help: "search PATH instead of LD_LIBRARY_PATH"},
	{name: "preload", arg: "LIST", help: "preload LIST (names separated by spaces or colons)\ninstead of LD_PRELOAD"},
	{name: "inhibit-cache", help: "do not use /etc/ld.so.cache"},
	{name: "root", arg: "DIR", help: "analyse PROG in the tree DIR (an image, a sysroot)\nas after chroot DIR; nothing outside DIR is read"},
	{name: "json", help: "print JSON (schema 1, doc/json.md) instead of text"},
}

const analysisFooter = `Options may come before or after the programs. LD_LIBRARY_PATH and
LD_PRELOAD are read from the environment unless the options replace them;
a preload that cannot be loaded is reported and ignored, as by ld.so.
Given several programs, the output for each is headed by "PROG:", as ldd
heads it; with --json, one JSON document is printed per program.
With --root DIR, PROG, the preloads and --library-path name files inside
DIR, and output names them so, as ldd run in chroot DIR would.
`

// options is what an analysis command was asked for, by its command line
// and the environment.
type options struct {
	analyze.Options
	json bool
	now  bool
	// values are the options as given, for a command's own (plt's
	// --object).
	values map[string]string
	// ldso answers as ld.so --list does (ldgo run --list): no ldd checks
	// first, and ld.so's status 127 for a program that cannot be loaded.
	ldso bool
	// nprogs is how many programs the command was given.
	nprogs int
	// format is tree's --format; all its --all.
	format string
	all    bool
	// to and also are bundle's --to and --also.
	to   string
	also []string
}

// documents reports whether the output is one document per program
// (JSON, a graph), which is not headed by the program's name.
func (o *options) documents() bool { return o.json || o.format == "dot" || o.format == "svg" }

// An analysis is what one analysis command makes of one loaded program:
// it prints it (as text, or as one JSON document opened by h) and returns
// the program's exit status.
type analysis func(a *analyze.Analysis, opts *options, h header, stdout, stderr io.Writer) int

// analysisCommand makes the table entry of an analysis command.
func analysisCommand(name, summary, about string, extra []option, fn analysis) *command {
	return analysisCommandWith(name, summary, about, extra, fn, nil)
}

// analysisCommandWith is analysisCommand for a command whose own options
// are checked, by prepare, once before any program is analysed; an error
// from prepare is a usage error.
func analysisCommandWith(name, summary, about string, extra []option, fn analysis, prepare func(opts *options) error) *command {
	return &command{
		name:     name,
		synopsis: "[OPTIONS] PROG...",
		summary:  summary,
		about:    about,
		options:  append(append([]option(nil), analysisOptions...), extra...),
		footer:   analysisFooter,
		run: func(c *command, args []string, stdout, stderr io.Writer) int {
			values, progs, status, done := c.parse(args, true, stdout, stderr)
			switch {
			case done:
				return status
			case len(progs) == 0:
				return c.usageError(stderr, "missing program")
			}
			opts := analysisOptionsFrom(values)
			opts.nprogs = len(progs)
			// ldd runs ld.so with the program as its argument, so
			// $ORIGIN is the directory of the path as given; list
			// answers as ldd does.
			opts.AsLdd = name == "list"
			if prepare != nil {
				if err := prepare(&opts); err != nil {
					var fe failure
					if errors.As(err, &fe) {
						fmt.Fprintf(stderr, "ldgo %s: %s\n", name, fe.msg)
						return 1
					}
					return c.usageError(stderr, err.Error())
				}
			}
			if dir, ok := values["root"]; ok {
				root, err := sysroot.Open(dir)
				if err != nil {
					fmt.Fprintf(stderr, "ldgo %s: --root: %s\n", name, describeErr(err))
					return 1
				}
				defer root.Close()
				opts.Root = root
			}
			return analyzeAll(name, fn, progs, opts, stdout, stderr)
		},
	}
}

// failure is an error of a command's prepare that is not about the
// command line (a tool missing, a directory that cannot be made): it is
// reported as it is, with status 1.
type failure struct{ msg string }

func (f failure) Error() string { return f.msg }

func analysisOptionsFrom(values map[string]string) options {
	opts := options{values: values}
	_, opts.json = values["json"]
	_, opts.now = values["now"]
	_, opts.InhibitCache = values["inhibit-cache"]
	_, opts.all = values["all"]
	opts.format = values["format"]
	opts.to = values["to"]
	opts.also = splitList(values["also"])
	opts.LibraryPath, opts.LibraryPathWhat = os.Getenv("LD_LIBRARY_PATH"), "LD_LIBRARY_PATH"
	if v, ok := values["library-path"]; ok {
		opts.LibraryPath, opts.LibraryPathWhat = v, "--library-path"
	}
	opts.Preload, opts.PreloadWhat = namespace.SplitPreload(os.Getenv("LD_PRELOAD")), "LD_PRELOAD"
	if v, ok := values["preload"]; ok {
		opts.Preload, opts.PreloadWhat = namespace.SplitPreload(v), "--preload"
	}
	return opts
}

// analyzeAll runs an analysis over each program in turn. The status is 1
// if any program's is, otherwise the largest.
func analyzeAll(name string, fn analysis, progs []string, opts options, stdout, stderr io.Writer) int {
	status := 0
	for _, prog := range progs {
		if len(progs) > 1 && !opts.documents() {
			fmt.Fprintf(stdout, "%s:\n", prog)
		}
		s := analyzeOne(name, fn, prog, opts, stdout, stderr)
		if s == 1 || status == 1 {
			status = 1
		} else {
			status = max(status, s)
		}
	}
	return status
}

func analyzeOne(name string, fn analysis, prog string, opts options, stdout, stderr io.Writer) int {
	h := header{Schema: jsonSchema, Command: name, Program: prog}
	loadFailed := 1 // ldd's status for a program ld.so cannot load
	if opts.ldso {
		loadFailed = 127
	}
	fail := func(msg string, status int) int {
		fmt.Fprintln(stderr, msg)
		if opts.json {
			h.Error = strings.TrimSpace(msg)
			writeJSON(stdout, h)
		}
		return status
	}
	if !opts.ldso {
		if msg, bare := notTraced(opts.Root, prog); msg != "" {
			if !bare {
				fmt.Fprintf(stderr, "ldgo %s: ", name)
			}
			return fail(msg, 1)
		}
	}
	opts.Progname = prog
	a, err := analyze.Load(prog, opts.Options)
	if err != nil {
		return fail(analyze.Describe(prog, err), loadFailed)
	}
	defer a.Close()
	for _, w := range a.Warnings {
		fmt.Fprint(stderr, w)
		h.Warnings = append(h.Warnings, strings.TrimSuffix(w, "\n"))
	}
	if a.Err != nil {
		return fail(analyze.Describe(prog, a.Err), loadFailed)
	}
	if a.Static() {
		// Only ld.so --list gets here (and dies of a signal): ldd
		// asked ld.so --verify first.
		return fail("\tnot a dynamic executable", 1)
	}
	return fn(a, &opts, h, stdout, stderr)
}

// jsonSchema is the version of the JSON documents (doc/json.md): it
// changes when a field is removed or changes meaning, not when one is
// added.
const jsonSchema = 1

// header opens every JSON document.
type header struct {
	Schema  int    `json:"schema"`
	Command string `json:"command"`
	Program string `json:"program"`
	// Error is set when the program could not be analysed; the
	// document then has no other fields.
	Error string `json:"error,omitempty"`
	// Warnings are glibc's messages that do not stop loading, such as
	// a preload that is ignored.
	Warnings []string `json:"warnings,omitempty"`
}

func writeJSON(out io.Writer, v any) {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// quoteList joins names for a message.
func quoteList(names []string) string { return strings.Join(names, ", ") }
