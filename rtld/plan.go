package rtld

import (
	"fmt"
	"os"
	"slices"

	"github.com/ldgo/ldgo/analyze"
	"github.com/ldgo/ldgo/bindcache"
	"github.com/ldgo/ldgo/host"
	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/namespace"
	"github.com/ldgo/ldgo/object"
	"github.com/ldgo/ldgo/plan"
)

// relocateByPlan relocates the objects namespace.Open loaded and mapped
// by carrying out the program's launch plan with the executor
// (host.ExecPlan) instead of the engine's relocation pass, when
// LDGO_PLAN=exec asks for it: the first step of one way to start a
// program, engine → plan → executor. The plan is the one kept, if it is
// still valid, or one made now from the files (analyze.Plan) and kept
// (launchPlan). It reports whether it relocated; when it did not,
// nothing was written, and --debug statistics says why. What the plan
// does not carry (LD_DEBUG's lookups, the bind cache, auditing, --calls,
// the lazy category's stories) keeps the engine's path.
func (p *Process) relocateByPlan(ns *namespace.Namespace, opts *Options, prog string, auditing bool, debugLine func(string)) (bool, error) {
	if opts.Plan != "exec" {
		return false, nil
	}
	say := func(format string, args ...any) {
		if opts.Debug.Statistics {
			debugLine(fmt.Sprintf("ldgo: launch plan: "+format, args...))
		}
	}
	switch {
	case auditing, opts.Calls != nil, p.trace.on(), p.traceLazy:
		say("not used: auditing, --calls and LD_DEBUG's lookups need the engine")
		return false, nil
	}
	maps := plan.Maps(ns)
	pl, how, err := launchPlan(opts, prog, maps)
	if err != nil {
		say("not made: %v", err)
		return false, nil
	}
	if len(maps) != len(pl.Objects) {
		say("not used: %d objects loaded, %d in the plan", len(maps), len(pl.Objects))
		return false, nil
	}
	ep := &host.Plan{Writes: make([]host.PlanWrite, 0, len(pl.Writes)), Lazy: make([]host.PlanLazy, 0, len(pl.Lazy))}
	for i, m := range maps {
		o := &pl.Objects[i]
		if (i == 0) != (m == ns.Main) || i > 0 && o.Path != m.Name {
			say("not used: object %d is %s, the plan's %s", i, m.Name, o.Path)
			return false, nil
		}
		if o.TextRel {
			say("not used: %s has text relocations", m.Name)
			return false, nil
		}
		adopted := m.Adopted || m.Vdso || m.Rtld
		eo := host.PlanObject{Base: m.Base, TLSOffset: m.TLSOffset, TLSModID: m.TLSModID, Adopted: adopted}
		if adopted {
			if r := m.Obj.Relro; r.Size > 0 {
				eo.RelroLo, eo.RelroHi = pageDown(m.Base+r.Addr), pageDown(m.Base+r.Addr+r.Size)
			}
		} else if o.Lazy {
			if m.Obj.Dyn.PLTGot == 0 {
				return false, fmt.Errorf("%s: lazy binding needs DT_PLTGOT", m.Name)
			}
			l := host.NewLazy(namespace.PLTSlots(m))
			p.lazy[m] = l
			p.order = append(p.order, m)
			eo.Lazy, eo.PLTGot = &l, m.Obj.Dyn.PLTGot
		}
		ep.Objects = append(ep.Objects, eo)
	}
	target := func(t plan.Target) host.PlanTarget {
		return host.PlanTarget{Kind: uint64(t.Kind), Object: uint64(t.Object), Off: t.Off}
	}
	for _, w := range pl.Writes {
		ep.Writes = append(ep.Writes, host.PlanWrite{Object: uint64(w.Object), Off: w.Off, Value: target(w.Value)})
	}
	for _, l := range pl.Lazy {
		if l.Target.Kind == plan.Unresolved {
			if lt := ep.Objects[l.Object].Lazy; lt != nil {
				lt.SetError(int(l.Slot), l.Err+"\n")
			}
		}
		ep.Lazy = append(ep.Lazy, host.PlanLazy{Object: uint64(l.Object), Slot: uint64(l.Slot), Off: l.Off, Target: target(l.Target)})
	}
	for from, to := range p.subst.m {
		ep.Subst = append(ep.Subst, [2]uint64{from, to})
	}
	slices.SortFunc(ep.Subst, func(a, b [2]uint64) int {
		switch {
		case a[0] < b[0]:
			return -1
		case a[0] > b[0]:
			return 1
		}
		return 0
	})
	n, err := host.ExecPlan(ep)
	if err != nil {
		return false, fmt.Errorf("%s: ldgo run: the launch plan's executor: %v", prog, err)
	}
	for _, w := range pl.Warnings {
		if !w.Verbose || opts.Warn {
			os.Stderr.WriteString(w.Msg + "\n")
		}
	}
	p.relroLater = true
	for i, m := range maps {
		if ep.Objects[i].Adopted {
			continue
		}
		m.Relocated = true
		if err := p.Relocated(m); err != nil {
			return false, err
		}
	}
	say("executed (%s): %d objects, %d words written, %d lazy slots", how, len(maps), n, len(pl.Lazy))
	return true, nil
}

// launchPlan is the program's launch plan: the one kept in
// opts.PlanDir if it is valid for the objects loaded (maps, in the plan's
// order), or else one made now and kept for next time. how says which,
// and why a kept one was not used.
func launchPlan(opts *Options, prog string, maps []*linkmap.Map) (*plan.Plan, string, error) {
	abs, err := analyze.AbsProgram(opts.Path)
	if err != nil {
		return nil, "", err
	}
	search, err := bindcache.Settings(opts.LibraryPath, opts.Preload, opts.InhibitCache, opts.BindNow)
	if err != nil {
		return nil, "", err
	}
	how := "made: no plan directory"
	if opts.PlanDir != "" {
		pl, err := plan.Load(opts.PlanDir, abs)
		if err == nil && len(pl.Objects) != len(maps) {
			err = fmt.Errorf("%d objects in the plan, %d loaded", len(pl.Objects), len(maps))
		}
		if err == nil {
			err = plan.CheckIdentities(pl, search, func(i int) (object.Identity, error) { return identityOf(maps[i]) })
		}
		if err == nil && pl.Unresolved() && pl.Progname != prog {
			err = fmt.Errorf("its messages name the program %s", pl.Progname)
		}
		if err == nil {
			return pl, "kept", nil
		}
		how = "made: " + err.Error()
	}
	pl, err := analyze.Plan(opts.Path, analyze.PlanOptions{BindNow: opts.BindNow, Options: analyze.Options{
		LibraryPath: opts.LibraryPath, LibraryPathWhat: opts.LibraryPathWhat,
		Preload: opts.Preload, PreloadWhat: opts.PreloadWhat,
		InhibitCache: opts.InhibitCache, Progname: prog,
	}})
	if err != nil {
		return nil, "", err
	}
	if opts.PlanDir != "" {
		if _, err := plan.Store(opts.PlanDir, pl); err != nil {
			how += "; not kept: " + err.Error()
		}
	}
	return pl, how, nil
}

// The executor numbers the kinds as package plan does (host.h's
// LDGO_PLAN_*, eight of them): this fails to compile when they part.
const _ = uint(plan.NumTargetKinds-8) + uint(8-plan.NumTargetKinds)
