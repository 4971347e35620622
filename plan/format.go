package plan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/ldgo/ldgo/object"
)

// The file is the magic, the plan's fields as unsigned varints and
// length-prefixed strings, and the CRC-32 (IEEE) of all that before it.
// The version is in the magic: a plan of another version is another
// format, never read as this one.
const magic = "ldgo launch plan 2\n"

// Bounds on what Decode takes: a count or length is the file's word, and
// is checked against the bytes that are left before anything is sized by
// it.
const (
	// MaxFile bounds a plan file (gdb's is under 2 MiB).
	MaxFile   = 256 << 20
	maxString = 64 << 10
)

// ErrFormat is the cause of every error Decode returns.
var ErrFormat = errors.New("not a launch plan of this version")

// Encode returns the plan's file bytes.
func Encode(p *Plan) []byte {
	e := encoder{b: append(make([]byte, 0, 64+16*len(p.Writes)+32*len(p.Lazy)), magic...)}
	e.str(p.Program)
	e.uint(uint64(len(p.Search)))
	for _, s := range p.Search {
		e.str(s)
	}
	e.str(p.Progname)
	e.uint(uint64(len(p.Objects)))
	for i := range p.Objects {
		o := &p.Objects[i]
		e.str(o.Path)
		st := &o.ID.FileStatus
		e.uint(st.ID.Dev, st.ID.Ino, uint64(st.Size), uint64(st.Mtime), uint64(st.Ctime))
		e.str(o.ID.Content)
		var flags uint64
		for bit, set := range []bool{o.Lazy, o.TextRel, o.TLS.Static} {
			if set {
				flags |= 1 << bit
			}
		}
		e.uint(uint64(o.Kind), flags, uint64(len(o.Segments)))
		for _, s := range o.Segments {
			e.uint(s.Off, s.Vaddr, s.Filesz, s.Memsz, uint64(s.Prot))
		}
		e.uint(o.Relro.Addr, o.Relro.Size, o.TLS.ModID, o.TLS.Offset)
	}
	e.uint(uint64(len(p.Writes)))
	for _, w := range p.Writes {
		e.uint(uint64(w.Object), w.Off)
		e.target(w.Value)
	}
	e.uint(uint64(len(p.Lazy)))
	for _, l := range p.Lazy {
		e.uint(uint64(l.Object), uint64(l.Slot), l.Off)
		e.target(l.Target)
		e.str(l.Err)
	}
	for _, fns := range [][]Fn{p.Init, p.Fini} {
		e.uint(uint64(len(fns)))
		for _, f := range fns {
			e.uint(uint64(f.Object), f.Off, f.Count)
		}
	}
	e.uint(p.Entry, p.Phdr, p.Phnum, uint64(len(p.Names)))
	for _, n := range p.Names {
		e.uint(uint64(n.Object), n.Off, uint64(n.Kind))
	}
	e.uint(uint64(len(p.Warnings)))
	for _, w := range p.Warnings {
		e.str(w.Msg)
		verbose := uint64(0)
		if w.Verbose {
			verbose = 1
		}
		e.uint(verbose)
	}
	return binary.LittleEndian.AppendUint32(e.b, crc32.ChecksumIEEE(e.b))
}

type encoder struct{ b []byte }

func (e *encoder) uint(vs ...uint64) {
	for _, v := range vs {
		e.b = binary.AppendUvarint(e.b, v)
	}
}

