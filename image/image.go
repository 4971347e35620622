// Package image is where relocation results are written: a file image
// for the commands that never execute, whose objects live at addresses
// chosen for them and whose written words are kept aside, and (in the
// run-time linker) the memory of the process itself.
//
// Both satisfy Image, so one relocation implementation serves both.
package image

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// Image is memory that relocations read and write by run-time address.
type Image interface {
	// ReadAt fills p from addr.
	ReadAt(p []byte, addr uint64) error
	// WriteAt stores p at addr.
	WriteAt(p []byte, addr uint64) error
	// CallIFunc runs the IFUNC resolver at addr and returns its result.
	CallIFunc(addr uint64) (uint64, error)
}

// ErrNoExec is returned by images that cannot run code.
var ErrNoExec = errors.New("IFUNC resolvers are not run when analysing files")

// Read64 reads the little-endian word at addr.
func Read64(img Image, addr uint64) (uint64, error) {
	var b [8]byte
	if err := img.ReadAt(b[:], addr); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// WordWriter is implemented by images that store a word without a
// buffer; relocations write millions of words.
type WordWriter interface {
	Write64(addr, v uint64) error
}

// Write64 stores v at addr.
func Write64(img Image, addr, v uint64) error {
	if w, ok := img.(WordWriter); ok {
		return w.Write64(addr, v)
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	return img.WriteAt(b[:], addr)
}

// WordAdder is implemented by images that add to a word in place. In
// process memory, a read and then a write of a private file page fault
// twice and copy the page with a TLB flush between; an add faults once,
// for writing.
type WordAdder interface {
	Add64(addr, v uint64) error
}

// Add64 adds v to the word at addr.
func Add64(img Image, addr, v uint64) error {
	if a, ok := img.(WordAdder); ok {
		return a.Add64(addr, v)
	}
	w, err := Read64(img, addr)
	if err != nil {
		return err
	}
	return Write64(img, addr, w+v)
}

// Write32 stores v at addr.
func Write32(img Image, addr uint64, v uint32) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	return img.WriteAt(b[:], addr)
}

// Copier is implemented by images that copy without moving every byte.
type Copier interface {
	Copy(dst, src, n uint64) error
}

// Copy moves n bytes from src to dst within img.
func Copy(img Image, dst, src, n uint64) error {
	if c, ok := img.(Copier); ok {
		return c.Copy(dst, src, n)
	}
	return copyBytes(img, dst, src, n)
}

// copyBytes moves n bytes from src to dst, a chunk at a time.
func copyBytes(img Image, dst, src, n uint64) error {
	const chunk = 64 << 10
	buf := make([]byte, min(n, chunk))
	for n > 0 {
		k := min(n, chunk)
		if err := img.ReadAt(buf[:k], src); err != nil {
			return err
		}
		if err := img.WriteAt(buf[:k], dst); err != nil {
			return err
		}
		src, dst, n = src+k, dst+k, n-k
	}
	return nil
}

// Segment is a span of an object's image: run-time addresses
// [Addr, Addr+Size), whose first len(Data) bytes come from Data and the
// rest are zero (bss).
type Segment struct {
	Addr     uint64
	Size     uint64
	Data     []byte
	Writable bool

	// written holds the pages relocations wrote to, indexed from the
	// page holding Addr; each is a copy of the segment's bytes there.
	// Two segments may share a page: each keeps its own part. Pages
	// that hold file bytes are in a slice, as many as there are; the
	// pages of bss (which a file may make as large as the address
	// space, and relocations seldom write) in a map. So the image
	// costs memory in proportion to the files and the pages written.
	written    []*[pageSize]byte
	writtenBss map[uint64]*[pageSize]byte
}

// File is the image of objects that are read, not run: words written by
// relocations are kept in pages of their own, over the files' bytes.
type File struct {
	segs []Segment
	// last is the segment of the previous access: relocations come in
	// address order, mostly within one segment.
	last int
}

const pageSize = 4096

// NewFile returns an empty file image.
func NewFile() *File { return &File{} }

// Add places a segment in the image.
func (f *File) Add(s Segment) {
	s.written, s.writtenBss = nil, nil
	f.segs = append(f.segs, s)
}

func (f *File) segment(addr, n uint64) (*Segment, error) {
	if f.last < len(f.segs) && f.segs[f.last].contains(addr, n) {
		return &f.segs[f.last], nil
	}
	for i := range f.segs {
		if f.segs[i].contains(addr, n) {
			f.last = i
			return &f.segs[i], nil
		}
	}
	return nil, &AccessError{Addr: addr, Size: n, Cause: "address outside every loaded segment"}
}

// AccessError is an access to memory that an image refuses.
type AccessError struct {
	Op         string // what accessed it: "read", "relocation", ...; "" for any
	Addr, Size uint64 // run-time addresses
	Cause      string
}

func (e *AccessError) Error() string {
	op := e.Op
	if op == "" {
		op = "access"
	}
	return fmt.Sprintf("%s of %d bytes at %#x: %s", op, e.Size, e.Addr, e.Cause)
}

func (s *Segment) contains(addr, n uint64) bool {
	return addr >= s.Addr && addr-s.Addr <= s.Size && n <= s.Size-(addr-s.Addr)
}

// pageIndex is the index in written of the page holding addr.
func (s *Segment) pageIndex(addr uint64) uint64 {
	return addr/pageSize - s.Addr/pageSize
}

// ReadAt implements Image.
func (f *File) ReadAt(p []byte, addr uint64) error {
	s, err := f.segment(addr, uint64(len(p)))
	if err != nil {
		return err
	}
	for len(p) > 0 {
		off := addr % pageSize
		k := min(uint64(len(p)), pageSize-off)
		if pg := s.writtenPage(s.pageIndex(addr)); pg != nil {
			copy(p[:k], pg[off:off+k])
		} else {
			s.fill(p[:k], addr)
		}
		p, addr = p[k:], addr+k
	}
	return nil
}

// dataPages is the number of pages, from the one holding Addr, that hold
// file bytes.
func (s *Segment) dataPages() uint64 {
	if len(s.Data) == 0 {
		return 0
	}
	return s.pageIndex(s.Addr+uint64(len(s.Data))-1) + 1
}

// writtenPage returns the written copy of page i, or nil.
func (s *Segment) writtenPage(i uint64) *[pageSize]byte {
	if i < uint64(len(s.written)) {
		return s.written[i]
	}
	return s.writtenBss[i]
}

// fill copies the file's bytes for [addr, addr+len(p)) into p.
func (s *Segment) fill(p []byte, addr uint64) {
	rel := addr - s.Addr
	n := 0
	if rel < uint64(len(s.Data)) {
		n = copy(p, s.Data[rel:])
	}
	clear(p[n:])
}

// WriteAt implements Image.
func (f *File) WriteAt(p []byte, addr uint64) error {
	s, err := f.segment(addr, uint64(len(p)))
	if err != nil {
		return err
	}
	for len(p) > 0 {
		off := addr % pageSize
		k := min(uint64(len(p)), pageSize-off)
		copy(s.page(addr)[off:off+k], p[:k])
		p, addr = p[k:], addr+k
	}
	return nil
}

// Write64 implements WordWriter.
func (f *File) Write64(addr, v uint64) error {
	s, err := f.segment(addr, 8)
	if err != nil {
		return err
	}
	if off := addr % pageSize; off <= pageSize-8 {
		binary.LittleEndian.PutUint64(s.page(addr)[off:], v)
		return nil
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	return f.WriteAt(b[:], addr)
}

// page returns the written copy of the page holding addr, made from the
// segment's bytes on first use.
func (s *Segment) page(addr uint64) *[pageSize]byte {
	i := s.pageIndex(addr)
	if s.written == nil {
		s.written = make([]*[pageSize]byte, s.dataPages())
	}
	pg := s.writtenPage(i)
	if pg == nil {
		pg = new([pageSize]byte)
		start := addr &^ (pageSize - 1)
		// The page may straddle the segment's ends; only its part
		// inside the segment comes from the segment.
		lo := max(start, s.Addr)
		hi := min(start+pageSize, s.Addr+s.Size)
		s.fill(pg[lo-start:hi-start], lo)
		if i < uint64(len(s.written)) {
			s.written[i] = pg
		} else {
			if s.writtenBss == nil {
				s.writtenBss = map[uint64]*[pageSize]byte{}
			}
			s.writtenBss[i] = pg
		}
	}
	return pg
}

// Copy implements Copier. Past its file bytes, a segment reads as zero
// wherever nothing was written, and zero copied over zero changes
// nothing: what is copied is the stretch where either range has file
// bytes, and the written pages of either past it. So a copy costs what
// the files and the pages written hold, however large its size (a COPY
// relocation's size is the file's word).
func (f *File) Copy(dst, src, n uint64) error {
	ss, err := f.segment(src, n)
	if err != nil {
		return err
	}
	ds, err := f.segment(dst, n)
	if err != nil {
		return err
	}
	// [0, head) of the ranges is on pages with file bytes of one of them.
	head := min(n, max(ss.dataEnd()-min(src, ss.dataEnd()), ds.dataEnd()-min(dst, ds.dataEnd())))
	if err := copyBytes(f, dst, src, head); err != nil {
		return err
	}
	// Then the written pages of either, as offsets in the ranges.
	var pieces []Segment
	for _, side := range []struct {
		s     *Segment
		start uint64
	}{{ss, src}, {ds, dst}} {
		base := side.s.Addr &^ (pageSize - 1)
		for i, pg := range side.s.writtenBss {
			if pg == nil {
				continue
			}
			lo, hi := max(base+i*pageSize, side.start+head), min(base+(i+1)*pageSize, side.start+n)
			if lo < hi {
				pieces = append(pieces, Segment{Addr: lo - side.start, Size: hi - lo})
			}
		}
	}
	for _, p := range pieces {
		if err := copyBytes(f, dst+p.Addr, src+p.Addr, p.Size); err != nil {
			return err
		}
	}
	return nil
}

// dataEnd is the end of the pages that hold the segment's file bytes.
func (s *Segment) dataEnd() uint64 {
	if len(s.Data) == 0 {
		return s.Addr
	}
	return (s.Addr + uint64(len(s.Data)) + pageSize - 1) &^ (pageSize - 1)
}

// CallIFunc implements Image: a file image cannot run code.
func (f *File) CallIFunc(addr uint64) (uint64, error) { return 0, ErrNoExec }

// Changes calls fn for each 8-byte-aligned word relocations changed, in
// address order within each segment, segments in the order they were
// added: its address, and its bytes before and now (fewer than 8 where a
// segment starts or ends inside the word). A word written with the bytes
// it held is no change. A launch plan is made of these.
func (f *File) Changes(fn func(addr uint64, old, now []byte)) {
	var before [8]byte
	for i := range f.segs {
		s := &f.segs[i]
		pages := make([]uint64, 0, len(s.written)+len(s.writtenBss))
		for j, pg := range s.written {
			if pg != nil {
				pages = append(pages, uint64(j))
			}
		}
		for j := range s.writtenBss {
			pages = append(pages, j)
		}
		slices.Sort(pages)
		first := s.Addr &^ (pageSize - 1)
		for _, j := range pages {
			pg := s.writtenPage(j)
			start := first + j*pageSize
			lo, hi := max(start, s.Addr), min(start+pageSize, s.Addr+s.Size)
			for w := lo &^ 7; w < hi; w += 8 {
				a, b := max(w, lo), min(w+8, hi)
				now := pg[a-start : b-start]
				old := before[:b-a]
				s.fill(old, a)
				if !bytes.Equal(old, now) {
					fn(a, old, now)
				}
			}
		}
	}
}
