package input

import (
	"encoding/binary"
	"path/filepath"
	"strconv"
	"strings"
)

const (
	archiveMagic   = "!<arch>\n"
	thinMagic      = "!<thin>\n"
	memberHdrSize  = 60
	memberHdrMagic = "`\n"
)

// Archive is an ar archive of relocatable objects, GNU or thin, with its
// symbol index.
type Archive struct {
	Path string
	Data []byte
	// Thin says members are files named relative to the archive's
	// directory rather than contents of the archive.
	Thin bool
	// Index is the archive's symbol index: each defined name and the
	// offset of the member header that defines it, in index order.
	Index    []ArchiveSymbol
	HasIndex bool
	// Empty says the archive has no members (glibc's libdl.a): it needs
	// no index.
	Empty     bool
	longNames []byte
}

// ArchiveSymbol is one entry of an archive's symbol index.
type ArchiveSymbol struct {
	Name   string
	Member uint64 // offset of the member's header
}

// Member is one archive member.
type Member struct {
	Name   string // as ar stored it
	Offset uint64 // of its header
	Data   []byte
}

// ObjectName is how GNU ld names a member in messages: "lib.a(obj.o)".
func (a *Archive) ObjectName(m Member) string { return a.Path + "(" + m.Name + ")" }

func (a *Archive) errorf(format string, args ...any) error {
	return &Error{File: a.Path, Cause: sprintf(format, args...)}
}

// IsArchive reports whether data starts like an ar archive.
func IsArchive(data []byte) bool {
	return len(data) >= 8 && (string(data[:8]) == archiveMagic || string(data[:8]) == thinMagic)
}

// ParseArchive reads an archive's index and name table. Members are read
// when they are needed (Member).
func ParseArchive(path string, data []byte) (*Archive, error) {
	a := &Archive{Path: path, Data: data, Thin: string(data[:8]) == thinMagic}
	for off := uint64(8); off < uint64(len(data)); {
		name, size, dataOff, err := a.header(off)
		if err != nil {
			return nil, err
		}
		// The index and name table are inside even a thin archive.
		body := data[dataOff : dataOff+size]
		switch name {
		case "/", "/SYM64/":
			if a.HasIndex {
				return nil, a.errorf("more than one archive symbol index")
			}
			if err := a.readIndex(body, name == "/SYM64/"); err != nil {
				return nil, err
			}
		case "//":
			a.longNames = body
		default:
			// The index and the name table come first.
			return a, nil
		}
		off = dataOff + size
		off += off & 1
	}
	a.Empty = true
	return a, nil
}

// header reads the member header at off: the raw name field, the member
// size, and where its data starts.
func (a *Archive) header(off uint64) (name string, size, dataOff uint64, err error) {
	d := a.Data
	if off > uint64(len(d)) || uint64(len(d))-off < memberHdrSize {
		return "", 0, 0, a.errorf("malformed archive: member header at %#x truncated", off)
	}
	h := d[off : off+memberHdrSize]
	if string(h[58:60]) != memberHdrMagic {
		return "", 0, 0, a.errorf("malformed archive: bad member header at %#x", off)
	}
	size, perr := strconv.ParseUint(strings.TrimSpace(string(h[48:58])), 10, 64)
	if perr != nil {
		return "", 0, 0, a.errorf("malformed archive: bad member size at %#x", off)
	}
	name = strings.TrimRight(string(h[:16]), " ")
	dataOff = off + memberHdrSize
	inside := size
	if a.Thin && name != "/" && name != "//" && name != "/SYM64/" {
		inside = 0
	}
	if inside > uint64(len(d))-dataOff {
		return "", 0, 0, a.errorf("malformed archive: member at %#x extends past the end of the file", off)
	}
	if inside != size {
		return name, 0, dataOff, nil
	}
	return name, size, dataOff, nil
}

func (a *Archive) readIndex(b []byte, wide bool) error {
	a.HasIndex = true
	w := uint64(4)
	if wide {
		w = 8
	}
	word := func(i uint64) uint64 {
		if wide {
			return binary.BigEndian.Uint64(b[i:])
		}
		return uint64(binary.BigEndian.Uint32(b[i:]))
	}
	if uint64(len(b)) < w {
		return a.errorf("malformed archive: symbol index truncated")
	}
	n := word(0)
	if n > (uint64(len(b))-w)/w {
		return a.errorf("malformed archive: symbol index of %d entries does not fit", n)
	}
	names := b[w+n*w:]
	a.Index = make([]ArchiveSymbol, n)
	for i := uint64(0); i < n; i++ {
		if len(names) == 0 {
			return a.errorf("malformed archive: symbol index names truncated")
		}
		name := cstr(names)
		if len(name) >= len(names) {
			return a.errorf("malformed archive: symbol index names truncated")
		}
		names = names[len(name)+1:]
		a.Index[i] = ArchiveSymbol{Name: name, Member: word(w + i*w)}
	}
	return nil
}

// Member reads the member whose header is at off.
func (a *Archive) Member(off uint64) (Member, error) {
	raw, size, dataOff, err := a.header(off)
	if err != nil {
		return Member{}, err
	}
	name, err := a.memberName(raw)
	if err != nil {
		return Member{}, err
	}
	m := Member{Name: name, Offset: off}
	if !a.Thin {
		m.Data = a.Data[dataOff : dataOff+size : dataOff+size]
		return m, nil
	}
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(a.Path), name)
	}
	data, err := mapFile(path)
	if err != nil {
		return Member{}, &Error{File: a.Path, Cause: sprintf("cannot read thin archive member %s: %s", path, errText(err))}
	}
	m.Data = data
	return m, nil
}

// memberName decodes a member's name field: "name/" in GNU archives,
// "/N" for the Nth byte of the long-name table.
func (a *Archive) memberName(raw string) (string, error) {
	if strings.HasPrefix(raw, "/") && len(raw) > 1 && raw[1] >= '0' && raw[1] <= '9' {
		off, err := strconv.ParseUint(raw[1:], 10, 64)
		if err != nil || off >= uint64(len(a.longNames)) {
			return "", a.errorf("malformed archive: bad long member name %q", raw)
		}
		s := a.longNames[off:]
		end := strings.Index(string(s), "/\n")
		if end < 0 {
			end = strings.IndexByte(string(s), '\n')
			if end < 0 {
				return "", a.errorf("malformed archive: unterminated long member name")
			}
		}
		return string(s[:end]), nil
	}
	return strings.TrimSuffix(raw, "/"), nil
}

// Members returns every member that is an object, in order (for
// --whole-archive).
func (a *Archive) Members() ([]Member, error) {
	var ms []Member
	for off := uint64(8); off < uint64(len(a.Data)); {
		raw, size, dataOff, err := a.header(off)
		if err != nil {
			return nil, err
		}
		if raw != "/" && raw != "//" && raw != "/SYM64/" {
			m, err := a.Member(off)
			if err != nil {
				return nil, err
			}
			ms = append(ms, m)
		}
		off = dataOff + size
		off += off & 1
	}
	return ms, nil
}
