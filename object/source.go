package object

import (
	"debug/elf"
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Source hands out an object's bytes by link-time virtual address.
type Source interface {
	// Bytes returns the n bytes at link-time address addr, or an error if
	// the range is not wholly inside one loaded segment's contents.
	Bytes(addr, n uint64) ([]byte, error)
}

// Header is the part of the ELF header the loader checks.
type Header struct {
	Type      elf.Type
	Machine   elf.Machine
	Entry     uint64
	Phoff     uint64
	Phentsize uint16
	Phnum     uint16
}

// gnuABIMax is glibc's LIBC_ABI_MAX on x86-64.
const gnuABIMax = 4

// FileID identifies a file as glibc does to load each file once.
type FileID struct {
	Dev, Ino uint64
}

// File is an object file: mapped read-only into memory (Open), or, for
// a loader that maps its segments, open with its headers read
// (OpenHeaders).
type File struct {
	*Object
	// FileStatus is the file's status when it was opened: that of the
	// bytes read.
	FileStatus
	data []byte
	hdr  Header
	fd   int // OpenHeaders' descriptor until taken or closed; else -1
	// dynamic is the dynamic section, at link-time address dynamicAddr,
	// as OpenHeaders read it from the file.
	dynamic     []byte
	dynamicAddr uint64
}

// fileSource reads through a file's PT_LOAD segments.
type fileSource struct {
	name  string
	data  []byte
	loads []Prog
}

func (s *fileSource) Bytes(addr, n uint64) ([]byte, error) {
	for i := range s.loads {
		p := &s.loads[i]
		if addr < p.Vaddr || addr-p.Vaddr > p.Filesz || n > p.Filesz-(addr-p.Vaddr) {
			continue
		}
		off := p.Off + (addr - p.Vaddr)
		return s.data[off : off+n : off+n], nil
	}
	return nil, &Error{Name: s.name, Cause: "address range outside the file's loaded data"}
}

// ReadHeader checks an ELF header in the order and words of glibc's
// open_verify. A 32-bit object yields ErrOtherClass and another machine
// ErrOtherMachine, both wrapped in *Error: a search skips those files.
func ReadHeader(name string, b []byte) (Header, error) {
	var h Header
	fail := func(cause string) (Header, error) {
		return h, &Error{Name: name, Cause: cause}
	}
	if len(b) < ehdrSize {
		return fail("file too short")
	}
	id := b[:elf.EI_NIDENT]
	switch {
	case string(id[:4]) != elf.ELFMAG:
		return fail("invalid ELF header")
	case elf.Class(id[elf.EI_CLASS]) != elf.ELFCLASS64:
		return h, &Error{Name: name, Cause: ErrOtherClass.Error(), Err: ErrOtherClass}
	case elf.Data(id[elf.EI_DATA]) != elf.ELFDATA2LSB:
		return fail("ELF file data encoding not little-endian")
	case elf.Version(id[elf.EI_VERSION]) != elf.EV_CURRENT:
		return fail("ELF file version ident does not match current one")
	case elf.OSABI(id[elf.EI_OSABI]) != elf.ELFOSABI_NONE && elf.OSABI(id[elf.EI_OSABI]) != elf.ELFOSABI_LINUX:
		return fail("ELF file OS ABI invalid")
	case id[elf.EI_ABIVERSION] != 0 && (elf.OSABI(id[elf.EI_OSABI]) != elf.ELFOSABI_LINUX || id[elf.EI_ABIVERSION] >= gnuABIMax):
		// glibc accepts GNU objects up to its ABI level: unique
		// symbols, IFUNC, absolute symbols.
		return fail("ELF file ABI version invalid")
	}
	for _, c := range id[elf.EI_PAD:] {
		if c != 0 {
			return fail("nonzero padding in e_ident")
		}
	}
	if elf.Version(le.Uint32(b[20:])) != elf.EV_CURRENT {
		return fail("ELF file version does not match current one")
	}
	h.Type = elf.Type(le.Uint16(b[16:]))
	h.Machine = elf.Machine(le.Uint16(b[18:]))
	h.Entry = le.Uint64(b[24:])
	h.Phoff = le.Uint64(b[32:])
	h.Phentsize = le.Uint16(b[54:])
	h.Phnum = le.Uint16(b[56:])
	if h.Machine != elf.EM_X86_64 {
		return h, &Error{Name: name, Cause: "wrong machine " + h.Machine.String(), Err: ErrOtherMachine}
	}
	if h.Type != elf.ET_DYN && h.Type != elf.ET_EXEC {
		return fail("only ET_DYN and ET_EXEC can be loaded")
	}
	if h.Phentsize != phdrSize {
		return fail("ELF file's phentsize not the expected size")
	}
	return h, nil
}

// ReadProgs decodes the program headers from b, which holds them.
func ReadProgs(b []byte, n int) []Prog {
	progs := make([]Prog, n)
	for i := range progs {
		r := b[i*phdrSize:]
		progs[i] = Prog{
			Type:   elf.ProgType(le.Uint32(r[0:])),
			Flags:  elf.ProgFlag(le.Uint32(r[4:])),
			Off:    le.Uint64(r[8:]),
			Vaddr:  le.Uint64(r[16:]),
			Filesz: le.Uint64(r[32:]),
			Memsz:  le.Uint64(r[40:]),
			Align:  le.Uint64(r[48:]),
		}
	}
	return progs
}

// Open maps the file at path and reads it as an object.
func Open(path string) (*File, error) {
	fd, err := openRead(path)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	return OpenFile(path, fd)
}

// openRead opens path for reading. A plain descriptor: os.Open would also
// register it with Go's poller, three system calls more for each file
// tried. It does not wait: opening a FIFO for reading would wait for a
// writer (glibc's ld.so waits for ever), and a device may wait for
// whatever it waits for; checkFile then refuses what is not a regular
// file. O_NONBLOCK changes nothing for a regular file.
func openRead(path string) (int, error) {
	const flags = unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK
	fd, err := unix.Open(path, flags, 0)
	for err == unix.EINTR {
		fd, err = unix.Open(path, flags, 0)
	}
	if err != nil {
		return -1, &Error{Name: path, Cause: CauseOpen, Err: err}
	}
	return fd, nil
}

// OpenFile maps an open file and reads it as an object named name.
// The descriptor is not kept.
func OpenFile(name string, fd int) (*File, error) {
	st, err := checkFile(name, fd)
	if err != nil {
		return nil, err
	}
	// Mapped without x/sys's bookkeeping of mappings: Close keeps the
	// range (see there).
	addr, err := unix.MmapPtr(fd, 0, nil, uintptr(st.Size), unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		return nil, &Error{Name: name, Cause: "cannot map file data", Err: err}
	}
	data := unsafe.Slice((*byte)(addr), st.Size)
	file, err := parseFile(name, data)
	if err != nil {
		release(data)
		return nil, err
	}
	file.FileStatus = StatusOf(st)
	return file, nil
}

// OpenHeaders opens path for a loader that maps its segments, as glibc's
// open_verify does: it checks the ELF header and the program headers,
// read with pread, and maps nothing. The rest of the object is read
// through the segments once they are mapped (ParseMapped): those are
// pages the program's image holds anyway, where a mapping of the whole
// file would bring in more of it (the kernel maps up to 64 KiB around
// each first read), to be given back later. The descriptor stays open
// for the loader (TakeDescriptor) until Close.
func OpenHeaders(path string) (*File, error) {
	fd, err := openRead(path)
	if err != nil {
		return nil, err
	}
	f, err := readHeaders(path, fd)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return f, nil
}

// headerRead is how much of a file OpenHeaders reads first: glibc's
// 832 bytes, the ELF header and the program headers of most objects.
const headerRead = 832

func readHeaders(name string, fd int) (*File, error) {
	st, err := checkFile(name, fd)
	if err != nil {
		return nil, err
	}
	b := make([]byte, headerRead)
	n, err := pread(fd, b, 0)
	if err != nil {
		return nil, &Error{Name: name, Cause: "cannot read file data", Err: err}
	}
	hdr, err := ReadHeader(name, b[:n])
	if err != nil {
		return nil, err
	}
	size := uint64(hdr.Phnum) * phdrSize
	if hdr.Phoff > uint64(st.Size) || size > uint64(st.Size)-hdr.Phoff {
		return nil, &Error{Name: name, Cause: "cannot read file data", Err: errors.New("program headers outside the file")}
	}
	ph := b[min(hdr.Phoff, uint64(n)):]
	if hdr.Phoff+size > uint64(n) {
		ph = make([]byte, size)
		if m, err := pread(fd, ph, int64(hdr.Phoff)); err != nil || uint64(m) != size {
			return nil, &Error{Name: name, Cause: "cannot read file data", Err: err}
		}
	}
	progs := ReadProgs(ph, int(hdr.Phnum))
	for _, p := range progs {
		if p.Type == elf.PT_LOAD && (p.Off > uint64(st.Size) || p.Filesz > uint64(st.Size)-p.Off) {
			return nil, &Error{Name: name, Cause: "file too short", Err: errors.New("segment extends past the end of the file")}
		}
	}
	o := &Object{Name: name, Type: hdr.Type, Entry: hdr.Entry, Progs: progs}
	if err := o.readProgs(hdr); err != nil {
		return nil, err
	}
	f := &File{Object: o, FileStatus: StatusOf(st), hdr: hdr, fd: fd}
	// The dynamic section lies in the writable segment. Read through
	// the mapping, it would bring that segment's pages in read-only
	// (and the 64 KiB around), and each relocation written there then
	// would copy the page and flush it from every CPU's TLB; read
	// here, the first write maps a fresh copy.
	for _, p := range progs {
		if p.Type == elf.PT_DYNAMIC && p.Memsz <= maxDynamic && p.Filesz <= p.Memsz && p.Off <= uint64(st.Size) && p.Filesz <= uint64(st.Size)-p.Off {
			b := make([]byte, p.Memsz)
			if m, err := pread(fd, b[:p.Filesz], int64(p.Off)); err == nil && uint64(m) == p.Filesz {
				f.dynamic, f.dynamicAddr = b, p.Vaddr
			}
		}
	}
	return f, nil
}

// maxDynamic bounds the dynamic section OpenHeaders reads: a few
// hundred bytes in practice.
const maxDynamic = 64 << 10

// pread reads at off, again when interrupted.
func pread(fd int, b []byte, off int64) (int, error) {
	for {
		n, err := unix.Pread(fd, b, off)
		if err != unix.EINTR {
			return n, err
		}
	}
}

// TakeDescriptor returns the descriptor OpenHeaders left open, or -1;
// the caller closes it.
func (f *File) TakeDescriptor() int {
	fd := f.fd
	f.fd = -1
	return fd
}

// ParseMapped reads the object of a file that OpenHeaders opened
// through its segments, mapped in this process at base (l_addr). The
// object must not be used once they are unmapped.
func (f *File) ParseMapped(base uint64) (*Object, error) {
	src := &memorySource{name: f.Name, base: uintptr(base), loads: memoryLoads(f.Progs), copied: f.dynamic, copiedAddr: f.dynamicAddr}
	return Parse(f.Name, f.hdr, f.Progs, src, 0, false)
}

// checkFile is what a loader checks of an open file before reading it.
func checkFile(name string, fd int) (*unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &Error{Name: name, Cause: "cannot stat shared object", Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		// glibc reads the header and fails on what it gets.
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return nil, &Error{Name: name, Cause: "cannot read file data", Err: unix.EISDIR}
		}
		return nil, &Error{Name: name, Cause: "not a regular file"}
	}
	if st.Size < ehdrSize {
		return nil, &Error{Name: name, Cause: "file too short"}
	}
	return &st, nil
}

