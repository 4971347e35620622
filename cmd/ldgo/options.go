package main

import (
	"errors"
	"fmt"
	"strings"
)

// An option is one command-line option of a command. The usage text, the
// man page test and the shell completion are made from these.
type option struct {
	name string // without dashes
	arg  string // the value's name in the usage; empty for a switch
	help string
	// repeat lets the option be given more than once; its values are
	// then joined by listSep (see splitList).
	repeat bool
}

// listSep joins the values of an option given more than once: a byte no
// command-line argument can hold.
const listSep = "\x00"

// splitList returns the values of a repeatable option.
func splitList(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, listSep)
}

// helpOption is taken by every command.
var helpOption = option{name: "help", help: "print this help and exit"}

// errHelp is returned by parseArgs for -h and --help.
var errHelp = errors.New("help requested")

// parseArgs splits args into options, as opts defines them, and operands.
// An option is --name or -name; one with a value takes it as --name=VALUE
// or as the next argument; "--" ends the options. With interspersed,
// options may follow operands as well (ldgo list PROG --json); without,
// the first operand ends them (ldgo run PROG ARGS...). A switch given has
// the value "". An option given again replaces its value, unless it
// repeats. -h and --help return errHelp.
func parseArgs(opts []option, args []string, interspersed bool) (map[string]string, []string, error) {
	values := map[string]string{}
	var operands []string
	for len(args) > 0 {
		a := args[0]
		args = args[1:]
		if a == "--" {
			operands = append(operands, args...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			operands = append(operands, a)
			if !interspersed {
				operands = append(operands, args...)
				break
			}
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if name == "h" || name == helpOption.name {
			return nil, nil, errHelp
		}
		o := findOption(opts, name)
		switch {
		case o == nil:
			return nil, nil, fmt.Errorf("unknown option %s", a)
		case o.arg == "" && hasVal:
			return nil, nil, fmt.Errorf("option --%s takes no value", name)
		case o.arg != "" && !hasVal:
			if len(args) == 0 {
				return nil, nil, fmt.Errorf("option --%s needs a value (%s)", name, o.arg)
			}
			val, args = args[0], args[1:]
		}
		if old, ok := values[name]; ok && o.repeat {
			val = old + listSep + val
		}
		values[name] = val
	}
	return values, operands, nil
}

func findOption(opts []option, name string) *option {
	for i := range opts {
		if opts[i].name == name {
			return &opts[i]
		}
	}
	return nil
}

// formatOptions lays out options for a usage text, the help option last.
func formatOptions(opts []option) string {
	all := append(append([]option(nil), opts...), helpOption)
	width := 0
	left := make([]string, len(all))
	for i, o := range all {
		left[i] = "--" + o.name
		if o.arg != "" {
			left[i] += " " + o.arg
		}
		if o.name == helpOption.name {
			left[i] = "-h, --help"
		}
		width = max(width, len(left[i]))
	}
	var b strings.Builder
	for i, o := range all {
		lines := strings.Split(o.help, "\n")
		fmt.Fprintf(&b, "  %-*s  %s\n", width, left[i], lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(&b, "  %-*s  %s\n", width, "", l)
		}
	}
	return b.String()
}
