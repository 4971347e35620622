// Command ldgo is a dynamic linker for Linux x86-64 ELF programs. Its
// analysis commands decide everything glibc's ld.so would decide while
// loading a program — which file each library is, the load order, every
// symbol binding and relocation — without running it:
//
//	ldgo list PROG       the libraries, as ldd lists them
//	ldgo tree PROG       who needs what, and the rule that found each file
//	ldgo verify PROG     undefined symbols and missing versions, as ldd -r
//	ldgo bindings PROG   every symbol binding, as LD_DEBUG=bindings
//
// Run `ldgo help` for the options.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ldgo/ldgo/analyze"
	"github.com/ldgo/ldgo/namespace"
)

const usage = `usage: ldgo COMMAND [OPTIONS] PROG

Commands:
  list      list the libraries PROG loads, as ldd does
  tree      show the dependency tree and why each library was found where
  verify    report undefined symbols and missing versions, as ldd -r does
  bindings  show every symbol binding, as LD_DEBUG=bindings does
  run       run PROG [ARGS...] with ldgo as its dynamic linker (ldgo run --help)
  link      link editor: ldgo link [ld options] FILES... (also run as ld)

Options:
  --library-path PATH  search PATH instead of LD_LIBRARY_PATH
  --preload LIST       preload LIST (spaces or colons) instead of LD_PRELOAD
  --inhibit-cache      do not use /etc/ld.so.cache
  --json               print JSON instead of text
  --now                (bindings) bind PLT slots at start-up, as LD_BIND_NOW

LD_LIBRARY_PATH and LD_PRELOAD are read from the environment unless the
options replace them.
`

// command runs one subcommand and returns the exit status.
type command func(a *analyze.Analysis, opts *options, out io.Writer) int

var commands = map[string]command{
	"list":     runList,
	"tree":     runTree,
	"verify":   runVerify,
	"bindings": runBindings,
}

type options struct {
	analyze.Options
	json bool
	now  bool
}

func main() {
	if invokedAsLd() {
		os.Exit(linkAsLd())
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	if args[0] == "run" {
		return runProgram(args[1:], stdout, stderr)
	}
	if args[0] == "link" {
		return runLink(args[1:], stdout, stderr)
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "ldgo: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	opts, prog, err := parseOptions(args[0], args[1:])
	if err != nil {
		fmt.Fprintf(stderr, "ldgo %s: %v\n", args[0], err)
		return 2
	}
	a, err := analyze.Load(prog, opts.Options)
	if err != nil {
		fmt.Fprintln(stderr, analyze.Describe(prog, err))
		return 1
	}
	for _, w := range a.Warnings {
		fmt.Fprint(stderr, w)
	}
	if a.Err != nil {
		fmt.Fprintln(stderr, analyze.Describe(prog, a.Err))
		return 1
	}
	return cmd(a, opts, stdout)
}

func parseOptions(name string, args []string) (*options, string, error) {
	opts := &options{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	libraryPath := fs.String("library-path", "", "")
	preload := fs.String("preload", "", "")
	fs.BoolVar(&opts.InhibitCache, "inhibit-cache", false, "")
	fs.BoolVar(&opts.json, "json", false, "")
	if name == "bindings" {
		fs.BoolVar(&opts.now, "now", false, "")
	}
	if err := fs.Parse(args); err != nil {
		return nil, "", err
	}
	if fs.NArg() != 1 {
		return nil, "", fmt.Errorf("expected one program, got %d arguments", fs.NArg())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	opts.LibraryPath, opts.LibraryPathWhat = os.Getenv("LD_LIBRARY_PATH"), "LD_LIBRARY_PATH"
	if set["library-path"] {
		opts.LibraryPath, opts.LibraryPathWhat = *libraryPath, "--library-path"
	}
	opts.Preload = namespace.SplitPreload(os.Getenv("LD_PRELOAD"))
	opts.PreloadWhat = "LD_PRELOAD"
	if set["preload"] {
		opts.Preload = namespace.SplitPreload(*preload)
		opts.PreloadWhat = "--preload"
	}
	prog := fs.Arg(0)
	opts.Progname = prog
	// ldd runs ld.so with the program as its argument, so $ORIGIN is
	// the directory of the path as given; list answers as ldd does.
	opts.AsLdd = name == "list"
	return opts, prog, nil
}

func writeJSON(out io.Writer, v any) {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// quoteList joins names for a message.
func quoteList(names []string) string { return strings.Join(names, ", ") }
