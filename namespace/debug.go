package namespace

import (
	"fmt"
	"strings"

	"github.com/ldgo/ldgo/linkmap"
)

// debugLinkMap prints glibc's LD_DEBUG=files description of a new link
// map: where it is and how big.
func (ns *Namespace) debugLinkMap(name string, m *linkmap.Map) {
	d := ns.cfg.DebugFiles
	if d == nil || m.Obj == nil {
		return
	}
	dynamic := m.Base + m.Obj.Dynamic.Addr
	start, end := m.Obj.LoadBounds()
	d(fmt.Sprintf("file=%s [0];  generating link map", name))
	d(fmt.Sprintf("  dynamic: 0x%016x  base: 0x%016x   size: 0x%016x", dynamic, m.Base, end-start))
	d(fmt.Sprintf("    entry: 0x%016x  phdr: 0x%016x  phnum: %18d", m.Base+m.Obj.Entry, m.Base+m.Obj.Phdr, len(m.Obj.Progs)))
	d("")
}

// DebugScopes prints glibc's LD_DEBUG=scopes lines for the objects
// loaded at start-up: each object's lookup scope.
func (ns *Namespace) DebugScopes(d func(line string)) {
	d("")
	d("Initial object scopes")
	for _, m := range ns.Chain {
		if m.Faked || m.Removed {
			continue
		}
		d(fmt.Sprintf("object=%s [0]", m.DisplayName(ns.cfg.Progname)))
		scope := m.Scope
		if m.Vdso {
			// glibc gives the vDSO the global scope and its own.
			scope = [][]*linkmap.Map{ns.Main.Searchlist, {m}}
		}
		if m.Rtld || len(scope) == 0 {
			d(" no scope")
			scope = nil
		}
		for i, list := range scope {
			var names []string
			for _, x := range list {
				names = append(names, x.DisplayName(ns.cfg.Progname))
			}
			d(fmt.Sprintf(" scope %d: %s", i, strings.Join(names, " ")))
		}
		d("")
	}
}
