package options

import (
	"os"
	"strings"
)

// maxResponseDepth bounds the nesting of @file arguments, so that a file
// naming itself is an error rather than a loop.
const maxResponseDepth = 64

// ExpandResponseFiles replaces each @file argument by the arguments the
// file holds, as GNU ld (libiberty's expandargv) does: separated by white
// space, with single or double quotes and backslash escapes, and @file
// arguments inside expanded in turn. An @file that cannot be read stays
// as it is (it is then taken as a file name).
func ExpandResponseFiles(args []string) ([]string, error) {
	return expand(args, 0)
}

func expand(args []string, depth int) ([]string, error) {
	var out []string
	for i, a := range args {
		if !strings.HasPrefix(a, "@") || len(a) == 1 {
			out = append(out, a)
			continue
		}
		if out == nil {
			out = append(out, args[:i]...)
		}
		data, err := os.ReadFile(a[1:])
		if err != nil {
			out = append(out, a)
			continue
		}
		if depth >= maxResponseDepth {
			return nil, errorf("%s: response files nested too deeply", a[1:])
		}
		inner, err := expand(splitResponse(string(data)), depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, inner...)
	}
	if out == nil {
		return args, nil
	}
	return out, nil
}

// splitResponse splits a response file's text into arguments.
func splitResponse(s string) []string {
	var args []string
	var cur strings.Builder
	inArg := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inArg = true
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote = c
			inArg = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteByte(c)
			inArg = true
		}
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args
}
