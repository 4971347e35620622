// Command ldgo is a dynamic linker for Linux x86-64 ELF programs. Its
// analysis commands decide everything glibc's ld.so would decide while
// loading a program — which file each library is, the load order, every
// symbol binding and relocation — without running it:
//
//	ldgo list PROG...       the libraries, as ldd lists them
//	ldgo tree PROG...       who needs what, and the rule that found each file
//	ldgo verify PROG...     undefined symbols and missing versions, as ldd -r
//	ldgo bindings PROG...   every symbol binding, as LD_DEBUG=bindings
//	ldgo bundle --to DIR PROG...  the programs and all they load, copied into DIR
//	ldgo why SYMBOL PROG... where each reference to SYMBOL binds, and why
//	ldgo plt PROG...        each object's PLT/GOT slots, before and after binding
//
// and ldgo run PROG [ARGS...] runs a program with ldgo as its dynamic
// linker. Run `ldgo help` for the commands, `ldgo help COMMAND` for one
// command's options; doc/ldgo.1 is the manual page.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// A command is one of ldgo's subcommands. Adding a command is adding one
// entry to commands: the dispatch, `ldgo help`, `ldgo CMD --help` and the
// shell completion all read the table.
type command struct {
	name     string
	synopsis string // what follows "ldgo NAME" in its usage line
	summary  string // one line for the list of commands
	about    string // the paragraphs of `ldgo NAME --help`
	options  []option
	// footer follows the options in `ldgo NAME --help`.
	footer string
	// ownUsage, if set, is the whole usage text, for a command that
	// parses its arguments itself (link: ld's options).
	ownUsage func() string
	// argv0 lists executable names that run this command directly: the
	// ldgo executable installed or linked under such a name behaves as
	// `ldgo NAME`.
	argv0 []string
	// run runs the command over its arguments (the command's name not
	// included) and returns the exit status.
	run func(c *command, args []string, stdout, stderr io.Writer) int
}

// commands is the table of subcommands, in the order `ldgo help` lists
// them. It is filled in init: help reads it.
var commands []*command

func init() {
	commands = []*command{
		cmdList,
		cmdTree,
		cmdVerify,
		cmdBindings,
		cmdBundle,
		cmdWhy,
		cmdPLT,
		cmdRun,
		cmdPlan,
		cmdLink,
		{
			name:     "completion",
			synopsis: "bash",
			summary:  "print the shell completion script (bash)",
			about:    "Prints a bash completion script for ldgo. Load it with\n\n  source <(ldgo completion bash)\n\nor install it in a bash-completion/completions directory, as make install\ndoes ($PREFIX/share/bash-completion/completions/ldgo).",
			run:      runCompletion,
		},
		{
			name:    "version",
			summary: "print ldgo's version (also ldgo --version)",
			about:   "Prints ldgo's version, the revision it was built from and how it was built.",
			run:     runVersion,
		},
		{
			name:     "help",
			synopsis: "[COMMAND]",
			summary:  "print this help, or a command's (also ldgo COMMAND --help)",
			about:    "Prints the list of commands, or the usage and options of one.",
			run:      runHelp,
		},
	}
}

// exitUsage is the status of a command line ldgo cannot make sense of.
const exitUsage = 2

func main() {
	if c := commandByArgv0(filepath.Base(os.Args[0])); c != nil {
		os.Exit(c.run(c, os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is ldgo with its arguments (the program name not included).
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, mainUsage())
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "--help", "-help":
		fmt.Fprint(stdout, mainUsage())
		return 0
	case "--version", "-version":
		name = "version"
	}
	c := commandNamed(name)
	if c == nil {
		fmt.Fprintf(stderr, "ldgo: unknown command %q\nRun 'ldgo help' for the list of commands.\n", name)
		return exitUsage
	}
	return c.run(c, args[1:], stdout, stderr)
}

func commandNamed(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func commandByArgv0(name string) *command {
	for _, c := range commands {
		for _, n := range c.argv0 {
			if n == name {
				return c
			}
		}
	}
	return nil
}

func mainUsage() string {
	var b strings.Builder
	b.WriteString("usage: ldgo COMMAND [OPTIONS] [ARGS...]\n\n")
	b.WriteString("ldgo is a dynamic linker for Linux x86-64 ELF programs: it runs them\n")
	b.WriteString("(ldgo run) or shows, without running them, what glibc's ld.so would do.\n\n")
	b.WriteString("Commands:\n")
	width := 0
	for _, c := range commands {
		width = max(width, len(c.name))
	}
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, c.name, c.summary)
	}
	b.WriteString("\nRun 'ldgo COMMAND --help' for a command's options; 'man ldgo' for more.\n")
	return b.String()
}

// usage is a command's own usage text.
func (c *command) usage() string {
	if c.ownUsage != nil {
		return c.ownUsage()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "usage: ldgo %s", c.name)
	if c.synopsis != "" {
		b.WriteString(" " + c.synopsis)
	}
	b.WriteString("\n\n" + c.about + "\n\nOptions:\n" + formatOptions(c.options))
	if c.footer != "" {
		b.WriteString("\n" + c.footer)
	}
	return b.String()
}

// parse parses a command's arguments. It answers -h and --help itself,
// and a command line it cannot parse; done is then set and status is the
// exit status.
func (c *command) parse(args []string, interspersed bool, stdout, stderr io.Writer) (values map[string]string, operands []string, status int, done bool) {
	values, operands, err := parseArgs(c.options, args, interspersed)
	switch {
	case err == errHelp:
		fmt.Fprint(stdout, c.usage())
		return nil, nil, 0, true
	case err != nil:
		return nil, nil, c.usageError(stderr, err.Error()), true
	}
	return values, operands, 0, false
}

// usageError reports a command line the command cannot run.
func (c *command) usageError(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "ldgo %s: %s\nRun 'ldgo %s --help' for usage.\n", c.name, msg, c.name)
	return exitUsage
}

func runHelp(c *command, args []string, stdout, stderr io.Writer) int {
	_, operands, status, done := c.parse(args, true, stdout, stderr)
	switch {
	case done:
		return status
	case len(operands) == 0:
		fmt.Fprint(stdout, mainUsage())
		return 0
	case len(operands) > 1:
		return c.usageError(stderr, "expected at most one command")
	}
	about := commandNamed(operands[0])
	if about == nil {
		fmt.Fprintf(stderr, "ldgo help: unknown command %q\nRun 'ldgo help' for the list of commands.\n", operands[0])
		return exitUsage
	}
	fmt.Fprint(stdout, about.usage())
	return 0
}
