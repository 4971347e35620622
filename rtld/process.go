package rtld

import (
	"debug/elf"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ldgo/ldgo/host"
	"github.com/ldgo/ldgo/image"
	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/namespace"
	"github.com/ldgo/ldgo/object"
	"github.com/ldgo/ldgo/reloc"
)

const pageSize = 4096

func pageDown(x uint64) uint64 { return x &^ (pageSize - 1) }
func pageUp(x uint64) uint64   { return (x + pageSize - 1) &^ (pageSize - 1) }

// region is a span of memory the process image knows, with its current
// protection. Later regions override earlier ones where they overlap.
type region struct {
	lo, hi uint64
	prot   int
	obj    *object.Object
}

// Process is the process image: objects mapped into this process's
// memory, relocated in place. It is the namespace's Mapper, the
// relocations' Env and their Hooks.
type Process struct {
	regions []region
	spans   []span      // where each region decides, in address order
	found   foundRegion // the last lookup's answer
	// subst replaces values written by relocations: the address of a
	// function the program must reach through ldgo instead
	// (__libc_start_main, __tls_get_addr) maps to ldgo's own.
	subst substitutions
	// tls is the program's static TLS.
	tls staticTLS
	// traceLazy asks for the lazy category's lines, printed at first
	// calls; trace prints the symbols and bindings categories' lines.
	traceLazy bool
	trace     lookupTrace
	// lazy are the PLT tables of lazily bound objects.
	lazy map[*linkmap.Map]host.Lazy
	// order lists the lazily bound objects as they were set up.
	order []*linkmap.Map
	// relroLater defers the RELRO protection of the objects relocated
	// (relroPending) to ProtectRelro.
	relroLater   bool
	relroPending []*linkmap.Map
	// calls counts the calls through PLT slots (ldgo run --calls).
	calls *callCounter
	// audit is LD_AUDIT's audit libraries, or nil.
	audit *auditState
}

// NewProcess returns an empty process image.
func NewProcess() *Process {
	return &Process{subst: substitutions{m: map[uint64]uint64{}}, lazy: map[*linkmap.Map]host.Lazy{}}
}

// substitutions map the addresses of host functions to ldgo's own. Almost
// no word a relocation writes is one of them: a bitmap over the
// addresses' low bits turns most away before the map is asked.
type substitutions struct {
	m    map[uint64]uint64
	bits [4]uint64
}

// filterBit is v's bit in the bitmap; functions are mostly 16-byte
// aligned, so the bits above those count.
func filterBit(v uint64) (word int, bit uint64) {
	b := (v >> 4) & 255
	return int(b / 64), 1 << (b % 64)
}

func (s *substitutions) set(from, to uint64) {
	w, b := filterBit(from)
	s.bits[w] |= b
	s.m[from] = to
}

// get returns what replaces v, if anything does.
func (s *substitutions) get(v uint64) (uint64, bool) {
	if w, b := filterBit(v); s.bits[w]&b == 0 {
		return 0, false
	}
	r, ok := s.m[v]
	return r, ok
}

func protOf(f elf.ProgFlag) int {
	prot := 0
	if f&elf.PF_R != 0 {
		prot |= unix.PROT_READ
	}
	if f&elf.PF_W != 0 {
		prot |= unix.PROT_WRITE
	}
	if f&elf.PF_X != 0 {
		prot |= unix.PROT_EXEC
	}
	return prot
}

func ptr(addr uint64) unsafe.Pointer { return object.Pointer(uintptr(addr)) }

func mem(addr, n uint64) []byte { return unsafe.Slice((*byte)(ptr(addr)), n) }

// Adopt makes an object already in the process known to the image (for
// reading only).
func (p *Process) Adopt(m *linkmap.Map) {
	for _, s := range m.Obj.Progs {
		if s.Type == elf.PT_LOAD {
			p.addRegion(region{lo: m.Base + s.Vaddr, hi: m.Base + s.Vaddr + s.Memsz, prot: protOf(s.Flags) &^ unix.PROT_WRITE, obj: m.Obj})
		}
	}
}

