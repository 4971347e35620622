package namespace

import (
	"debug/elf"
	"fmt"

	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/lookup"
	"github.com/ldgo/ldgo/object"
	"github.com/ldgo/ldgo/reloc"
)

// Fixup binds PLT slot i of m's DT_JMPREL table the way glibc's _dl_fixup
// does at a first call: the symbol is looked up in m's scope (unless the
// reference has non-default visibility, which binds to m itself), the
// addend is added, an IFUNC's resolver is run (unless skipIFunc), and the
// target address returned along with the slot's address. Fixup does not
// write the GOT; the caller does, unless LD_BIND_NOT asks it not to.
func (ns *Namespace) Fixup(m *linkmap.Map, i int, skipIFunc bool) (target, slot uint64, def *linkmap.Map, err error) {
	tab, err := m.Obj.Relas(m.Obj.Dyn.JmpRel)
	if err != nil {
		return 0, 0, nil, err
	}
	if i < 0 || i >= tab.Len() {
		return 0, 0, nil, fmt.Errorf("%s: PLT relocation %d out of range", m.DisplayName(ns.cfg.Progname), i)
	}
	rel := tab.At(i)
	entry := m.Obj.Dyn.JmpRel.Addr + uint64(i)*24
	relocError := func(err error) error {
		return &RelocError{Table: "DT_JMPREL", Index: uint64(i), Type: rel.Type, Off: rel.Off, Err: err}
	}
	if rel.Type != elf.R_X86_64_JMP_SLOT {
		// Reported by the load-time pass already (doLazy).
		return 0, 0, nil, &LoadError{Name: m.DisplayName(ns.cfg.Progname), Err: relocError(reloc.BadTypeError{Map: m, Type: rel.Type, PLT: true})}
	}
	if err := symbolInTable(m, rel.Sym); err != nil {
		return 0, 0, nil, &LoadError{Name: m.DisplayName(ns.cfg.Progname), Err: relocError(err), Occasion: "symbol lookup error"}
	}
	slot = m.Addr(rel.Off)
	key := refKey(m, entry, rel.Sym)
	var res lookup.Result
	if !ns.replay(m, key, lookup.ClassPLT, &res) {
		ref := m.Obj.Symbol(rel.Sym)
		how := lookup.Own
		res = lookup.Result{Map: m, Index: rel.Sym, Sym: ref}
		var req lookup.Request
		if slotRequest(&req, m, rel.Sym, &ref) {
			how = lookup.Searched
			if a, ok := ns.ahead.answer(m, i); ok {
				ns.lookedAhead++
				res, err = a.res, a.err
				ns.Linker.Adopt(&req, &res, err)
			} else {
				res, err = ns.Linker.Symbol(m.Scope, &req)
			}
			if err != nil {
				return 0, slot, nil, &LoadError{Name: m.DisplayName(ns.cfg.Progname), Err: err, Occasion: "symbol lookup error"}
			}
		}
		if ns.Linker.Recording {
			ns.Linker.Remember(key, how, &res)
		}
	}
	if res.Map == nil {
		return uint64(rel.Addend), slot, nil, nil
	}
	def, sym := res.Map, res.Sym
	target = symbolAddress(def, &sym) + uint64(rel.Addend)
	if sym.Type() == elf.STT_GNU_IFUNC && !skipIFunc {
		target, err = ns.mapper.Env().CallIFunc(target)
		if err != nil {
			return 0, slot, def, err
		}
	}
	return target, slot, def, nil
}

// slotRequest makes req the lookup of m's PLT reference ref (its symbol
// idx), as glibc's _dl_fixup makes it, and reports false, for no lookup,
// when ref has other than default visibility: it then binds to m itself.
// The lookups made ahead (LookAhead) are made the same way.
func slotRequest(req *lookup.Request, m *linkmap.Map, idx uint32, ref *object.Sym) bool {
	if ref.Visibility() != elf.STV_DEFAULT {
		return false
	}
	lookup.ReferenceRequest(req, m, idx, ref, lookup.ClassPLT)
	return true
}

// PLTSlots returns the number of m's PLT relocations.
func PLTSlots(m *linkmap.Map) int {
	tab, err := m.Obj.Relas(m.Obj.Dyn.JmpRel)
	if err != nil {
		return 0
	}
	return tab.Len()
}
