package rtld

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/namespace"
	"github.com/ldgo/ldgo/object"
)

// The lazy category's story of a first call (ldgo run --debug lazy): a
// line that sums it up, then the walk through the PLT step by step. What
// is known before the program starts — the PLT entry and the stub, whose
// code is decoded from the object's bytes, GOT[1] and GOT[2], the lookup
// and its answer — is written here, once per slot; the resolver, at the
// first call, adds what only it sees (the GOT entry as it finds it and as
// it leaves it) from prebuilt strings, without allocating.

// lazyStory tells the first calls through one object's PLT.
type lazyStory struct {
	m    *linkmap.Map
	prog string
	plt  *object.PLT // nil when the object's PLT does not decode
	// lazyTable and trampoline are GOT[1] and GOT[2] as SetupLazy wrote
	// them.
	lazyTable, trampoline uint64
}

// newLazyStory decodes m's PLT. Its GOT entries hold, before any first
// call, their lazy stubs' addresses plus the base (relocation added it).
func newLazyStory(p *Process, m *linkmap.Map, prog string) *lazyStory {
	s := &lazyStory{m: m, prog: prog}
	got := m.Addr(m.Obj.Dyn.PLTGot)
	s.lazyTable, _ = p.read64(got + 8)
	s.trampoline, _ = p.read64(got + 16)
	plt, err := m.Obj.DecodePLT(func(addr uint64) (uint64, bool) {
		v, err := p.read64(m.Addr(addr))
		if err != nil || v < m.Base {
			return 0, false
		}
		return v - m.Base, true
	})
	if err == nil {
		s.plt = plt
	}
	return s
}

// how says where the answer of a slot's lookup came from.
type lookupSource int

const (
	lookedUpHere lookupSource = iota
	lookedUpAhead
	fromBindCache
)

// lines is the story of slot i, bound to def at target through the GOT
// entry slot, up to the lookup's answer.
func (s *lazyStory) lines(i int, sym, version string, def *linkmap.Map, slot, target uint64, src lookupSource) string {
	m, prog := s.m, s.prog
	name := sym
	if version != "" {
		name += "@" + version
	}
	defName := "(undefined weak)"
	if def != nil {
		defName = def.DisplayName(prog)
	}
	var b strings.Builder
	// The summary line, as it has always been.
	fmt.Fprintf(&b, "ldgo: lazy: %s: %s => %s (slot %d, GOT %#x, target %#x)\n", m.DisplayName(prog), sym, defName, i, slot, target)
	step := func(format string, args ...any) {
		b.WriteString("ldgo: lazy:   ")
		fmt.Fprintf(&b, format, args...)
		b.WriteByte('\n')
	}
	var ps *object.PLTSlot
	if s.plt != nil && i < len(s.plt.Slots) {
		ps = &s.plt.Slots[i]
	}
	switch {
	case ps == nil || ps.Problem != "" || ps.Entry == 0:
		why := "its PLT does not decode"
		if ps != nil && ps.Problem != "" {
			why = ps.Problem
		}
		step("1. %s (base %#x) calls %s through its PLT, which jumps through the GOT entry %#x (%s)", m.DisplayName(prog), m.Base, name, slot, why)
	default:
		bnd := ""
		if s.plt.BND {
			bnd = "bnd "
		}
		entry, stub, plt0 := m.Addr(ps.Entry), m.Addr(ps.Stub), m.Addr(s.plt.PLT0)
		switch s.plt.Layout {
		case object.PLTIBT:
			step("1. %s (base %#x) calls %s: its .plt.sec entry %#x, endbr64; %sjmp *%#x (the GOT entry), goes to %#x, the lazy stub in .plt", m.DisplayName(prog), m.Base, name, entry, bnd, slot, stub)
			step("2. the stub %#x: endbr64; push $%d (the slot); %sjmp %#x (PLT0)", stub, ps.Pushes, bnd, plt0)
		default:
			step("1. %s (base %#x) calls %s: its PLT entry %#x, jmp *%#x (the GOT entry), goes to %#x, the lazy stub right after it", m.DisplayName(prog), m.Base, name, entry, slot, stub)
			step("2. the stub %#x: push $%d (the slot); %sjmp %#x (PLT0)", stub, ps.Pushes, bnd, plt0)
		}
		step("3. PLT0 %#x: push GOT[1] = %#x (ldgo's table of %s's slots); %sjmp *GOT[2] = %#x (ldgo's resolver trampoline)", plt0, s.lazyTable, m.DisplayName(prog), bnd, s.trampoline)
	}
	when := "before the program started"
	switch src {
	case lookedUpAhead:
		when = "before the program started, on the look-ahead thread"
	case fromBindCache:
		when = "by an earlier run, replayed from the bind cache"
	}
	if def == nil {
		step("4. the resolver takes slot %d, R_X86_64_JUMP_SLOT %s, looked up in %s's scope %s: nothing defines it and the reference is weak, so the target is %#x", i, name, m.DisplayName(prog), when, target)
	} else {
		step("4. the resolver takes slot %d, R_X86_64_JUMP_SLOT %s, looked up in %s's scope %s: %s defines it; the target is %#x", i, name, m.DisplayName(prog), when, defName, target)
	}
	return b.String()
}

// storyLookup is Fixup for a slot whose story is told: it says where
// the answer came from.
func storyLookup(ns *namespace.Namespace, m *linkmap.Map, i int) (target, slot uint64, def *linkmap.Map, src lookupSource, err error) {
	replayed, ahead := ns.Linker.Replayed, ns.LookedAhead()
	target, slot, def, err = ns.Fixup(m, i, false)
	switch {
	case ns.Linker.Replayed != replayed:
		src = fromBindCache
	case ns.LookedAhead() != ahead:
		src = lookedUpAhead
	}
	return target, slot, def, src, err
}

// read64 reads a word of the process.
func (p *Process) read64(addr uint64) (uint64, error) {
	var b [8]byte
	if err := p.ReadAt(b[:], addr); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}
