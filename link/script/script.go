// Package script reads the linker scripts given by -T and -dT: ENTRY,
// symbol assignments (with PROVIDE, PROVIDE_HIDDEN and HIDDEN), ASSERT,
// and SECTIONS with output section descriptions — input section patterns
// (KEEP, SORT_BY_NAME, SORT_BY_INIT_PRIORITY, EXCLUDE_FILE), BYTE, SHORT,
// LONG and QUAD data, assignments to symbols and to the location counter
// inside the section, ALIGN, (READONLY) and (NOLOAD), /DISCARD/ — and
// INSERT AFTER|BEFORE, which adds the script's sections to the default
// layout rather than replacing it (Fedora's .note.package scripts).
//
// What the link editor does not do is refused, naming the command and
// the line, as GNU ld names a script's syntax errors: MEMORY, PHDRS,
// OVERLAY, an output section's address, AT and AT>, >REGION, :PHDR,
// =FILL, and assignments to the location counter between output
// sections (addresses are the link editor's own).
//
// The package parses and evaluates; package layout places what a script
// describes, and package link defines its symbols.
package script

import (
	"fmt"
	"strconv"
	"strings"
)

// Script is a parsed linker script.
type Script struct {
	Path     string
	Entry    string
	Sections []*OutputSection
	// Assigns are the assignments outside output sections, in order;
	// each one's After is the output section it follows, if any.
	Assigns []*Assign
	Asserts []*Assert
	// Insert is INSERT's placement; nil when the script has none.
	Insert *Insert
}

// Insert is INSERT AFTER|BEFORE Name.
type Insert struct {
	After bool
	Name  string
}

// OutputSection is an output section description.
type OutputSection struct {
	Name     string
	Line     int
	ReadOnly bool // (READONLY)
	NoLoad   bool // (NOLOAD)
	Align    Expr // ALIGN(n) before the braces; nil if none
	Items    []Item
	Discard  bool // /DISCARD/
}

// Item is one command inside an output section: *Input, *Data or
// *Assign.
type Item interface{ line() int }

// Input is an input section description: the sections of the files
// matching File (glob; "*" for any) whose names match one of Patterns.
type Input struct {
	Line     int
	File     string
	Exclude  []string // EXCLUDE_FILE's globs
	Patterns []string
	Keep     bool
	Sort     string // "", "name" or "init_priority"
}

// Data is BYTE, SHORT, LONG or QUAD: Size bytes of Value.
type Data struct {
	Line  int
	Size  int
	Value Expr
}

// Assign is an assignment to a symbol or, with Name ".", to the
// location counter.
type Assign struct {
	Line    int
	Name    string
	Op      string // "=", "+=", "-=", ...
	Value   Expr
	Provide bool // PROVIDE, PROVIDE_HIDDEN: only if referenced and not defined
	Hidden  bool // PROVIDE_HIDDEN, HIDDEN
	After   *OutputSection
}

// Assert is ASSERT(expr, message).
type Assert struct {
	Line    int
	Value   Expr
	Message string
}

func (i *Input) line() int  { return i.Line }
func (d *Data) line() int   { return d.Line }
func (a *Assign) line() int { return a.Line }

// Error is a problem in a script, GNU ld's way: "file:line: message".
type Error struct {
	Path string
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg) }

// Parse reads the script text read from path.
func Parse(path, text string) (*Script, error) {
	p := &parser{lex: lexer{path: path, text: text, line: 1}, s: &Script{Path: path}}
	if err := p.script(); err != nil {
		return nil, err
	}
	return p.s, nil
}

// refused are the commands of GNU ld's script language the link editor
// does not take.
var refused = map[string]string{
	"MEMORY": "MEMORY", "PHDRS": "PHDRS", "OVERLAY": "OVERLAY", "NOCROSSREFS": "NOCROSSREFS",
	"NOCROSSREFS_TO": "NOCROSSREFS_TO", "INCLUDE": "INCLUDE", "INPUT": "INPUT in a -T script",
	"GROUP": "GROUP in a -T script", "STARTUP": "STARTUP", "TARGET": "TARGET", "REGION_ALIAS": "REGION_ALIAS",
	"VERSION": "VERSION in a linker script", "EXTERN": "EXTERN", "FORCE_COMMON_ALLOCATION": "FORCE_COMMON_ALLOCATION",
	"INHIBIT_COMMON_ALLOCATION": "INHIBIT_COMMON_ALLOCATION", "SEARCH_DIR": "SEARCH_DIR in a -T script",
	"OUTPUT": "OUTPUT", "LD_FEATURE": "LD_FEATURE", "SECTIONS_ALIGN": "SECTIONS_ALIGN",
	"CREATE_OBJECT_SYMBOLS": "CREATE_OBJECT_SYMBOLS", "CONSTRUCTORS": "CONSTRUCTORS",
	"FILL": "FILL", "SUBALIGN": "SUBALIGN", "AT": "AT (a load address)", "ONLY_IF_RO": "ONLY_IF_RO",
	"ONLY_IF_RW": "ONLY_IF_RW", "SORT_BY_ALIGNMENT": "SORT_BY_ALIGNMENT", "SORT_NONE": "SORT_NONE",
	"REVERSE": "REVERSE", "INPUT_SECTION_FLAGS": "INPUT_SECTION_FLAGS", "ASCIZ": "ASCIZ",
	"LINKER_VERSION": "LINKER_VERSION", "SQUAD": "SQUAD",
}

