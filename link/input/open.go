// Package input reads the files a link takes: relocatable objects (their
// sections, symbols, relocations, COMDAT groups, .eh_frame records and
// GNU properties), ar archives (GNU and thin, through their symbol
// index), shared libraries (their dynamic symbols, versions and SONAME,
// read by package object as the run-time linker reads them), and GNU ld
// scripts of the kind Debian installs as libc.so.
//
// Files are mapped, never copied: sections and names are slices and
// strings of the mapping, which stays for the whole link. Every offset,
// size and index a later pass relies on is checked here, so a hostile or
// truncated file is an error naming the file and the cause, and the
// passes after reading index without checking again. Reading is per file
// and safe to run for many files at once.
package input

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/ldgo/ldgo/object"
)

var errNotRegular = errors.New("not a regular file")

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

func errText(err error) string { return object.ErrorText(err) }

// mapFile maps a whole file read-only. The mapping is never released: a
// link editor runs once per process, and the names and sections taken
// from the file point into it.
func mapFile(path string) ([]byte, error) {
	// Non-blocking, so that a FIFO named as an input is refused below
	// rather than waited on.
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	for err == unix.EINTR {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	}
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFDIR:
		return nil, unix.EISDIR
	default:
		return nil, errNotRegular
	}
	if st.Size == 0 {
		return []byte{}, nil
	}
	return unix.Mmap(fd, 0, int(st.Size), unix.PROT_READ, unix.MAP_PRIVATE)
}

// File is an opened input: an *Object, *Archive, *Shlib or *Script.
type File interface{ path() string }

func (f *Object) path() string  { return f.Name }
func (a *Archive) path() string { return a.Path }
func (l *Shlib) path() string   { return l.Path }
func (s *Script) path() string  { return s.Path }

// Open maps the file at path and reads it as whatever it is.
func Open(path string) (File, error) {
	data, err := mapFile(path)
	if err != nil {
		return nil, &Error{File: path, Cause: errText(err)}
	}
	return Parse(path, data)
}

// Parse reads a file's contents as whatever they are.
func Parse(path string, data []byte) (File, error) {
	switch {
	case IsArchive(data):
		return ParseArchive(path, data)
	case len(data) >= 4 && string(data[:4]) == elf.ELFMAG:
		if len(data) >= 18 && elf.Type(le.Uint16(data[16:])) == elf.ET_DYN {
			return ParseShlib(path, data)
		}
		return ParseObject(path, data)
	case looksLikeText(data):
		return ParseScript(path, data)
	}
	return nil, &Error{File: path, Cause: "file not recognized: file format not recognized"}
}

// looksLikeText says whether data could be a linker script.
func looksLikeText(data []byte) bool {
	return len(data) > 0 && bytes.IndexByte(data, 0) < 0
}