// ProgramInfo is what a loader learns of a program from its headers
// alone: whether it is dynamically linked and the interpreter it names.
type ProgramInfo struct {
	Header  Header
	Dynamic bool   // it has a PT_DYNAMIC segment
	Interp  string // PT_INTERP, or ""
}

// ReadProgramInfo reads path's ELF header and program headers only,
// without the rest of the file (which may be large).
func ReadProgramInfo(path string) (ProgramInfo, error) {
	var info ProgramInfo
	fd, err := openRead(path)
	if err != nil {
		return info, err
	}
	defer unix.Close(fd)
	if _, err := checkFile(path, fd); err != nil {
		return info, err
	}
	b := make([]byte, ehdrSize)
	n, err := unix.Pread(fd, b, 0)
	if err != nil {
		return info, &Error{Name: path, Cause: "cannot read file data", Err: err}
	}
	if info.Header, err = ReadHeader(path, b[:n]); err != nil {
		return info, err
	}
	ph := make([]byte, int(info.Header.Phnum)*phdrSize)
	if n, err := unix.Pread(fd, ph, int64(info.Header.Phoff)); err != nil || n != len(ph) {
		return info, &Error{Name: path, Cause: "cannot read file data"}
	}
	for _, p := range ReadProgs(ph, int(info.Header.Phnum)) {
		switch p.Type {
		case elf.PT_DYNAMIC:
			info.Dynamic = p.Filesz > 0
		case elf.PT_INTERP:
			s := make([]byte, min(p.Filesz, 4096))
			if n, err := unix.Pread(fd, s, int64(p.Off)); err == nil {
				info.Interp = cstring(s[:n])
			}
		}
	}
	return info, nil
}