func (e *encoder) str(s string) {
	e.uint(uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) target(t Target) { e.uint(uint64(t.Kind), uint64(t.Object), t.Off) }

// Decode reads a plan from its file bytes and validates it. Whatever the
// bytes, it returns an error wrapping ErrFormat rather than a plan that
// is not one, and never panics.
func Decode(b []byte) (*Plan, error) {
	if len(b) > MaxFile {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrFormat, len(b), MaxFile)
	}
	if len(b) < len(magic)+4 || string(b[:len(magic)]) != magic {
		return nil, fmt.Errorf("%w: no magic", ErrFormat)
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch (truncated or damaged)", ErrFormat)
	}
	d := decoder{b: body[len(magic):]}
	p := &Plan{Program: d.str()}
	p.Search = list[string](d.count(1))
	for i := range p.Search {
		p.Search[i] = d.str()
	}
	p.Progname = d.str()
	// An object takes at least 14 bytes, a write 5, a lazy slot 7, a
	// function 3: counts are bounded by what is left.
	p.Objects = list[Object](d.count(14))
	for i := range p.Objects {
		o := &p.Objects[i]
		o.Path = d.str()
		st := &o.ID.FileStatus
		st.ID = object.FileID{Dev: d.uint(), Ino: d.uint()}
		st.Size, st.Mtime, st.Ctime = int64(d.uint()), int64(d.uint()), int64(d.uint())
		o.ID.Content = d.str()
		o.Kind = Kind(d.small(uint64(numKinds)))
		flags := d.small(8)
		o.Lazy, o.TextRel, o.TLS.Static = flags&1 != 0, flags&2 != 0, flags&4 != 0
		o.Segments = list[Segment](d.count(5))
		for j := range o.Segments {
			s := &o.Segments[j]
			s.Off, s.Vaddr, s.Filesz, s.Memsz = d.uint(), d.uint(), d.uint(), d.uint()
			s.Prot = uint8(d.small(8))
		}
		o.Relro = Range{d.uint(), d.uint()}
		o.TLS.ModID, o.TLS.Offset = d.uint(), d.uint()
	}
	p.Writes = list[Write](d.count(5))
	for i := range p.Writes {
		w := &p.Writes[i]
		w.Object, w.Off = d.uint32(), d.uint()
		w.Value = d.target()
	}
	p.Lazy = list[Lazy](d.count(7))
	for i := range p.Lazy {
		l := &p.Lazy[i]
		l.Object, l.Slot, l.Off = d.uint32(), d.uint32(), d.uint()
		l.Target = d.target()
		l.Err = d.str()
	}
	for _, fns := range []*[]Fn{&p.Init, &p.Fini} {
		*fns = list[Fn](d.count(3))
		for i := range *fns {
			(*fns)[i] = Fn{Object: d.uint32(), Off: d.uint(), Count: d.uint()}
		}
	}
	p.Entry, p.Phdr, p.Phnum = d.uint(), d.uint(), d.uint()
	p.Names = list[NameSlot](d.count(3))
	for i := range p.Names {
		p.Names[i] = NameSlot{Object: d.uint32(), Off: d.uint(), Kind: NameKind(d.small(uint64(numNameKinds)))}
	}
	// A warning takes at least 2 bytes: an empty string and its flag.
	p.Warnings = list[Warning](d.count(2))
	for i := range p.Warnings {
		p.Warnings[i] = Warning{Msg: d.str(), Verbose: d.small(2) == 1}
	}
	if d.err == nil && d.i != len(d.b) {
		d.fail("%d bytes after the plan", len(d.b)-d.i)
	}
	if d.err != nil {
		return nil, d.err
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	return p, nil
}

// decoder reads fields from b[i:] until the first error, then only
// zeros. (An index rather than a slice advanced: a write of a slice
// pointer costs the collector's write barrier, a field at a time.)
type decoder struct {
	b   []byte
	i   int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
	}
	d.i = len(d.b)
}

// left is the number of bytes not read.
func (d *decoder) left() int { return len(d.b) - d.i }

func (d *decoder) uint() uint64 {
	// binary.Uvarint, inlined: a large program's plan has a million
	// numbers. After an error, i is at the end, and every read fails.
	b, i := d.b, d.i
	var v uint64
	for shift := uint(0); i < len(b); shift += 7 {
		c := b[i]
		i++
		if shift == 63 && c > 1 {
			break
		}
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			d.i = i
			return v
		}
	}
	d.fail("truncated or overlong number")
	return 0
}

// small reads a number below limit.
func (d *decoder) small(limit uint64) uint64 {
	v := d.uint()
	if v >= limit {
		d.fail("value %d out of range", v)
		return 0
	}
	return v
}

func (d *decoder) uint32() uint32 { return uint32(d.small(1 << 32)) }

// count reads the length of a list whose entries take at least min bytes
// each.
func (d *decoder) count(min uint64) int {
	n := d.uint()
	if n > uint64(d.left())/min {
		d.fail("a list of %d entries in %d bytes", n, d.left())
		return 0
	}
	return int(n)
}

func (d *decoder) str() string {
	n := d.uint()
	if n > maxString || n > uint64(d.left()) {
		d.fail("a string of %d bytes", n)
		return ""
	}
	s := string(d.b[d.i : d.i+int(n)])
	d.i += int(n)
	return s
}

func (d *decoder) target() Target {
	return Target{Kind: TargetKind(d.small(uint64(NumTargetKinds))), Object: d.uint32(), Off: d.uint()}
}

// list makes a list of n entries, nil for none, as the plan had it.
func list[T any](n int) []T {
	if n == 0 {
		return nil
	}
	return make([]T, n)
}
