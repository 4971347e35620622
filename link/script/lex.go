package script

import "strings"

// The script language's words depend on where they stand, as in GNU
// ld's lexer: a section name pattern may hold * and ?, an expression's
// names may not, and the commands' names hold neither.
const (
	modeScript = iota
	modePattern
	modeExpr
)

type token struct {
	text string
	line int
}

type lexer struct {
	path string
	text string
	pos  int
	line int
	err  error
}

// operators are the expressions' tokens of more than one character,
// longest first.
var operators = []string{"<<=", ">>=", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "+=", "-=", "*=", "/=", "&=", "|="}

func nameChar(c byte, mode int) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '.', c == '$':
		return true
	}
	switch mode {
	case modeScript:
		return c == '-' || c == '/'
	case modePattern:
		return !strings.ContainsRune(" \t\r\n\f\v(){};,=\"", rune(c))
	}
	return false
}

func (l *lexer) skip() {
	for l.pos < len(l.text) {
		c := l.text[l.pos]
		switch {
		case c == '\n':
			l.line++
			l.pos++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			l.pos++
		case strings.HasPrefix(l.text[l.pos:], "/*"):
			end := strings.Index(l.text[l.pos+2:], "*/")
			if end < 0 {
				l.err = &Error{Path: l.path, Line: l.line, Msg: "unterminated comment"}
				l.pos = len(l.text)
				return
			}
			l.line += strings.Count(l.text[l.pos:l.pos+2+end], "\n")
			l.pos += end + 4
		default:
			return
		}
	}
}

// scan returns the next token and where it ends.
func (l *lexer) scan(mode int) (token, int) {
	l.skip()
	i := l.pos
	if i >= len(l.text) {
		return token{"", l.line}, i
	}
	c := l.text[i]
	if c == '"' {
		end := strings.IndexByte(l.text[i+1:], '"')
		if end < 0 {
			l.err = &Error{Path: l.path, Line: l.line, Msg: "unterminated string"}
			return token{"", l.line}, len(l.text)
		}
		return token{l.text[i : i+end+2], l.line}, i + end + 2
	}
	if nameChar(c, mode) && !(mode == modePattern && strings.HasPrefix(l.text[i:], "/*")) {
		j := i
		for j < len(l.text) && nameChar(l.text[j], mode) && !strings.HasPrefix(l.text[j:], "/*") {
			j++
		}
		return token{l.text[i:j], l.line}, j
	}
	if mode == modeExpr {
		for _, op := range operators {
			if strings.HasPrefix(l.text[i:], op) {
				return token{op, l.line}, i + len(op)
			}
		}
	}
	return token{l.text[i : i+1], l.line}, i + 1
}

func (l *lexer) next(mode int) token {
	t, end := l.scan(mode)
	l.pos = end
	return t
}

func (l *lexer) peek(mode int) token {
	t, _ := l.scan(mode)
	return t
}