// ParseBytes reads an object from a file's contents held in memory.
func ParseBytes(name string, data []byte) (*Object, error) {
	f, err := parseFile(name, data)
	if err != nil {
		return nil, err
	}
	return f.Object, nil
}

func parseFile(name string, data []byte) (*File, error) {
	hdr, err := ReadHeader(name, data)
	if err != nil {
		return nil, err
	}
	n := uint64(hdr.Phnum) * phdrSize
	if hdr.Phoff > uint64(len(data)) || n > uint64(len(data))-hdr.Phoff {
		return nil, &Error{Name: name, Cause: "cannot read file data", Err: errors.New("program headers outside the file")}
	}
	progs := ReadProgs(data[hdr.Phoff:], int(hdr.Phnum))
	src := &fileSource{name: name, data: data}
	for _, p := range progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		if p.Off > uint64(len(data)) || p.Filesz > uint64(len(data))-p.Off {
			return nil, &Error{Name: name, Cause: "file too short", Err: errors.New("segment extends past the end of the file")}
		}
		src.loads = append(src.loads, p)
	}
	obj, err := Parse(name, hdr, progs, src, 0, false)
	if err != nil {
		return nil, err
	}
	return &File{Object: obj, data: data, fd: -1}, nil
}

// Data returns the whole file's bytes.
func (f *File) Data() []byte { return f.data }