// errMapSegment is glibc's error for a segment that cannot be mapped.
var errMapSegment = errors.New("failed to map segment from shared object")

// Map implements namespace.Mapper: the PT_LOAD segments of a file that
// object.OpenHeaders opened are mapped from its descriptor, private, over
// a region reserved for the whole object (at its fixed addresses for
// ET_EXEC); bss is zero-filled (host.MapSegments, the executor's rule
// too). The object returned is read through the
// mapping.
func (p *Process) Map(f *object.File, name string) (uint64, *object.Object, error) {
	for _, s := range f.Progs {
		if s.Type == elf.PT_LOAD && s.Flags&elf.PF_W != 0 && s.Flags&elf.PF_X != 0 {
			return 0, nil, errors.New("segment is both writable and executable, which ldgo does not map")
		}
	}
	// The descriptor the search opened (object.OpenHeaders) maps the
	// file it checked.
	fd := f.TakeDescriptor()
	if fd < 0 {
		return 0, nil, errors.New("file not opened for mapping (object.OpenHeaders)")
	}
	defer unix.Close(fd)

	var segs []host.PlanSegment
	for _, s := range f.Progs {
		if s.Type == elf.PT_LOAD {
			segs = append(segs, host.PlanSegment{Off: s.Off, Vaddr: s.Vaddr, Filesz: s.Filesz, Memsz: s.Memsz, Prot: uint64(s.Flags & 7)})
		}
	}
	base, err := host.MapSegments(fd, segs, f.Type == elf.ET_EXEC)
	switch {
	case err == host.ErrMapReserve && f.Type == elf.ET_EXEC:
		return 0, nil, fixedAddressError(f.LoadBounds())
	case err == host.ErrMapZero:
		return 0, nil, err
	case err != nil:
		// glibc's words, without the system's error.
		return 0, nil, errMapSegment
	}
	for _, s := range f.Progs {
		if s.Type == elf.PT_LOAD && s.Memsz > 0 {
			p.addRegion(region{lo: pageDown(base + s.Vaddr), hi: pageUp(base + s.Vaddr + s.Memsz), prot: protOf(s.Flags), obj: f.Object})
		}
	}
	// Opened with its headers only: the rest is read in place.
	obj, err := f.ParseMapped(base)
	if err != nil {
		p.Unmap(&linkmap.Map{Obj: f.Object, Base: base})
		return 0, nil, err
	}
	for i := range p.regions {
		if p.regions[i].obj == f.Object {
			p.regions[i].obj = obj
		}
	}
	return base, obj, nil
}

// span is where region r decides the protection: [lo, hi).
type span struct {
	lo, hi uint64
	r      int
}

// addRegion adds r over the regions before it.
func (p *Process) addRegion(r region) {
	p.regions = append(p.regions, r)
	p.paint(len(p.regions) - 1)
}

// paint makes region i decide over its range in p.spans, which stay
// sorted and disjoint.
func (p *Process) paint(i int) {
	r := &p.regions[i]
	if r.lo >= r.hi {
		return
	}
	// spans[k:e] are those overlapping [r.lo, r.hi).
	k := sort.Search(len(p.spans), func(j int) bool { return p.spans[j].hi > r.lo })
	e := k
	for e < len(p.spans) && p.spans[e].lo < r.hi {
		e++
	}
	var repl [3]span
	n := 0
	if k < e && p.spans[k].lo < r.lo {
		repl[n] = span{p.spans[k].lo, r.lo, p.spans[k].r}
		n++
	}
	repl[n] = span{r.lo, r.hi, i}
	n++
	if k < e && p.spans[e-1].hi > r.hi {
		repl[n] = span{r.hi, p.spans[e-1].hi, p.spans[e-1].r}
		n++
	}
	p.spans = slices.Replace(p.spans, k, e, repl[:n]...)
}

