package rtld

import (
	"debug/elf"
	"fmt"

	"github.com/ldgo/ldgo/host"
	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/lookup"
	"github.com/ldgo/ldgo/namespace"
)

// CallsOptions turn on ldgo run --calls: every call through a PLT slot of
// an object ldgo loads is counted, and the counts are printed at exit.
type CallsOptions struct {
	JSON bool
	// Path is the file the table goes to ("" for standard error),
	// absolute: the program may change its directory.
	Path string
}

// callCounter points the PLT slots of the objects ldgo loads at counting
// stubs (host.CallStubs).
type callCounter struct {
	report host.CallsReport
	// stands maps the address of a function ldgo provides in place of
	// one of libc's (dlopen...) to libc's, so that a call of it is
	// reported as a call into libc.
	stands map[uint64]uint64
}

// startCounting prepares the table and has the program's _exit and _Exit
// print it: they bind to ldgo's (host.CallsExit), through the
// substitutions relocation applies.
func (p *Process) startCounting(opts *CallsOptions, prog string, hostMaps []*linkmap.Map) {
	c := &callCounter{report: host.CallsReport{JSON: opts.JSON, Path: opts.Path, Program: prog}, stands: map[uint64]uint64{}}
	for _, m := range hostMaps {
		if m.Vdso || m.Rtld {
			continue
		}
		for _, addrs := range lookup.Definitions(m, "_exit", "_Exit") {
			for _, a := range addrs {
				p.subst.set(a, host.CallsExit())
			}
		}
	}
	for from, to := range p.subst.m {
		c.stands[to] = from
	}
	p.calls = c
	host.SetCallsReport(c.report)
}

// countCalls points every PLT slot of maps at a stub of its own: what the
// resolver writes at the first call of a lazily bound slot, the GOT entry
// itself of a slot bound already. A slot that cannot be bound is left to
// fail at its first call. GLOB_DAT references to functions are not
// counted: their GOT entry is also the function's address as the object
// sees it (&f, -fno-plt calls alike), and a stub there would make it
// differ from the other objects' view of the same function.
func (p *Process) countCalls(ns *namespace.Namespace, prog string, maps []*linkmap.Map) error {
	c := p.calls
	if c == nil {
		return nil
	}
	uncounted := c.report.Uncounted
	for _, m := range maps {
		if !countable(m) {
			continue
		}
		n, err := c.countObject(ns, p, m, prog)
		if err != nil {
			return fmt.Errorf("%s: ldgo run --calls: %w", m.DisplayName(prog), err)
		}
		c.report.Uncounted += n
	}
	if c.report.Uncounted != uncounted {
		host.SetCallsReport(c.report)
	}
	return nil
}

// countable reports whether ldgo binds m's PLT: not the objects the
// system's ld.so loaded, which ldgo itself calls through.
func countable(m *linkmap.Map) bool {
	return !m.Adopted && !m.Vdso && !m.Faked && !m.Rtld && !m.Removed && m.Obj != nil
}

// countObject gives m's PLT slots their stubs and returns the number of
// its GLOB_DAT references to functions, which are not counted.
func (c *callCounter) countObject(ns *namespace.Namespace, p *Process, m *linkmap.Map, prog string) (uint64, error) {
	var uncounted uint64
	if tab, err := m.Obj.Relas(m.Obj.Dyn.Rela); err == nil {
		for i := 0; i < tab.Len(); i++ {
			rel := tab.At(i)
			if rel.Type != elf.R_X86_64_GLOB_DAT || rel.Sym == 0 {
				continue
			}
			sym := m.Obj.Symbol(rel.Sym)
			if t := sym.Type(); t == elf.STT_FUNC || t == elf.STT_GNU_IFUNC {
				uncounted++
			}
		}
	}
	if !m.Obj.Dyn.HasJmpRel {
		return uncounted, nil
	}
	tab, err := m.Obj.Relas(m.Obj.Dyn.JmpRel)
	if err != nil {
		return 0, err
	}
	lazy, isLazy := p.lazy[m]
	var slots []host.CallSlot
	var which []int
	for i := 0; i < tab.Len(); i++ {
		rel := tab.At(i)
		if rel.Type != elf.R_X86_64_JMP_SLOT {
			continue
		}
		var target uint64
		switch {
		case isLazy && lazy.Failed(i):
			continue
		case isLazy:
			target = lazy.Target(i)
		default:
			target = *(*uint64)(ptr(m.Base + rel.Off))
		}
		if target == 0 {
			continue // an undefined weak function: a call crashes, uncounted
		}
		var version string
		if v, _ := m.Obj.SymbolVersion(rel.Sym); v != nil {
			version = v.Name
		}
		slots = append(slots, host.CallSlot{Target: target, Caller: m.DisplayName(prog), Function: m.Obj.SymbolName(rel.Sym),
			Version: version, Callee: c.callee(ns, target, prog)})
		which = append(which, i)
	}
	stubs, err := host.CallStubs(slots)
	if err != nil {
		return 0, fmt.Errorf("cannot make the counting stubs: %w", err)
	}
	var words []namespace.Word
	for k, i := range which {
		if isLazy {
			lazy.SetTarget(i, stubs[k])
			continue
		}
		words = append(words, namespace.Word{Addr: m.Base + tab.At(i).Off, Value: stubs[k]})
	}
	if len(words) > 0 {
		// The GOT may be read-only already (RELRO of a library dlopen
		// bound now).
		if err := writeAdopted(m, words); err != nil {
			return 0, err
		}
	}
	return uncounted, nil
}

// callee names the object that holds addr, the function a slot jumps
// to; a function ldgo provides in place of libc's is reported as libc's.
func (c *callCounter) callee(ns *namespace.Namespace, addr uint64, prog string) string {
	if from, ok := c.stands[addr]; ok {
		addr = from
	}
	if m := objectAt(ns, addr); m != nil {
		return m.DisplayName(prog)
	}
	return "ldgo"
}

// objectAt is the object of ns whose loaded segments hold addr, or nil.
func objectAt(ns *namespace.Namespace, addr uint64) *linkmap.Map {
	for _, m := range ns.Chain {
		if m.Faked || m.Removed || m.Obj == nil {
			continue
		}
		for _, s := range m.Obj.Progs {
			if s.Type == elf.PT_LOAD && addr >= m.Base+s.Vaddr && addr < m.Base+s.Vaddr+s.Memsz {
				return m
			}
		}
	}
	return nil
}
