package script

import (
	"fmt"
	"strings"
)

// Env is what an expression's names mean where it is evaluated.
type Env interface {
	// Dot is the location counter; false where there is none.
	Dot() (uint64, bool)
	// Symbol is a defined symbol's value; false if it is not.
	Symbol(name string) (uint64, bool)
	// Section is an output section's address, size and alignment;
	// false if the output has no such section.
	Section(name string) (addr, size, align uint64, ok bool)
	// Constant is CONSTANT(name): MAXPAGESIZE, COMMONPAGESIZE.
	Constant(name string) (uint64, bool)
}

// Aligner is an Env that learns of ALIGN(n) applied to the location
// counter: an output section laid out by offsets must then be aligned
// to n itself for the offsets to be aligned addresses.
type Aligner interface{ Aligned(n uint64) }

// Expr is an expression of the script language, unsigned 64-bit.
type Expr interface {
	Eval(env Env) (uint64, error)
	// Absolute reports whether the value is a number, not an address:
	// the expression names no symbol, section or location counter.
	Absolute() bool
}

// EvalError says why an expression has no value.
type EvalError struct{ Msg string }

func (e *EvalError) Error() string { return e.Msg }

func evalErrorf(format string, args ...any) error {
	return &EvalError{Msg: fmt.Sprintf(format, args...)}
}

type number uint64

func (n number) Eval(Env) (uint64, error) { return uint64(n), nil }
func (number) Absolute() bool             { return true }

type name string

func (n name) Eval(env Env) (uint64, error) {
	if n == "." {
		if v, ok := env.Dot(); ok {
			return v, nil
		}
		return 0, evalErrorf("invalid use of the location counter (.) here")
	}
	if v, ok := env.Symbol(string(n)); ok {
		return v, nil
	}
	return 0, evalErrorf("undefined symbol `%s' referenced in expression", string(n))
}
func (name) Absolute() bool { return false }

type unary struct {
	op string
	x  Expr
}

func (u *unary) Eval(env Env) (uint64, error) {
	x, err := u.x.Eval(env)
	if err != nil {
		return 0, err
	}
	switch u.op {
	case "-":
		return -x, nil
	case "~":
		return ^x, nil
	}
	return b2u(x == 0), nil
}
func (u *unary) Absolute() bool { return u.x.Absolute() }