type parser struct {
	lex lexer
	s   *Script
}

func (p *parser) errorf(line int, format string, args ...any) error {
	return &Error{Path: p.s.Path, Line: line, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) unsupported(t token, what string) error {
	return p.errorf(t.line, "%s is not supported by ldgo's linker scripts", what)
}

func (p *parser) expect(mode int, text string) error {
	t := p.lex.next(mode)
	if t.text != text {
		return p.syntax(t)
	}
	return nil
}

func (p *parser) syntax(t token) error {
	if t.text == "" {
		return p.errorf(t.line, "syntax error (unexpected end of file)")
	}
	return p.errorf(t.line, "syntax error near %q", t.text)
}

func (p *parser) script() error {
	for {
		t := p.lex.next(modeScript)
		switch t.text {
		case "":
			return p.lex.err
		case ";":
		case "ENTRY":
			if err := p.entry(); err != nil {
				return err
			}
		case "OUTPUT_FORMAT", "OUTPUT_ARCH":
			if err := p.outputFormat(t); err != nil {
				return err
			}
		case "SECTIONS":
			if err := p.sections(); err != nil {
				return err
			}
		case "INSERT":
			w := p.lex.next(modeScript)
			if w.text != "AFTER" && w.text != "BEFORE" {
				return p.syntax(w)
			}
			name := p.lex.next(modeScript)
			if name.text == "" {
				return p.syntax(name)
			}
			p.s.Insert = &Insert{After: w.text == "AFTER", Name: name.text}
		case "ASSERT":
			if err := p.assert(t); err != nil {
				return err
			}
		default:
			if what, ok := refused[t.text]; ok {
				return p.unsupported(t, what)
			}
			if err := p.scriptAssign(t, nil, "outside SECTIONS"); err != nil {
				return err
			}
		}
	}
}

// scriptAssign parses an assignment outside output sections, where the
// location counter cannot be assigned (where says where that is).
func (p *parser) scriptAssign(t token, after *OutputSection, where string) error {
	a, err := p.assignment(t, after)
	if err != nil {
		return err
	}
	if a.Name == "." {
		return p.unsupported(t, "an assignment to the location counter "+where)
	}
	p.s.Assigns = append(p.s.Assigns, a)
	return nil
}

func (p *parser) outputFormat(t token) error {
	if err := p.expect(modeScript, "("); err != nil {
		return err
	}
	for {
		v := p.lex.next(modeScript)
		switch strings.Trim(v.text, `"`) {
		case ")":
			return nil
		case ",":
		case "elf64-x86-64", "i386:x86-64", "elf64-little":
		case "":
			return p.syntax(v)
		default:
			return p.errorf(v.line, "%s(%s): ldgo links only elf64-x86-64", t.text, v.text)
		}
	}
}

// entry parses ENTRY's (SYMBOL), its name read.
func (p *parser) entry() error {
	if err := p.expect(modeScript, "("); err != nil {
		return err
	}
	p.s.Entry = p.lex.next(modeScript).text
	return p.expect(modeScript, ")")
}

// parenExpr parses ( EXPR ).
func (p *parser) parenExpr() (Expr, error) {
	if err := p.expect(modeExpr, "("); err != nil {
		return nil, err
	}
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	return e, p.expect(modeExpr, ")")
}

func (p *parser) assert(t token) error {
	if err := p.expect(modeExpr, "("); err != nil {
		return err
	}
	e, err := p.expr()
	if err != nil {
		return err
	}
	if err := p.expect(modeExpr, ","); err != nil {
		return err
	}
	msg := p.lex.next(modeScript)
	if err := p.expect(modeExpr, ")"); err != nil {
		return err
	}
	p.s.Asserts = append(p.s.Asserts, &Assert{Line: t.line, Value: e, Message: strings.Trim(msg.text, `"`)})
	return nil
}

// assignment parses NAME op EXPR ; or PROVIDE(NAME = EXPR) ;, its first
// token read.
func (p *parser) assignment(t token, after *OutputSection) (*Assign, error) {
	a := &Assign{Line: t.line, After: after}
	wrapped := false
	switch t.text {
	case "PROVIDE", "PROVIDE_HIDDEN", "HIDDEN":
		a.Provide = t.text != "HIDDEN"
		a.Hidden = t.text != "PROVIDE"
		if err := p.expect(modeExpr, "("); err != nil {
			return nil, err
		}
		t = p.lex.next(modeExpr)
		wrapped = true
	}
	if !isSymbolName(t.text) {
		return nil, p.syntax(t)
	}
	a.Name = t.text
	op := p.lex.next(modeExpr)
	switch op.text {
	case "=", "+=", "-=", "*=", "/=", "<<=", ">>=", "&=", "|=":
		a.Op = op.text
	default:
		return nil, p.syntax(op)
	}
	if wrapped && a.Op != "=" {
		return nil, p.syntax(op)
	}
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	a.Value = e
	if wrapped {
		if err := p.expect(modeExpr, ")"); err != nil {
			return nil, err
		}
	}
	// The semicolon may be left out before a closing brace, and after
	// PROVIDE(...).
	if next := p.lex.peek(modeExpr); next.text == ";" {
		p.lex.next(modeExpr)
	} else if next.text != "}" && !wrapped {
		return nil, p.syntax(next)
	}
	return a, nil
}

func isSymbolName(s string) bool {
	if s == "" {
		return false
	}
	if s == "." {
		return true
	}
	c := s[0]
	return c == '_' || c == '.' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func (p *parser) sections() error {
	if err := p.expect(modeScript, "{"); err != nil {
		return err
	}
	var last *OutputSection
	for {
		t := p.lex.next(modeScript)
		switch t.text {
		case "}":
			return nil
		case "":
			return p.syntax(t)
		case ";":
		case "ENTRY":
			if err := p.entry(); err != nil {
				return err
			}
		case "ASSERT":
			if err := p.assert(t); err != nil {
				return err
			}
		default:
			if what, ok := refused[t.text]; ok {
				return p.unsupported(t, what)
			}
			next := p.lex.peek(modeExpr)
			if isAssignOp(next.text) || t.text == "PROVIDE" || t.text == "PROVIDE_HIDDEN" || t.text == "HIDDEN" {
				if err := p.scriptAssign(t, last, "between output sections (. = ...)"); err != nil {
					return err
				}
				continue
			}
			o, err := p.outputSection(t)
			if err != nil {
				return err
			}
			p.s.Sections = append(p.s.Sections, o)
			last = o
		}
	}
}

func isAssignOp(s string) bool {
	switch s {
	case "=", "+=", "-=", "*=", "/=", "<<=", ">>=", "&=", "|=":
		return true
	}
	return false
}

// outputSection parses an output section description, its name read.
func (p *parser) outputSection(name token) (*OutputSection, error) {
	o := &OutputSection{Name: name.text, Line: name.line, Discard: name.text == "/DISCARD/"}
	t := p.lex.next(modeScript)
	if t.text == "(" {
		typ := p.lex.next(modeScript)
		switch typ.text {
		case "READONLY":
			o.ReadOnly = true
		case "NOLOAD":
			o.NoLoad = true
		case "COPY", "INFO", "OVERLAY", "DSECT", "TYPE":
			return nil, p.unsupported(typ, "the output section type ("+typ.text+")")
		default:
			return nil, p.unsupported(typ, "an output section's address")
		}
		if err := p.expect(modeScript, ")"); err != nil {
			return nil, err
		}
		t = p.lex.next(modeScript)
	}
	if t.text != ":" {
		if t.text == "" {
			return nil, p.syntax(t)
		}
		return nil, p.unsupported(t, "an output section's address")
	}
	for {
		t = p.lex.next(modeScript)
		if t.text == "{" {
			break
		}
		switch t.text {
		case "ALIGN":
			e, err := p.parenExpr()
			if err != nil {
				return nil, err
			}
			o.Align = e
		case "AT":
			return nil, p.unsupported(t, "AT (a load address)")
		default:
			if what, ok := refused[t.text]; ok {
				return nil, p.unsupported(t, what)
			}
			return nil, p.syntax(t)
		}
	}
	if err := p.outputItems(o); err != nil {
		return nil, err
	}
	// What may follow the closing brace.
	for {
		t := p.lex.peek(modeScript)
		switch {
		case t.text == ">" || t.text == "AT":
			return nil, p.unsupported(t, "placing an output section in a memory region (>REGION, AT>)")
		case strings.HasPrefix(t.text, ":"):
			return nil, p.unsupported(t, "placing an output section in a program header (:PHDR)")
		case strings.HasPrefix(t.text, "="):
			return nil, p.unsupported(t, "an output section's fill (=FILL)")
		case t.text == ",":
			p.lex.next(modeScript)
			return o, nil
		}
		return o, nil
	}
}

func (p *parser) outputItems(o *OutputSection) error {
	for {
		t := p.lex.next(modePattern)
		switch t.text {
		case "}":
			return nil
		case "":
			return p.syntax(t)
		case ";":
		case "BYTE", "SHORT", "LONG", "QUAD":
			size := map[string]int{"BYTE": 1, "SHORT": 2, "LONG": 4, "QUAD": 8}[t.text]
			e, err := p.parenExpr()
			if err != nil {
				return err
			}
			o.Items = append(o.Items, &Data{Line: t.line, Size: size, Value: e})
		case "KEEP":
			if err := p.expect(modePattern, "("); err != nil {
				return err
			}
			in, err := p.inputSection(p.lex.next(modePattern))
			if err != nil {
				return err
			}
			in.Keep = true
			if err := p.expect(modePattern, ")"); err != nil {
				return err
			}
			o.Items = append(o.Items, in)
		case "PROVIDE", "PROVIDE_HIDDEN", "HIDDEN":
			a, err := p.assignment(t, nil)
			if err != nil {
				return err
			}
			o.Items = append(o.Items, a)
		default:
			if what, ok := refused[t.text]; ok {
				return p.unsupported(t, what)
			}
			if isAssignOp(p.lex.peek(modeExpr).text) {
				a, err := p.assignment(t, nil)
				if err != nil {
					return err
				}
				o.Items = append(o.Items, a)
				continue
			}
			in, err := p.inputSection(t)
			if err != nil {
				return err
			}
			o.Items = append(o.Items, in)
		}
	}
}

// inputSection parses FILE(PATTERNS) or a bare pattern, its first token
// read.
func (p *parser) inputSection(t token) (*Input, error) {
	in := &Input{Line: t.line, File: t.text}
	if t.text == "EXCLUDE_FILE" {
		ex, err := p.patternList()
		if err != nil {
			return nil, err
		}
		in.Exclude = ex
		in.File = p.lex.next(modePattern).text
	}
	if p.lex.peek(modePattern).text != "(" {
		// A bare name is a file whose sections all go here.
		in.Patterns = []string{"*"}
		return in, nil
	}
	p.lex.next(modePattern)
	for {
		t := p.lex.next(modePattern)
		switch t.text {
		case ")":
			return in, nil
		case "", "(":
			return nil, p.syntax(t)
		case ",":
		case "SORT", "SORT_BY_NAME", "SORT_BY_INIT_PRIORITY":
			in.Sort = "name"
			if t.text == "SORT_BY_INIT_PRIORITY" {
				in.Sort = "init_priority"
			}
			pats, err := p.patternList()
			if err != nil {
				return nil, err
			}
			in.Patterns = append(in.Patterns, pats...)
		case "EXCLUDE_FILE":
			return nil, p.unsupported(t, "EXCLUDE_FILE inside the section list")
		default:
			if what, ok := refused[t.text]; ok {
				return nil, p.unsupported(t, what)
			}
			in.Patterns = append(in.Patterns, t.text)
		}
	}
}

// patternList parses ( PATTERN ... ).
func (p *parser) patternList() ([]string, error) {
	if err := p.expect(modePattern, "("); err != nil {
		return nil, err
	}
	var pats []string
	for {
		t := p.lex.next(modePattern)
		switch t.text {
		case ")":
			return pats, nil
		case "", "(":
			return nil, p.syntax(t)
		case ",":
		default:
			pats = append(pats, t.text)
		}
	}
}

// parseNumber reads a number as GNU ld writes them: C's prefixes, or a
// K or M suffix.
func parseNumber(s string) (uint64, bool) {
	mult := uint64(1)
	switch {
	case strings.HasSuffix(s, "K") || strings.HasSuffix(s, "k"):
		mult, s = 1024, s[:len(s)-1]
	case strings.HasSuffix(s, "M") || strings.HasSuffix(s, "m"):
		mult, s = 1024*1024, s[:len(s)-1]
	}
	n, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		return 0, false
	}
	return n * mult, true
}