// foundRegion is where region index decides the protection: [lo, hi),
// valid while the regions are the nregions it was computed from.
type foundRegion struct {
	index, nregions int
	lo, hi          uint64
}

// find returns the region that decides the protection at addr.
func (p *Process) find(addr uint64) *region {
	// Relocations come object by object, in address order: the span
	// found for one address almost always holds the next one too.
	c := &p.found
	if c.nregions == len(p.regions) && addr >= c.lo && addr < c.hi {
		return &p.regions[c.index]
	}
	j := sort.Search(len(p.spans), func(j int) bool { return p.spans[j].hi > addr })
	if j == len(p.spans) || p.spans[j].lo > addr {
		return nil
	}
	sp := p.spans[j]
	*c = foundRegion{index: sp.r, lo: sp.lo, hi: sp.hi, nregions: len(p.regions)}
	return &p.regions[sp.r]
}

// check verifies that [addr, addr+n) is mapped with at least prot.
func (p *Process) check(addr, n uint64, prot int, what string) error {
	if n == 0 {
		return nil
	}
	if addr+n < addr {
		return &image.AccessError{Op: what, Addr: addr, Size: n, Cause: "address range wraps"}
	}
	for a := addr; ; {
		r := p.find(a)
		if r == nil {
			return &image.AccessError{Op: what, Addr: addr, Size: n, Cause: fmt.Sprintf("address %#x outside every loaded segment", a)}
		}
		if r.prot&prot != prot {
			return &image.AccessError{Op: what, Addr: addr, Size: n, Cause: fmt.Sprintf("segment at %#x is not %s", a, protName(prot))}
		}
		// Where r decides ends with the span find found.
		hi := p.found.hi
		if addr+n <= hi {
			return nil
		}
		a = hi
	}
}

func protName(prot int) string {
	switch prot {
	case unix.PROT_WRITE:
		return "writable"
	case unix.PROT_EXEC:
		return "executable"
	}
	return "readable"
}

// ReadAt implements image.Image over this process's memory.
func (p *Process) ReadAt(b []byte, addr uint64) error {
	if err := p.check(addr, uint64(len(b)), unix.PROT_READ, "read"); err != nil {
		return err
	}
	copy(b, mem(addr, uint64(len(b))))
	return nil
}

// WriteAt implements image.Image over this process's memory.
func (p *Process) WriteAt(b []byte, addr uint64) error {
	if err := p.check(addr, uint64(len(b)), unix.PROT_WRITE, "relocation"); err != nil {
		return err
	}
	copy(mem(addr, uint64(len(b))), b)
	return nil
}

// Write64 implements image.WordWriter. A value that is the address of a
// function ldgo provides itself is replaced by ldgo's.
func (p *Process) Write64(addr, v uint64) error {
	if err := p.check(addr, 8, unix.PROT_WRITE, "relocation"); err != nil {
		return err
	}
	if s, ok := p.subst.get(v); ok {
		v = s
	}
	*(*uint64)(ptr(addr)) = v
	return nil
}

// giveBackReadOnly gives back the pages of m's read-only data segments
// (symbol, string and hash tables): lookups without the bind cache read
// them for every lazily bound slot, where glibc reads them only for the
// slots called, and they are clean file pages that the program reads in
// again if it uses them. A page that another segment maps too, and an
// object whose text relocations wrote its read-only segments, are left
// alone.
func (p *Process) giveBackReadOnly(m *linkmap.Map) {
	if m.Adopted || m.Faked || m.Obj == nil || m.Obj.Dyn.TextRel {
		return
	}
	for i, s := range m.Obj.Progs {
		if s.Type != elf.PT_LOAD || s.Flags&(elf.PF_W|elf.PF_X) != 0 || s.Filesz == 0 {
			continue
		}
		lo, hi := pageDown(m.Base+s.Vaddr), pageUp(m.Base+s.Vaddr+s.Filesz)
		for j, o := range m.Obj.Progs {
			if j == i || o.Type != elf.PT_LOAD {
				continue
			}
			olo, ohi := pageDown(m.Base+o.Vaddr), pageUp(m.Base+o.Vaddr+o.Memsz)
			if olo < hi && ohi > lo {
				// Shared pages: keep them, at either end.
				if olo <= lo {
					lo = ohi
				}
				if ohi >= hi {
					hi = olo
				}
			}
		}
		if lo < hi {
			unix.Madvise(mem(lo, hi-lo), unix.MADV_DONTNEED)
		}
	}
}