type binary struct {
	op   string
	x, y Expr
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func (b *binary) Eval(env Env) (uint64, error) {
	x, err := b.x.Eval(env)
	if err != nil {
		return 0, err
	}
	y, err := b.y.Eval(env)
	if err != nil {
		return 0, err
	}
	switch b.op {
	case "+":
		return x + y, nil
	case "-":
		return x - y, nil
	case "*":
		return x * y, nil
	case "/", "%":
		if y == 0 {
			return 0, evalErrorf("division by zero")
		}
		if b.op == "/" {
			return x / y, nil
		}
		return x % y, nil
	case "<<":
		return x << y, nil
	case ">>":
		return x >> y, nil
	case "&":
		return x & y, nil
	case "|":
		return x | y, nil
	case "^":
		return x ^ y, nil
	case "==":
		return b2u(x == y), nil
	case "!=":
		return b2u(x != y), nil
	case "<":
		return b2u(x < y), nil
	case ">":
		return b2u(x > y), nil
	case "<=":
		return b2u(x <= y), nil
	case ">=":
		return b2u(x >= y), nil
	case "&&":
		return b2u(x != 0 && y != 0), nil
	case "||":
		return b2u(x != 0 || y != 0), nil
	}
	return 0, evalErrorf("unknown operator %s", b.op)
}
func (b *binary) Absolute() bool {
	if b.op == "-" && !b.x.Absolute() && !b.y.Absolute() {
		return true // the distance between two addresses
	}
	return b.x.Absolute() && b.y.Absolute()
}

type cond struct{ c, x, y Expr }

func (c *cond) Eval(env Env) (uint64, error) {
	v, err := c.c.Eval(env)
	if err != nil {
		return 0, err
	}
	if v != 0 {
		return c.x.Eval(env)
	}
	return c.y.Eval(env)
}
func (c *cond) Absolute() bool { return c.x.Absolute() && c.y.Absolute() }

type call struct {
	fn   string
	args []Expr
	sym  string // the name argument of ADDR, SIZEOF, ALIGNOF, DEFINED, CONSTANT
}

func alignUp(v, a uint64) uint64 {
	if a <= 1 {
		return v
	}
	return (v + a - 1) / a * a
}

func (c *call) Eval(env Env) (uint64, error) {
	var vals []uint64
	for _, a := range c.args {
		v, err := a.Eval(env)
		if err != nil {
			return 0, err
		}
		vals = append(vals, v)
	}
	switch c.fn {
	case "ALIGN":
		if len(vals) == 2 {
			return alignUp(vals[0], vals[1]), nil
		}
		dot, ok := env.Dot()
		if !ok {
			return 0, evalErrorf("invalid use of the location counter (ALIGN) here")
		}
		if a, ok := env.(Aligner); ok {
			a.Aligned(vals[0])
		}
		return alignUp(dot, vals[0]), nil
	case "ABSOLUTE":
		return vals[0], nil
	case "MAX":
		return max(vals[0], vals[1]), nil
	case "MIN":
		return min(vals[0], vals[1]), nil
	case "DEFINED":
		_, ok := env.Symbol(c.sym)
		return b2u(ok), nil
	case "CONSTANT":
		if v, ok := env.Constant(c.sym); ok {
			return v, nil
		}
		return 0, evalErrorf("unknown constant `%s' referenced in expression", c.sym)
	}
	addr, size, align, ok := env.Section(c.sym)
	if !ok {
		if c.fn == "SIZEOF" || c.fn == "ALIGNOF" {
			return 0, nil // GNU ld: 0 for a section the output lacks
		}
		return 0, evalErrorf("undefined section `%s' referenced in expression", c.sym)
	}
	switch c.fn {
	case "SIZEOF":
		return size, nil
	case "ALIGNOF":
		return align, nil
	}
	return addr, nil // ADDR, LOADADDR
}

func (c *call) Absolute() bool {
	switch c.fn {
	case "SIZEOF", "ALIGNOF", "DEFINED", "CONSTANT":
		return true
	case "ABSOLUTE":
		return true
	case "ALIGN":
		return len(c.args) == 2 && c.args[0].Absolute()
	case "MAX", "MIN":
		return c.args[0].Absolute() && c.args[1].Absolute()
	}
	return false
}

// functions are the expression functions taken, with their argument
// counts; a name argument is read as a name, not evaluated.
var functions = map[string]struct {
	args   int
	byName bool
}{
	"ALIGN": {1, false}, "ABSOLUTE": {1, false}, "MAX": {2, false}, "MIN": {2, false},
	"ADDR": {1, true}, "LOADADDR": {1, true}, "SIZEOF": {1, true}, "ALIGNOF": {1, true},
	"DEFINED": {1, true}, "CONSTANT": {1, true},
}

var refusedFunctions = []string{"DATA_SEGMENT_ALIGN", "DATA_SEGMENT_END", "DATA_SEGMENT_RELRO_END",
	"SEGMENT_START", "SIZEOF_HEADERS", "ORIGIN", "LENGTH", "NEXT", "BLOCK", "LOG2CEIL"}

// Binary operators by precedence, loosest first, as C's.
var precedence = [][]string{
	{"||"}, {"&&"}, {"|"}, {"^"}, {"&"}, {"==", "!="}, {"<", ">", "<=", ">="}, {"<<", ">>"}, {"+", "-"}, {"*", "/", "%"},
}

func (p *parser) expr() (Expr, error) {
	c, err := p.binary(0)
	if err != nil {
		return nil, err
	}
	if p.lex.peek(modeExpr).text != "?" {
		return c, nil
	}
	p.lex.next(modeExpr)
	x, err := p.expr()
	if err != nil {
		return nil, err
	}
	if err := p.expect(modeExpr, ":"); err != nil {
		return nil, err
	}
	y, err := p.expr()
	if err != nil {
		return nil, err
	}
	return &cond{c, x, y}, nil
}

func (p *parser) binary(level int) (Expr, error) {
	if level == len(precedence) {
		return p.unaryExpr()
	}
	x, err := p.binary(level + 1)
	if err != nil {
		return nil, err
	}
	for {
		op := p.lex.peek(modeExpr).text
		found := false
		for _, o := range precedence[level] {
			found = found || o == op
		}
		if !found {
			return x, nil
		}
		p.lex.next(modeExpr)
		y, err := p.binary(level + 1)
		if err != nil {
			return nil, err
		}
		x = &binary{op, x, y}
	}
}

func (p *parser) unaryExpr() (Expr, error) {
	t := p.lex.next(modeExpr)
	switch t.text {
	case "-", "~", "!":
		x, err := p.unaryExpr()
		if err != nil {
			return nil, err
		}
		return &unary{t.text, x}, nil
	case "+":
		return p.unaryExpr()
	case "(":
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		return x, p.expect(modeExpr, ")")
	}
	if t.text != "" && t.text[0] >= '0' && t.text[0] <= '9' {
		n, ok := parseNumber(t.text)
		if !ok {
			return nil, p.errorf(t.line, "invalid number %q", t.text)
		}
		return number(n), nil
	}
	for _, f := range refusedFunctions {
		if t.text == f {
			return nil, p.unsupported(t, f)
		}
	}
	if f, ok := functions[t.text]; ok && p.lex.peek(modeExpr).text == "(" {
		p.lex.next(modeExpr)
		c := &call{fn: t.text}
		for i := 0; i < f.args || t.text == "ALIGN" && i < 2; i++ {
			if i > 0 {
				if p.lex.peek(modeExpr).text != "," {
					break
				}
				p.lex.next(modeExpr)
			}
			if f.byName {
				n := p.lex.next(modeScript)
				if n.text == "" || n.text == ")" {
					return nil, p.syntax(n)
				}
				c.sym = n.text
				continue
			}
			a, err := p.expr()
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, a)
		}
		return c, p.expect(modeExpr, ")")
	}
	if isSymbolName(t.text) || strings.HasPrefix(t.text, `"`) {
		return name(strings.Trim(t.text, `"`)), nil
	}
	return nil, p.syntax(t)
}
