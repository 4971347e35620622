package namespace

import (
	"debug/elf"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/lookup"
)

// A cold start with lazy binding spends much of its time looking up what
// every PLT slot will bind to (the answers are ready before the program
// runs, so that a first call costs no lookup). Those lookups depend on
// nothing relocation does, so they can be made ahead, on a second
// goroutine, while the objects are being relocated. Each goroutine
// searches with a lookup.Helper; Fixup then takes the answers in slot
// order, as it would have made them, so that counts, reports and the bind
// record come out the same.
//
// The relocations' own lookups stay on the main goroutine. Handing half
// of them to the second one was tried: the main goroutine then searched
// half as often yet finished later, and each lookup of the second one
// cost twice as much, with seven times the TLB shootdowns. The two
// interfere while both run; the PLT lookups, done early in the
// relocation, leave the second goroutine idle for the rest of it.

// slotsPerChunk is how many slots a goroutine takes at a time.
const slotsPerChunk = 128

// minLookahead is the fewest slots worth a second goroutine.
const minLookahead = 256

type slotChunk struct {
	m        *linkmap.Map
	from, to int
}

// slotAnswer is a PLT slot's lookup made ahead.
type slotAnswer struct {
	res   lookup.Result
	err   error
	state uint8
}

const (
	slotPending  = iota // not looked up ahead: Fixup searches
	slotAnswered        // res and err are the answer
	slotDeferred        // the helper could not answer alone: Fixup searches
)

// lookahead is the work and the answers of LookAhead.
type lookahead struct {
	answers map[*linkmap.Map][]slotAnswer
	chunks  []slotChunk
	next    atomic.Int64
	done    sync.WaitGroup
}

// LookAhead starts looking up, on a second goroutine, what the PLT slots
// that RelocateAll with opts will leave for lazy binding bind to, and
// returns at once; FinishLookAhead ends it. It does nothing when there
// are few slots, one CPU, or a trace of every searched object to print
// (LD_DEBUG=symbols), which only the lookups themselves can give in
// order.
func (ns *Namespace) LookAhead(opts RelocOptions) {
	if ns.Linker.OnSearch != nil || len(ns.Linker.Replay) > 0 || runtime.GOMAXPROCS(0) < 2 {
		return
	}
	a := &lookahead{answers: map[*linkmap.Map][]slotAnswer{}}
	total := 0
	for _, m := range ns.Main.Initfini {
		if !relocatable(m) || !opts.BindsLazily(m) {
			continue
		}
		n := PLTSlots(m)
		if n == 0 {
			continue
		}
		a.answers[m] = make([]slotAnswer, n)
		for from := 0; from < n; from += slotsPerChunk {
			a.chunks = append(a.chunks, slotChunk{m, from, min(from+slotsPerChunk, n)})
		}
		total += n
	}
	if total < minLookahead {
		return
	}
	ns.ahead = a
	a.done.Add(1)
	go func() {
		defer a.done.Done()
		a.work(ns.Linker.Helper())
	}()
}

// FinishLookAhead has the calling goroutine look up the slots not yet
// taken, and waits for the other: from then on Fixup uses the answers.
func (ns *Namespace) FinishLookAhead() {
	if a := ns.ahead; a != nil {
		a.work(ns.Linker.Helper())
		a.done.Wait()
	}
}

// LookedAhead returns how many of Fixup's lookups were made ahead.
func (ns *Namespace) LookedAhead() uint64 { return ns.lookedAhead }

// EndLookAhead drops the answers made ahead.
func (ns *Namespace) EndLookAhead() { ns.ahead = nil }

// work looks up chunks of slots until none is left.
func (a *lookahead) work(h *lookup.Linker) {
	for {
		c := a.next.Add(1) - 1
		if c >= int64(len(a.chunks)) {
			return
		}
		ch := a.chunks[c]
		m := ch.m
		tab, err := m.Obj.Relas(m.Obj.Dyn.JmpRel)
		if err != nil {
			continue
		}
		answers := a.answers[m]
		for i := ch.from; i < ch.to; i++ {
			rel := tab.At(i)
			if rel.Type != elf.R_X86_64_JMP_SLOT || uint64(rel.Sym) >= uint64(m.Obj.NumSymbols()) {
				continue
			}
			ref := m.Obj.Symbol(rel.Sym)
			var req lookup.Request
			if !slotRequest(&req, m, rel.Sym, &ref) {
				continue
			}
			res, err := h.Symbol(m.Scope, &req)
			if h.Deferred() {
				answers[i].state = slotDeferred
				continue
			}
			answers[i] = slotAnswer{res: res, err: err, state: slotAnswered}
		}
	}
}

// answer returns the answer made ahead for slot i of m, if there is one.
func (a *lookahead) answer(m *linkmap.Map, i int) (*slotAnswer, bool) {
	if a == nil {
		return nil, false
	}
	answers := a.answers[m]
	if i >= len(answers) || answers[i].state != slotAnswered {
		return nil, false
	}
	return &answers[i], true
}
