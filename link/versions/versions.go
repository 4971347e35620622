// Package versions reads GNU ld version scripts (--version-script) and
// says, for each symbol a shared library defines, whether it is exported
// and at which version:
//
//	VERS_1.0 { global: foo; bar_*; local: *; };
//	VERS_2.0 { global: foo2; } VERS_1.0;
//
// A name is matched by the exact names of every version first, then by
// the patterns (shell globs: *, ?, [...]) in the order of the script, as
// GNU ld matches them. Names matched by a local: list are not exported.
// The names and patterns of an extern "C++" block match a symbol's
// demangled name (as c++filt prints it, parameters included), as GNU ld
// matches them:
//
//	VERS_1.0 { global: extern "C++" { "ns::f(int)"; ns::g*; }; local: *; };
package versions

import (
	"fmt"
	"path"
	"strings"

	"github.com/ianlancetaylor/demangle"
)

// Script is a parsed version script.
type Script struct {
	// Versions are the named versions, in order; an anonymous script
	// ({ global: ...; local: ...; };) has none.
	Versions []*Version
	rules    []rule
}

// Version is one version node.
type Version struct {
	Name    string
	Parents []string // the versions it inherits from (named after })
	Index   int      // its version index in the output (2, 3, ...)
}

type rule struct {
	pattern string
	glob    bool
	local   bool
	cxx     bool     // in an extern "C++" block: matches the demangled name
	version *Version // nil for an anonymous node
}

// Parse reads a version script; file names it in errors.
func Parse(file string, text string) (*Script, error) {
	p := &parser{file: file, toks: tokenize(text)}
	s := &Script{}
	for !p.done() {
		var v *Version
		if p.peek() != "{" {
			v = &Version{Name: p.next(), Index: len(s.Versions) + 2}
		}
		if err := p.expect("{"); err != nil {
			return nil, err
		}
		local := false
		cxx, inExtern := false, false
		for p.peek() != "}" || inExtern {
			if p.done() {
				return nil, p.errorf("unterminated version node")
			}
			tok := p.next()
			switch {
			case tok == "}" && inExtern:
				inExtern, cxx = false, false
			case tok == "global:" && !inExtern:
				local = false
			case tok == "local:" && !inExtern:
				local = true
			case tok == "extern" && !inExtern:
				lang := p.next()
				switch strings.Trim(lang, "\"") {
				case "C++":
					cxx = true
				case "C":
				default:
					return nil, p.errorf("unknown language `%s' in version information", strings.Trim(lang, "\""))
				}
				if err := p.expect("{"); err != nil {
					return nil, err
				}
				inExtern = true
			case tok == ";":
			case tok[0] == '"' && (len(tok) < 2 || tok[len(tok)-1] != '"'):
				return nil, p.errorf("unterminated string %s", tok)
			default:
				name := strings.Trim(tok, "\"")
				s.rules = append(s.rules, rule{pattern: name, glob: tok[0] != '"' && strings.ContainsAny(name, "*?["), local: local, cxx: cxx, version: v})
				if p.peek() != ";" && p.peek() != "}" {
					return nil, p.errorf("syntax error after %s", tok)
				}
			}
		}
		p.next() // }
		if v != nil {
			for p.peek() != ";" && !p.done() {
				v.Parents = append(v.Parents, p.next())
			}
			s.Versions = append(s.Versions, v)
		}
		if err := p.expect(";"); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Match returns the version a symbol named name is exported at (nil for
// none: unversioned, or an anonymous node), and whether it is local
// instead; matched is false when no rule names it.
func (s *Script) Match(name string) (v *Version, local, matched bool) {
	// C++ rules see the demangled name; a name that is not mangled is
	// its own (GNU ld's lang_vers_match).
	demangled := ""
	nameFor := func(r *rule) string {
		if !r.cxx {
			return name
		}
		if demangled == "" {
			demangled = demangle.Filter(name)
		}
		return demangled
	}
	for i := range s.rules {
		r := &s.rules[i]
		if !r.glob && r.pattern == nameFor(r) {
			return r.version, r.local, true
		}
	}
	// Globs: GNU ld prefers a global one over "local: *".
	var loc *rule
	for i := range s.rules {
		r := &s.rules[i]
		if !r.glob {
			continue
		}
		if ok, _ := path.Match(r.pattern, nameFor(r)); ok {
			if r.local && r.pattern == "*" {
				if loc == nil {
					loc = r
				}
				continue
			}
			return r.version, r.local, true
		}
	}
	if loc != nil {
		return loc.version, true, true
	}
	return nil, false, false
}

// Lookup returns the named version, or nil.
func (s *Script) Lookup(name string) *Version {
	for _, v := range s.Versions {
		if v.Name == name {
			return v
		}
	}
	return nil
}

type parser struct {
	file string
	toks []token
	i    int
}

type token struct {
	text string
	line int
}

func (p *parser) done() bool { return p.i >= len(p.toks) }

func (p *parser) peek() string {
	if p.done() {
		return ""
	}
	return p.toks[p.i].text
}

func (p *parser) next() string {
	if p.done() {
		return ""
	}
	p.i++
	return p.toks[p.i-1].text
}

func (p *parser) errorf(format string, args ...any) error {
	line := 0
	if p.i > 0 && p.i <= len(p.toks) {
		line = p.toks[p.i-1].line
	} else if len(p.toks) > 0 {
		line = p.toks[len(p.toks)-1].line
	}
	return fmt.Errorf("%s:%d: %s", p.file, line, fmt.Sprintf(format, args...))
}

func (p *parser) expect(t string) error {
	if got := p.next(); got != t {
		return p.errorf("syntax error: %q expected, found %q", t, got)
	}
	return nil
}

// tokenize splits a script into words, braces and semicolons; global:
// and local: are single words; comments (/* */, #) are dropped.
func tokenize(text string) []token {
	var toks []token
	line := 1
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#':
			for i < len(text) && text[i] != '\n' {
				i++
			}
		case strings.HasPrefix(text[i:], "/*"):
			end := strings.Index(text[i+2:], "*/")
			if end < 0 {
				i = len(text)
				break
			}
			line += strings.Count(text[i:i+2+end], "\n")
			i += end + 4
		case c == '{' || c == '}' || c == ';':
			toks = append(toks, token{text[i : i+1], line})
			i++
		case c == '"':
			end := strings.IndexByte(text[i+1:], '"')
			if end < 0 {
				// Unterminated: the rest, which the parser refuses.
				toks = append(toks, token{text[i:], line})
				i = len(text)
				break
			}
			toks = append(toks, token{text[i : i+2+end], line})
			i += end + 2
		default:
			j := i
			for j < len(text) && !strings.ContainsRune(" \t\r\n{};\"", rune(text[j])) {
				if strings.HasPrefix(text[j:], "::") {
					j += 2 // a C++ scope, as in ns::f*
					continue
				}
				if text[j] == ':' {
					j++
					break
				}
				j++
			}
			toks = append(toks, token{text[i:j], line})
			i = j
		}
	}
	return toks
}

// Add adds the global names and patterns of another script (a dynamic
// list, or --export-dynamic-symbol's patterns) to s.
func (s *Script) Add(other *Script) {
	s.rules = append(s.rules, other.rules...)
}

// Patterns makes a script exporting the given names and patterns, as
// --export-dynamic-symbol gives them.
func Patterns(patterns []string) *Script {
	s := &Script{}
	for _, p := range patterns {
		s.rules = append(s.rules, rule{pattern: p, glob: strings.ContainsAny(p, "*?[")})
	}
	return s
}
