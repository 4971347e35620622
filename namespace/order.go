package namespace

import "github.com/ldgo/ldgo/linkmap"

// sortMaps orders maps so that every object comes before the objects it
// depends on (initializers then run from the end), with glibc 2.36's
// default algorithm (_dl_sort_maps_dfs): a depth-first walk from each
// object, last to first, building the reverse post-order. With forFini,
// dependencies through symbol bindings (Reldeps) count too, and a second
// pass gives DT_NEEDED links priority over them.
func sortMaps(maps []*linkmap.Map, forceFirst, forFini bool) {
	n := len(maps)
	if n == 0 {
		return
	}
	first := maps[0]
	for _, m := range maps {
		m.Mark = false
	}
	rpo := make([]*linkmap.Map, n)
	head := n
	sawReldeps := false
	var walk func(m *linkmap.Map, reldeps bool)
	walk = func(m *linkmap.Map, reldeps bool) {
		if m.Mark || m.Faked {
			return
		}
		m.Mark = true
		for _, dep := range m.Needed {
			if !dep.Mark {
				walk(dep, reldeps)
			}
		}
		if reldeps && len(m.Reldeps) > 0 {
			sawReldeps = true
			for i := len(m.Reldeps) - 1; i >= 0; i-- {
				if dep := m.Reldeps[i]; !dep.Mark {
					walk(dep, reldeps)
				}
			}
		}
		// Objects outside the list being sorted (already initialized
		// ones reached through a dependency) have no place in it.
		if head > 0 {
			head--
			rpo[head] = m
		}
	}
	for i := n - 1; i >= 0 && head > 0; i-- {
		walk(maps[i], forFini)
	}
	if forFini && sawReldeps {
		for _, m := range rpo {
			m.Mark = false
		}
		out := make([]*linkmap.Map, n)
		head = n
		rpo, out = out, rpo
		for i := n - 1; i >= 0 && head > 0; i-- {
			walk(out[i], false)
		}
		copy(maps, rpo)
		return
	}
	copy(maps, rpo)
	if forceFirst && maps[0] != first {
		i := 0
		for maps[i] != first {
			i++
		}
		copy(maps[1:i+1], maps[:i])
		maps[0] = first
	}
}
