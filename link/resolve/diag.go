package resolve

import (
	"debug/elf"
	"fmt"

	"github.com/ldgo/ldgo/link/input"
)

// Place is a spot in an input section, for messages.
type Place struct {
	File    *File
	Section *input.Section
	Offset  uint64
}

// function returns the name of the function in f's section sec that
// covers offset off, or "".
func (f *File) function(sec *input.Section, off uint64) string {
	for i := range f.Symbols {
		s := &f.Symbols[i]
		if s.Sym.Type() != elf.STT_FUNC || s.Shndx != sec.Index {
			continue
		}
		if s.Sym.Value <= off && off < s.Sym.Value+max(s.Sym.Size, 1) {
			return s.Name
		}
	}
	return ""
}

// Context is the line GNU ld writes before a message about a place in a
// function ("main.o: in function `main':"), or "".
func (p Place) Context() string {
	if p.File == nil || p.Section == nil {
		return ""
	}
	if fn := p.File.function(p.Section, p.Offset); fn != "" {
		return fmt.Sprintf("%s: in function `%s':", p.File.Name, fn)
	}
	return ""
}

// String is the place as GNU ld writes it: the source file and line
// from the object's debug information ("/src/main.c:5"), or else
// "main.c:(.text+0x5)" inside a function of an object with a source file
// name, "main.o:(.data+0x0)" outside any.
func (p Place) String() string {
	if p.File == nil {
		return "<command line>"
	}
	if p.Section == nil {
		return p.File.Name
	}
	if line := p.File.sourceLine(p.Section, p.Offset); line != "" {
		return line
	}
	where := fmt.Sprintf("(%s+%#x)", p.Section.Name, p.Offset)
	if p.File.function(p.Section, p.Offset) != "" && p.File.SourceName != "" {
		return p.File.SourceName + ":" + where
	}
	return p.File.Name + ":" + where
}

// Full is the place with its object named even inside a function, as the
// second half of "multiple definition" names the first definition.
func (p Place) Full() string {
	s := p.String()
	if p.File != nil && p.Section != nil && (p.File.sourceLine(p.Section, p.Offset) != "" ||
		p.File.function(p.Section, p.Offset) != "" && p.File.SourceName != "") {
		return p.File.Name + ":" + s
	}
	return s
}

// Diagnostic is an error or warning about a place, worded as GNU ld
// words it; Error gives its lines.
type Diagnostic struct {
	Place   Place
	Message string
	Warning bool
	// Undefined is the name an undefined reference is to ("" for
	// other messages): GNU ld limits how many in a row it gives.
	Undefined string
}

func (d *Diagnostic) Error() string {
	if c := d.Place.Context(); c != "" {
		return c + "\n" + d.Body()
	}
	return d.Body()
}

// Body is the message without its context line.
func (d *Diagnostic) Body() string {
	msg := d.Message
	if d.Warning {
		msg = "warning: " + msg
	}
	if d.Place.File == nil && d.Place.Section == nil {
		return msg
	}
	return d.Place.String() + ": " + msg
}