// Add64 implements image.WordAdder, with one instruction that writes:
// the page faults once, for writing.
func (p *Process) Add64(addr, v uint64) error {
	if err := p.check(addr, 8, unix.PROT_WRITE, "relocation"); err != nil {
		return err
	}
	atomic.AddUint64((*uint64)(ptr(addr)), v)
	return nil
}

// Unmap removes m's segments from the process (dlclose). The object was
// read in place, and names read from it may still be held (in messages,
// in the lookups' tables): its address range stays reserved as zero
// pages, which cost nothing until read, as object.File.Close does for a
// file's mapping.
func (p *Process) Unmap(m *linkmap.Map) error {
	lo, hi := m.Obj.LoadBounds()
	start := pageDown(m.Base + lo)
	if _, err := unix.MmapPtr(-1, 0, ptr(start), uintptr(pageUp(m.Base+hi)-start), unix.PROT_READ,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED|unix.MAP_NORESERVE); err != nil {
		return err
	}
	var keep []region
	for _, r := range p.regions {
		if r.obj != m.Obj {
			keep = append(keep, r)
		}
	}
	p.regions, p.spans, p.found = keep, nil, foundRegion{}
	for i := range p.regions {
		p.paint(i)
	}
	delete(p.lazy, m)
	return nil
}

// WriteRelative implements namespace.RelativeWriter: B + A written
// straight to memory, each address checked against the object's writable
// ranges. It reads nothing of the Process, so it may run beside the other
// methods.
func (p *Process) WriteRelative(base uint64, tab object.RelaTable, writable []object.Range) (int, error) {
	var in writableRange
	for i := 0; i < tab.Len(); i++ {
		rel := tab.At(i)
		if rel.Type != elf.R_X86_64_RELATIVE {
			return i, nil
		}
		addr := base + rel.Off
		if err := in.check(addr, writable); err != nil {
			return i, err
		}
		*(*uint64)(ptr(addr)) = base + uint64(rel.Addend)
	}
	return tab.Len(), nil
}

// WriteWords implements namespace.WordWriter: each word is written
// straight to memory, its address checked against the writable ranges;
// a value that is the address of a function ldgo provides itself is
// replaced by ldgo's, as Write64 does.
func (p *Process) WriteWords(words []namespace.Word, writable []object.Range) error {
	var in writableRange
	for _, w := range words {
		if err := in.check(w.Addr, writable); err != nil {
			return err
		}
		v := w.Value
		if s, ok := p.subst.get(v); ok {
			v = s
		}
		*(*uint64)(ptr(w.Addr)) = v
	}
	return nil
}

// writableRange is the writable range the last word was found in:
// relocations come in address order, and it mostly holds the next.
type writableRange struct{ lo, hi uint64 }

// check finds the range of writable that holds the word at addr.
func (in *writableRange) check(addr uint64, writable []object.Range) error {
	if addr >= in.lo && addr+8 <= in.hi && addr+8 > addr {
		return nil
	}
	for _, w := range writable {
		if addr >= w.Addr && addr+8 <= w.Addr+w.Size && addr+8 > addr {
			in.lo, in.hi = w.Addr, w.Addr+w.Size
			return nil
		}
	}
	return &image.AccessError{Op: "relocation", Addr: addr, Size: 8, Cause: "address outside every writable segment"}
}

