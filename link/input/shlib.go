package input

import (
	"debug/elf"
	"path/filepath"

	"github.com/ldgo/ldgo/object"
)

// Shlib is a shared library given to the link: its dynamic symbols
// (with their versions) are definitions the output may import.
type Shlib struct {
	Path string
	Data []byte
	Obj  *object.Object
}

// ParseShlib reads a shared library through its dynamic section, as the
// run-time linker reads it.
func ParseShlib(path string, data []byte) (*Shlib, error) {
	obj, err := object.ParseBytes(path, data)
	if err != nil {
		return nil, err
	}
	if obj.Type != elf.ET_DYN {
		return nil, &Error{File: path, Cause: "not a shared library"}
	}
	return &Shlib{Path: path, Data: data, Obj: obj}, nil
}

// Needed returns the name the output's DT_NEEDED gives the library: its
// SONAME, or else the name it was found by (the file name for -l, the
// path as given otherwise), as GNU ld does.
func (l *Shlib) Needed(byLibrarySearch bool) string {
	if l.Obj.Dyn.HasSoname {
		return l.Obj.Dyn.Soname
	}
	if byLibrarySearch {
		return filepath.Base(l.Path)
	}
	return l.Path
}
