// What a plan takes from the engine's namespace: its objects and the
// order of their initializers and finalizers.

package plan

import (
	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/namespace"
)

// InitFini lists ns's initializers and finalizers in glibc's order: the
// program's DT_PREINIT_ARRAY, then each library's DT_INIT and
// DT_INIT_ARRAY, dependencies first (_dl_init), then the program's own
// (__libc_start_main); at exit the program's DT_FINI_ARRAY (run
// backwards) and DT_FINI, then each library's, in the reverse order
// (_dl_fini). skip leaves out objects whose functions someone else runs;
// index names each object as the plan does.
func InitFini(ns *namespace.Namespace, skip func(*linkmap.Map) bool, index func(*linkmap.Map) uint32) (init, fini []Fn) {
	main := ns.Main
	if pa := main.Obj.Dyn.PreinitArray; pa.Size >= 8 {
		init = append(init, Fn{Object: index(main), Off: pa.Addr, Count: pa.Size / 8})
	}
	order := main.Initfini
	for i := len(order) - 1; i >= 0; i-- {
		if m := order[i]; m != main && !skip(m) {
			init = append(init, Inits(m, index(m))...)
		}
	}
	init = append(init, Inits(main, index(main))...)
	fini = Finis(main, index(main))
	for _, m := range order {
		if m != main && !skip(m) {
			fini = append(fini, Finis(m, index(m))...)
		}
	}
	return init, fini
}

// Inits lists m's initializers, m named i: DT_INIT, then DT_INIT_ARRAY.
func Inits(m *linkmap.Map, i uint32) []Fn {
	var fns []Fn
	d := &m.Obj.Dyn
	if d.Init != 0 {
		fns = append(fns, Fn{Object: i, Off: d.Init})
	}
	if d.InitArray.Size >= 8 {
		fns = append(fns, Fn{Object: i, Off: d.InitArray.Addr, Count: d.InitArray.Size / 8})
	}
	return fns
}

// Finis lists m's finalizers, m named i: DT_FINI_ARRAY (run backwards), then
// DT_FINI.
func Finis(m *linkmap.Map, i uint32) []Fn {
	var fns []Fn
	d := &m.Obj.Dyn
	if d.FiniArray.Size >= 8 {
		fns = append(fns, Fn{Object: i, Off: d.FiniArray.Addr, Count: d.FiniArray.Size / 8})
	}
	if d.Fini != 0 {
		fns = append(fns, Fn{Object: i, Off: d.Fini})
	}
	return fns
}

// Maps are the objects of ns a plan names, in its order: the chain's
// (load order), then the dynamic linker when nothing needs it (it is in
// the process all the same).
func Maps(ns *namespace.Namespace) []*linkmap.Map {
	var maps []*linkmap.Map
	rtld := false
	for _, m := range ns.Chain {
		if !m.Faked && m.Obj != nil {
			maps = append(maps, m)
			rtld = rtld || m == ns.Rtld
		}
	}
	if r := ns.Rtld; r != nil && !rtld && !r.Faked && r.Obj != nil {
		maps = append(maps, r)
	}
	return maps
}