// CallIFunc implements image.Image: the resolver is called in this
// process.
func (p *Process) CallIFunc(addr uint64) (uint64, error) {
	if err := p.check(addr, 1, unix.PROT_EXEC, "IFUNC resolver"); err != nil {
		return 0, err
	}
	return uint64(host.Call0(uintptr(addr))), nil
}

// StaticTLSOffset implements reloc.Env: the adopted objects (libc) have
// static TLS, and so do the program, the libraries loaded with it
// (placeTLS) and those opened later that need it.
func (p *Process) StaticTLSOffset(def *linkmap.Map) (uint64, error) {
	if def.HasStaticTLS {
		return def.TLSOffset, nil
	}
	return 0, errors.New(def.Name + ": cannot allocate memory in static TLS block")
}

// TLSDescriptor implements reloc.Env: static TLS, unresolved weak
// references, and per-thread blocks (through __tls_get_addr's path).
func (p *Process) TLSDescriptor(def *linkmap.Map, off uint64) (uint64, uint64, error) {
	if def == nil {
		return host.TLSDescUndefWeak(), off, nil
	}
	if def.HasStaticTLS {
		return host.TLSDescStatic(), off - def.TLSOffset, nil
	}
	return host.TLSDescDynamic(), host.NewTLSIndex(def.TLSModID, off), nil
}

// protect changes the protection of [lo, hi) and records it.
func (p *Process) protect(lo, hi uint64, prot int, obj *object.Object) error {
	if hi <= lo {
		return nil
	}
	if err := unix.Mprotect(mem(lo, hi-lo), prot); err != nil {
		return err
	}
	p.addRegion(region{lo: lo, hi: hi, prot: prot, obj: obj})
	return nil
}

func (p *Process) segments(m *linkmap.Map) []object.Prog {
	var out []object.Prog
	for _, s := range m.Obj.Progs {
		if s.Type == elf.PT_LOAD && s.Memsz > 0 {
			out = append(out, s)
		}
	}
	return out
}

// BeginTextRel implements namespace.Hooks: read-only segments become
// writable (and not executable) while relocations are written.
func (p *Process) BeginTextRel(m *linkmap.Map) error {
	for _, s := range p.segments(m) {
		if s.Flags&elf.PF_W == 0 {
			if err := p.protect(pageDown(m.Base+s.Vaddr), pageUp(m.Base+s.Vaddr+s.Memsz), unix.PROT_READ|unix.PROT_WRITE, m.Obj); err != nil {
				return err
			}
		}
	}
	return nil
}

// EndTextRel implements namespace.Hooks.
func (p *Process) EndTextRel(m *linkmap.Map) error {
	for _, s := range p.segments(m) {
		if s.Flags&elf.PF_W == 0 {
			if err := p.protect(pageDown(m.Base+s.Vaddr), pageUp(m.Base+s.Vaddr+s.Memsz), protOf(s.Flags), m.Obj); err != nil {
				return err
			}
		}
	}
	return nil
}

// SetupLazy implements namespace.Hooks: GOT[1] identifies the object to
// the resolver, GOT[2] is the trampoline. (The namespace points each
// JUMP_SLOT back into the PLT.)
func (p *Process) SetupLazy(m *linkmap.Map) error {
	if m.Obj.Dyn.PLTGot == 0 {
		return fmt.Errorf("%s: lazy binding needs DT_PLTGOT", m.Name)
	}
	l := host.NewLazy(namespace.PLTSlots(m))
	got := m.Base + m.Obj.Dyn.PLTGot
	if err := p.Write64(got+8, l.Addr()); err != nil {
		return err
	}
	if err := p.Write64(got+16, p.audit.trampoline()); err != nil {
		return err
	}
	p.lazy[m] = l
	p.order = append(p.order, m)
	return nil
}

