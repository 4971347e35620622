package input

import (
	"strings"
)

// Script is a GNU ld script given as an input file, of the kind Debian
// installs in place of some libraries (libc.so, libgcc_s.so): it names
// other inputs. The commands taken are GROUP, INPUT, AS_NEEDED inside
// them, SEARCH_DIR, OUTPUT_FORMAT and OUTPUT_ARCH; any other is refused,
// naming the command and the line.
type Script struct {
	Path    string
	Entries []ScriptEntry
	// SearchDirs are SEARCH_DIR's directories, in order.
	SearchDirs []string
}

// ScriptEntry is one file the script names, in order.
type ScriptEntry struct {
	Name string
	// Library says Name came as -lNAME: it is searched for.
	Library  bool
	AsNeeded bool
	// GroupStart and GroupEnd mark GROUP's bounds (entries with no name).
	GroupStart, GroupEnd bool
}

type scriptToken struct {
	text string
	line int
}

// ParseScript reads a linker script given as an input file.
func ParseScript(path string, data []byte) (*Script, error) {
	toks, err := tokenizeScript(path, string(data))
	if err != nil {
		return nil, err
	}
	s := &Script{Path: path}
	p := &scriptParser{s: s, toks: toks}
	if err := p.commands(); err != nil {
		return nil, err
	}
	return s, nil
}

func tokenizeScript(path, text string) ([]scriptToken, error) {
	var toks []scriptToken
	line := 1
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
		case strings.HasPrefix(text[i:], "/*"):
			end := strings.Index(text[i+2:], "*/")
			if end < 0 {
				return nil, &Error{File: path, Cause: sprintf("%d: unterminated comment", line)}
			}
			line += strings.Count(text[i:i+2+end], "\n")
			i += end + 4
		case c == '(' || c == ')' || c == ',' || c == ';' || c == '{' || c == '}' || c == '=':
			toks = append(toks, scriptToken{text[i : i+1], line})
			i++
		case c == '"':
			end := strings.IndexByte(text[i+1:], '"')
			if end < 0 {
				return nil, &Error{File: path, Cause: sprintf("%d: unterminated string", line)}
			}
			toks = append(toks, scriptToken{"\"" + text[i+1:i+1+end], line})
			i += end + 2
		default:
			j := i
			for j < len(text) && !strings.ContainsRune(" \t\r\n\f\v(),;{}=\"", rune(text[j])) && !strings.HasPrefix(text[j:], "/*") {
				j++
			}
			toks = append(toks, scriptToken{text[i:j], line})
			i = j
		}
	}
	return toks, nil
}

type scriptParser struct {
	s    *Script
	toks []scriptToken
	i    int
}

func (p *scriptParser) errorf(line int, format string, args ...any) error {
	return &Error{File: p.s.Path, Cause: sprintf("%d: %s", line, sprintf(format, args...))}
}

func (p *scriptParser) next() (scriptToken, bool) {
	if p.i >= len(p.toks) {
		return scriptToken{}, false
	}
	t := p.toks[p.i]
	p.i++
	return t, true
}

func (p *scriptParser) expect(text string, after scriptToken) error {
	t, ok := p.next()
	if !ok {
		return p.errorf(after.line, "syntax error: %s expected after %s", text, after.text)
	}
	if t.text != text {
		return p.errorf(t.line, "syntax error: %s expected, found %s", text, t.text)
	}
	return nil
}

func (p *scriptParser) commands() error {
	for {
		t, ok := p.next()
		if !ok {
			return nil
		}
		switch t.text {
		case ";":
		case "GROUP", "INPUT":
			if err := p.expect("(", t); err != nil {
				return err
			}
			group := t.text == "GROUP"
			if group {
				p.s.Entries = append(p.s.Entries, ScriptEntry{GroupStart: true})
			}
			if err := p.files(t, false); err != nil {
				return err
			}
			if group {
				p.s.Entries = append(p.s.Entries, ScriptEntry{GroupEnd: true})
			}
		case "SEARCH_DIR":
			args, err := p.args(t)
			if err != nil {
				return err
			}
			if len(args) != 1 {
				return p.errorf(t.line, "SEARCH_DIR takes one directory")
			}
			p.s.SearchDirs = append(p.s.SearchDirs, args[0])
		case "OUTPUT_FORMAT":
			args, err := p.args(t)
			if err != nil {
				return err
			}
			for _, a := range args {
				if a != "elf64-x86-64" {
					return p.errorf(t.line, "output format %s is not elf64-x86-64", a)
				}
			}
		case "OUTPUT_ARCH":
			args, err := p.args(t)
			if err != nil {
				return err
			}
			if len(args) != 1 || (args[0] != "i386:x86-64" && args[0] != "x86-64") {
				return p.errorf(t.line, "output architecture %s is not i386:x86-64", strings.Join(args, " "))
			}
		default:
			return p.errorf(t.line, "%s is not supported in a linker script given as an input file", t.text)
		}
	}
}

// args reads a command's parenthesized, comma- or space-separated
// arguments.
func (p *scriptParser) args(cmd scriptToken) ([]string, error) {
	if err := p.expect("(", cmd); err != nil {
		return nil, err
	}
	var args []string
	for {
		t, ok := p.next()
		if !ok {
			return nil, p.errorf(cmd.line, "syntax error: unterminated %s", cmd.text)
		}
		switch t.text {
		case ")":
			return args, nil
		case ",":
		default:
			args = append(args, strings.TrimPrefix(t.text, "\""))
		}
	}
}

// files reads the file list of GROUP, INPUT or AS_NEEDED, up to the
// closing parenthesis.
func (p *scriptParser) files(cmd scriptToken, asNeeded bool) error {
	for {
		t, ok := p.next()
		if !ok {
			return p.errorf(cmd.line, "syntax error: unterminated %s", cmd.text)
		}
		switch {
		case t.text == ")":
			return nil
		case t.text == ",":
		case t.text == "AS_NEEDED":
			if err := p.expect("(", t); err != nil {
				return err
			}
			if err := p.files(t, true); err != nil {
				return err
			}
		case t.text == "(" || t.text == ";" || t.text == "{" || t.text == "}" || t.text == "=":
			return p.errorf(t.line, "syntax error at %s", t.text)
		default:
			name := strings.TrimPrefix(t.text, "\"")
			e := ScriptEntry{Name: name, AsNeeded: asNeeded}
			if strings.HasPrefix(name, "-l") && len(name) > 2 {
				e.Name, e.Library = name[2:], true
			}
			p.s.Entries = append(p.s.Entries, e)
		}
	}
}