// Close gives back the file's pages. Names read from the object are
// substrings of the mapping and may still be held, so its address range
// stays reserved: it becomes zero pages, which cost nothing until read.
// The object must not be used afterwards.
func (f *File) Close() error {
	if f.fd >= 0 {
		unix.Close(f.fd)
		f.fd = -1
	}
	if f.data == nil {
		return nil
	}
	err := release(f.data)
	f.data = nil
	return err
}

// release turns a file's mapping into zero pages (see Close).
func release(data []byte) error {
	_, err := unix.MmapPtr(-1, 0, unsafe.Pointer(&data[0]), uintptr(len(data)),
		unix.PROT_READ, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED|unix.MAP_NORESERVE)
	return err
}

// memorySource reads an object mapped in this process at base, except
// for copied, a copy of the bytes at link-time address copiedAddr.
type memorySource struct {
	name       string
	base       uintptr
	loads      []Prog
	copied     []byte
	copiedAddr uint64
}

func (s *memorySource) Bytes(addr, n uint64) ([]byte, error) {
	if c := s.copied; c != nil && addr >= s.copiedAddr && addr-s.copiedAddr <= uint64(len(c)) && n <= uint64(len(c))-(addr-s.copiedAddr) {
		off := addr - s.copiedAddr
		return c[off : off+n : off+n], nil
	}
	for i := range s.loads {
		p := &s.loads[i]
		if addr < p.Vaddr || addr-p.Vaddr > p.Memsz || n > p.Memsz-(addr-p.Vaddr) {
			continue
		}
		if n == 0 {
			return nil, nil
		}
		return unsafe.Slice((*byte)(Pointer(s.base+uintptr(addr))), n), nil
	}
	return nil, &Error{Name: s.name, Cause: "address range outside the mapped segments"}
}

// memoryLoads are the loads of progs that can be read in memory: a
// segment mapped without PF_R cannot.
func memoryLoads(progs []Prog) []Prog {
	var loads []Prog
	for _, p := range progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_R != 0 {
			loads = append(loads, p)
		}
	}
	return loads
}

// FromMemory reads an object that is already mapped in this process at
// base (its l_addr), given its program headers as they are in memory.
// dynRelocated says whether glibc's ld.so loaded it and so rewrote the
// pointers in a writable dynamic section (see Parse).
func FromMemory(name string, base uintptr, progs []Prog, dynRelocated bool) (*Object, error) {
	src := &memorySource{name: name, base: base, loads: memoryLoads(progs)}
	hdr := Header{Type: elf.ET_DYN}
	// The ELF header sits at the start of the first segment when the
	// segment maps file offset 0, as every linker lays it out.
	if len(src.loads) > 0 && src.loads[0].Off == 0 {
		if b, err := src.Bytes(src.loads[0].Vaddr, ehdrSize); err == nil {
			hdr.Type = elf.Type(le.Uint16(b[16:]))
			hdr.Entry = le.Uint64(b[24:])
			hdr.Phoff = le.Uint64(b[32:])
		}
	}
	return Parse(name, hdr, progs, src, uint64(base), dynRelocated)
}

// Pointer turns an address in this process's memory that no Go value
// holds into a pointer (the memory belongs to mapped objects, not to Go).
func Pointer(addr uintptr) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Pointer(&addr))
}