// Relocated implements namespace.Hooks: PT_GNU_RELRO becomes read-only,
// now or, while the start-up objects are relocated, once they all are
// (ProtectRelro).
func (p *Process) Relocated(m *linkmap.Map) error {
	if p.relroLater {
		p.relroPending = append(p.relroPending, m)
		return nil
	}
	return p.protectRelro(m)
}

// ProtectRelro ends deferring RELRO protection and protects the objects
// relocated meanwhile. Changing a mapping's protection makes the kernel
// flush the TLB of every CPU running one of the process's threads, which
// in a virtual machine costs tens of microseconds; deferred, the calls
// do not meet the relocations applied beside the rest (see
// namespace.relocateEarly) nor, when called after them, the lookups made
// ahead (namespace.LookAhead), though Go's own threads still run.
func (p *Process) ProtectRelro() error {
	p.relroLater = false
	pending := p.relroPending
	p.relroPending = nil
	for _, m := range pending {
		if err := p.protectRelro(m); err != nil {
			return err
		}
	}
	return nil
}

func (p *Process) protectRelro(m *linkmap.Map) error {
	r := m.Obj.Relro
	if r.Size == 0 {
		return nil
	}
	lo, hi := pageDown(m.Base+r.Addr), pageDown(m.Base+r.Addr+r.Size)
	if err := p.protect(lo, hi, unix.PROT_READ, m.Obj); err != nil {
		return fmt.Errorf("%s: cannot apply additional memory protection after relocation: %w", m.Name, err)
	}
	return nil
}

// writeAdopted writes words into an object already in the process,
// lifting its RELRO protection once for all of them.
func writeAdopted(m *linkmap.Map, words []namespace.Word) error {
	r := m.Obj.Relro
	lo, hi := pageDown(m.Base+r.Addr), pageDown(m.Base+r.Addr+r.Size)
	inRelro := false
	writable := namespace.WritableRanges(m, false)
	var in writableRange
	for _, w := range words {
		if in.check(w.Addr, writable) != nil {
			return fmt.Errorf("%s: %#x is not in a writable segment", m.Name, w.Addr)
		}
		inRelro = inRelro || r.Size != 0 && w.Addr+8 > lo && w.Addr < hi
	}
	if inRelro {
		if err := unix.Mprotect(mem(lo, hi-lo), unix.PROT_READ|unix.PROT_WRITE); err != nil {
			return err
		}
	}
	for _, w := range words {
		*(*uint64)(ptr(w.Addr)) = w.Value
	}
	if inRelro {
		return unix.Mprotect(mem(lo, hi-lo), unix.PROT_READ)
	}
	return nil
}

// Env implements namespace.Mapper: relocations are written to this
// process's memory.
func (p *Process) Env() reloc.Env { return p }

// fixedAddressError says why a program linked at fixed addresses cannot
// have them. The usual cause is an ldgo built as an ordinary executable
// (go build, go install), which sits where such programs are linked
// (0x400000): the message says how to build it position-independent.
func fixedAddressError(lo, hi uint64) error {
	msg := fmt.Sprintf("cannot map the executable at its fixed addresses %#x-%#x", lo, hi)
	if selfOverlaps(lo, hi) {
		return errors.New(msg + ": ldgo itself is there, as it was not built position-independent; " +
			"rebuild it with `make build` or `go install -buildmode=pie github.com/ldgo/ldgo/cmd/ldgo@latest`")
	}
	return errors.New(msg + ": that memory is in use")
}

// selfOverlaps reports whether the ldgo executable is linked at fixed
// addresses and has a segment in [lo, hi).
func selfOverlaps(lo, hi uint64) bool {
	objs := host.Objects()
	if len(objs) == 0 || objs[0].Base != 0 {
		return false // the first is the executable; a PIE one is moved
	}
	for _, p := range objs[0].Progs {
		if p.Type == elf.PT_LOAD && p.Vaddr < hi && lo < p.Vaddr+p.Memsz {
			return true
		}
	}
	return false
}
