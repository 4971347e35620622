// Package lookup finds the definition a symbol reference binds to, with
// the rules of glibc's _dl_lookup_symbol_x: the scope searched in order,
// each object through its GNU hash table (Bloom filter first) or its SysV
// table, symbol versions matched by name and hash, hidden versions only by
// exact reference, weak definitions taken as they come, STB_GNU_UNIQUE
// symbols shared through one table, COPY relocations looking past the
// executable, and the special cases of protected symbols.
//
// The analysis commands and the run-time linker both call Symbol; there
// is no other implementation of these rules.
package lookup

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/object"
)

// Class is a relocation's lookup class (glibc's ELF_RTYPE_CLASS_*).
type Class int

const (
	// ClassPLT: a function reference through the PLT or a TLS
	// reference; an undefined symbol with a value (a PLT address in the
	// executable) is not a definition for it.
	ClassPLT Class = 1
	// ClassCopy: a COPY relocation, whose definition must come from
	// outside the executable.
	ClassCopy Class = 2
)

// Flags change how a lookup is done.
type Flags int

const (
	// ReturnNewest makes an unversioned lookup take a symbol's default
	// version even when it is not the oldest (dlsym does this).
	ReturnNewest Flags = 1 << iota
	// AddDependency records that the referencing object now depends on
	// the dlopen'ed object that defines the symbol.
	AddDependency
)

// Request is one symbol reference to resolve.
type Request struct {
	Hash object.Hash
	// Ref is the referencing symbol and RefIndex its index in RefMap;
	// Ref is nil for a lookup by name (dlsym).
	Ref      *object.Sym
	RefIndex uint32
	RefMap   *linkmap.Map
	// Version is the version the reference asks for, or nil.
	Version *object.Version
	Class   Class
	Flags   Flags
	// Skip starts the search after this object in the first scope, and
	// never considers it (RTLD_NEXT).
	Skip *linkmap.Map
	// partial marks a reference whose name and version are read from
	// RefMap only when needed (see ReferenceRequest).
	partial bool
}

// ReferenceRequest makes req the lookup of m's reference ref (its symbol
// idx) in class. The name and the version it asks for are read when a
// search or a report needs them: a binding replayed from a record needs
// neither.
func ReferenceRequest(req *Request, m *linkmap.Map, idx uint32, ref *object.Sym, class Class) {
	*req = Request{Ref: ref, RefIndex: idx, RefMap: m, Class: class, Flags: AddDependency, partial: true}
}

// complete reads the name and version of a partial request.
func (r *Request) complete() {
	if !r.partial {
		return
	}
	r.partial = false
	r.Hash = object.LazyHash(r.RefMap.Obj.SymbolName(r.RefIndex))
	if v, _ := r.RefMap.Obj.SymbolVersion(r.RefIndex); v != nil {
		r.Version = v
	}
}

// Result is the definition a reference binds to. Map is nil when none was
// found (only for weak references, which then resolve to zero).
type Result struct {
	Map   *linkmap.Map
	Index uint32
	Sym   object.Sym
	// Protected is set when the reference is to a protected symbol; glibc
	// then calls it a "protected symbol" in its bindings trace.
	Protected bool
}

// UndefinedError is a strong reference with no definition.
type UndefinedError struct {
	Ref     *linkmap.Map
	Name    string
	Version string
}

func (e *UndefinedError) Error() string {
	if e.Version != "" {
		return fmt.Sprintf("undefined symbol: %s, version %s", e.Name, e.Version)
	}
	return "undefined symbol: " + e.Name
}

// Binding is what a successful lookup reports to a tracer: glibc's
// LD_DEBUG=bindings line.
type Binding struct {
	Ref, Def  *linkmap.Map
	Name      string
	Version   *object.Version
	Protected bool
}

// BindingLine is a binding as glibc's LD_DEBUG=bindings prints it, without
// the pid column: the objects named as glibc names them.
func BindingLine(ref, def, name, version string, protected bool) string {
	kind := "normal"
	if protected {
		kind = "protected"
	}
	line := "binding file " + ref + " [0] to " + def + " [0]: " + kind + " symbol `" + name + "'"
	if version != "" {
		line += " [" + version + "]"
	}
	return line
}

// Linker holds the state lookups share within one namespace.
type Linker struct {
	unique map[string]uniqueDef
	// OnBind, if set, sees every successful lookup.
	OnBind func(Binding)
	// OnSearch, if set, sees every object a lookup searches
	// (LD_DEBUG=symbols).
	OnSearch func(name string, m *linkmap.Map)
	// OnStep, if set, sees every step of every lookup (ldgo why): each
	// object of the scope and each symbol of the name considered, and
	// why it was taken or passed over.
	OnStep func(Step)
	// Warn, if set, receives glibc's warnings (protected symbols).
	Warn func(format string, args ...any)
	// Lookups counts calls of Symbol (glibc's "number of relocations").
	Lookups uint64
	// Searched counts the objects this Linker's lookups looked in: a
	// binding replayed from a record looks in none, even when OnSearch
	// is shown the search it stands for.
	Searched uint64

	scopeIDs    map[scopeKey]uint32
	filters     [][][]filter // by scope id: its searchlists' Bloom filters
	lastScope   scopeKey
	lastScopeID uint32

	// helper marks a Linker made by Helper; deferred, that its last
	// lookup's answer depends on state it does not share.
	helper, deferred bool

	// Recording, when set, makes Record receive what every symbol
	// reference of a relocation bound to, in the order of the
	// relocations (see Remember).
	Recording bool
	Record    Record
	// Replay, when not empty, is the record of a run over the same
	// objects, whose relocations come in the same order: Next gives
	// what each bound to, and Rebind makes that the answer without a
	// search. Maps gives the objects by serial (Maps[serial]). The
	// record is trusted as far as its key (the identity of every
	// object) goes; an answer naming an object or symbol that is not
	// there is not: the reference is then looked up.
	Replay   Record
	Maps     []*linkmap.Map
	Replayed uint64 // references answered from Replay
	cursor   int
}

// Helper returns a Linker for lookups made on another goroutine while l
// goes on with its own: it shares none of l's state, reports nothing,
// and marks nothing used. A lookup whose answer would depend on l's state
// is not to be trusted, and Deferred says so: one that meets a
// STB_GNU_UNIQUE definition (l's table of them decides) or a protected
// one (its warnings depend on who asks). Its answers become l's with
// Adopt, in the order l would have made the lookups.
func (l *Linker) Helper() *Linker { return &Linker{helper: true} }

// Deferred reports whether the last lookup of a Helper must be made again
// by the Linker it helps, and clears the mark.
func (l *Linker) Deferred() bool {
	d := l.deferred
	l.deferred = false
	return d
}

// Adopt makes res, or err, the answer of req, found by a Helper, as if l
// had looked it up with Symbol: counted, and the binding reported and its
// object marked used.
func (l *Linker) Adopt(req *Request, res *Result, err error) {
	l.Lookups++
	if err == nil && res.Map != nil {
		l.bound(req, *res)
	}
}

// A Record holds bindings, RecordSize bytes each, in the order of the
// relocations that made them; it is kept as it is stored (bindcache), so
// that a replay decodes only the fields it uses. A binding names the
// reference by the relocation that makes it: the referencing object's
// serial, the symbol's index and the link-time address of the
// relocation entry. Then comes what it bound to: the defining object's
// serial (0: nothing, a weak reference resolved to zero) and symbol
// index, the symbol's value and size, its info byte, how it was found,
// whether it is protected, and its section index.
type Record []byte

// RecordSize is the size of one binding in a Record.
const RecordSize = 48

// Len returns the number of bindings.
func (r Record) Len() int { return len(r) / RecordSize }

// RefKey names a symbol reference by the relocation that makes it.
type RefKey struct {
	Ref   uint32 // the referencing object's serial
	Sym   uint32
	Entry uint64 // the link-time address of the relocation entry
}

// How says how a relocation found its definition; a replay accounts for
// it the same way.
type How uint8

const (
	// Searched: a lookup in the scope (counted, and traced by OnBind).
	Searched How = iota
	// Remembered: the referencing object's one-entry cache (glibc's
	// l_lookup_cache) had the answer.
	Remembered
	// Own: a local or hidden reference, bound in its own object.
	Own
)

// Remember records that the reference k bound to res (nil Map: to
// nothing), found as how says. Objects are told apart by serials that
// fit in 32 bits; a run with more stops recording.
func (l *Linker) Remember(k RefKey, how How, res *Result) {
	var b [RecordSize]byte
	le.PutUint32(b[0:], k.Ref)
	le.PutUint32(b[4:], k.Sym)
	le.PutUint64(b[8:], k.Entry)
	if m := res.Map; m != nil {
		if m.Serial > math.MaxUint32 {
			l.Recording, l.Record = false, nil
			return
		}
		le.PutUint32(b[16:], uint32(m.Serial))
		le.PutUint32(b[20:], res.Index)
		le.PutUint64(b[24:], res.Sym.Value)
		le.PutUint64(b[32:], res.Sym.Size)
		b[40] = res.Sym.Info
		le.PutUint16(b[44:], uint16(res.Sym.Shndx))
	}
	b[41] = byte(how)
	if res.Protected {
		b[42] = 1
	}
	l.Record = append(l.Record, b[:]...)
}

// Next returns the recorded binding of the reference k, as its offset in
// Replay. The relocations come in the order they were recorded; a record
// out of step is looked for a little further on.
func (l *Linker) Next(k RefKey) (int, bool) {
	for i, n := l.cursor, 0; i+RecordSize <= len(l.Replay) && n < 8; i, n = i+RecordSize, n+1 {
		b := l.Replay[i : i+RecordSize]
		if le.Uint64(b) == uint64(k.Ref)|uint64(k.Sym)<<32 && le.Uint64(b[8:]) == k.Entry {
			l.cursor = i + RecordSize
			return i, true
		}
	}
	return 0, false
}

// Rebind makes the binding at offset at of Replay, recorded for refMap's
// reference to its symbol refIdx, looked up in scope, the answer in res,
// as a search that found it would: counted, traced, and a unique symbol
// registered. It reports false when the binding names no symbol that is
// there. (res is filled in place: a Result copied whole is slow to read
// back.)
func (l *Linker) Rebind(scope [][]*linkmap.Map, refMap *linkmap.Map, refIdx uint32, class Class, at int, res *Result) (How, bool) {
	b := l.Replay[at : at+RecordSize]
	how := How(b[41])
	res.Map = nil
	if def := le.Uint32(b[16:]); def != 0 {
		if uint64(def) >= uint64(len(l.Maps)) {
			return how, false
		}
		m := l.Maps[def]
		idx := le.Uint32(b[20:])
		if m == nil || m.Obj == nil || int(idx) >= m.Obj.NumSymbols() {
			return how, false
		}
		res.Sym.Name, res.Sym.Other = 0, 0
		res.Sym.Info, res.Sym.Shndx = b[40], elf.SectionIndex(le.Uint16(b[44:]))
		res.Sym.Value, res.Sym.Size = le.Uint64(b[24:]), le.Uint64(b[32:])
		if res.Sym.Shndx == elf.SHN_UNDEF && res.Sym.Value == 0 {
			return how, false
		}
		res.Map, res.Index, res.Protected = m, idx, b[42] != 0
	}
	l.Replayed++
	if how != Searched {
		return how, true
	}
	l.Lookups++
	if l.OnSearch != nil {
		l.traceSearch(scope, refMap, refIdx, class)
	}
	if res.Map == nil {
		return how, true
	}
	if res.Map.Kind != linkmap.Loaded && l.OnBind == nil && res.Sym.Bind() != stbGNUUnique {
		// All that bound does here.
		res.Map.Used = true
		return how, true
	}
	var req Request
	ReferenceRequest(&req, refMap, refIdx, nil, class)
	if res.Sym.Bind() == stbGNUUnique {
		req.complete()
		if _, ok := l.unique[req.Hash.Name]; !ok {
			if l.unique == nil {
				l.unique = map[string]uniqueDef{}
			}
			l.unique[req.Hash.Name] = uniqueDef{res.Map, res.Index, res.Sym}
		}
	}
	l.bound(&req, *res)
	return how, true
}

// traceSearch shows OnSearch every object the search that a replayed
// binding stands for looks in: the search is made again, by a Helper
// that reports nothing else and whose answer is dropped. Where a search
// stops is not where its answer is defined (a unique symbol's answer is
// the first definition registered, a protected one's its own object,
// after a second search), so walking the scope up to the definition
// would not say it; only the lookup can, and this is the lookup's own
// code. Only LD_DEBUG=symbols pays for it.
func (l *Linker) traceSearch(scope [][]*linkmap.Map, refMap *linkmap.Map, refIdx uint32, class Class) {
	h := Linker{helper: true, OnSearch: l.OnSearch}
	ref := refMap.Obj.Symbol(refIdx)
	var req Request
	ReferenceRequest(&req, refMap, refIdx, &ref, class)
	h.Symbol(scope, &req)
}

// scopeKey tells scopes apart by their searchlists' first and last
// elements and lengths: a searchlist that grows (RTLD_GLOBAL) makes a new
// scope.
type scopeKey struct {
	first, last [3]*linkmap.Map
	lens        [3]int
}

// Forget drops the scopes laid out for searches: objects have left the
// namespace.
func (l *Linker) Forget() {
	l.scopeIDs, l.lastScope, l.filters = nil, scopeKey{}, nil
}

// filter is one object of a searchlist as the search first meets it: its
// Bloom filter at hand, without a walk through its link map and object.
// Most objects of a scope are passed over on this test alone.
type filter struct {
	words       []byte // nil: no GNU hash table, the object is searched
	mask, shift uint32
	empty       bool // a GNU hash table that hashes nothing
	m           *linkmap.Map
}

// scopeFilters returns the filters of the searchlists of scope, whose
// interned id is id, laid out once per scope.
func (l *Linker) scopeFilters(scope [][]*linkmap.Map, id uint32) [][]filter {
	for int(id) >= len(l.filters) {
		l.filters = append(l.filters, nil)
	}
	if f := l.filters[id]; f != nil {
		return f
	}
	f := make([][]filter, len(scope))
	for i, list := range scope {
		f[i] = make([]filter, len(list))
		for j, m := range list {
			e := filter{m: m}
			if m.Obj != nil {
				var ok bool
				e.words, e.mask, e.shift, ok = m.Obj.BloomFilter()
				e.empty = ok && e.words == nil
			}
			f[i][j] = e
		}
	}
	l.filters[id] = f
	return f
}

// searchFiltered is searchList over a searchlist's filters.
func (l *Linker) searchFiltered(list []filter, req *Request, res *Result) bool {
	h := req.Hash.GNU
	for i := range list {
		e := &list[i]
		if e.words != nil {
			if !object.BloomTest(e.words, e.mask, e.shift, h) {
				continue
			}
		} else if e.empty {
			continue
		}
		if l.searchObject(e.m, req, req.Class, req.RefMap, res) {
			return true
		}
	}
	return false
}

// scopeID returns the interned id of scope, and whether its searches may
// go through its filters: not for RTLD_NEXT, not while every searched
// object is being reported, not for scopes of more than three
// searchlists.
func (l *Linker) scopeID(scope [][]*linkmap.Map, req *Request) (uint32, bool) {
	if req.Skip != nil || l.OnSearch != nil || l.OnStep != nil || len(scope) > 3 {
		return 0, false
	}
	var sk scopeKey
	for i, list := range scope {
		if len(list) > 0 {
			sk.first[i], sk.last[i] = list[0], list[len(list)-1]
			sk.lens[i] = len(list)
		}
	}
	// Lookups come object by object: the scope is most often the last.
	if sk == l.lastScope && l.scopeIDs != nil {
		return l.lastScopeID, true
	}
	id, ok := l.scopeIDs[sk]
	if !ok {
		if l.scopeIDs == nil {
			l.scopeIDs = map[scopeKey]uint32{}
		}
		id = uint32(len(l.scopeIDs))
		l.scopeIDs[sk] = id
	}
	l.lastScope, l.lastScopeID = sk, id
	return id, true
}

type uniqueDef struct {
	m   *linkmap.Map
	idx uint32
	sym object.Sym
}

// Symbol looks req up in scope, a list of searchlists searched in order.
func (l *Linker) Symbol(scope [][]*linkmap.Map, req *Request) (Result, error) {
	l.Lookups++
	if req.partial {
		if err := req.RefMap.Obj.CheckSymbolName(req.RefIndex); err != nil {
			return Result{}, err
		}
	}
	req.complete()
	if l.OnStep != nil {
		l.step(StepBegin, req, nil, 0)
	}
	return l.search(scope, req)
}

// search is the lookup itself. Every reference is searched, as glibc
// searches it: answers are not kept across objects. A search is bound by
// cache misses (a Bloom filter word per object passed over, then the
// bucket, chain, symbol and name of each candidate); a table of past
// answers large enough to help misses as often, and measured as a loss:
// a hit cost about as much as the search it saved.
func (l *Linker) search(scope [][]*linkmap.Map, req *Request) (Result, error) {
	start := 0
	if req.Skip != nil && len(scope) > 0 {
		for start < len(scope[0]) && scope[0][start] != req.Skip {
			start++
		}
	}
	var res Result
	found := false
	req.Hash.Fill()
	if id, ok := l.scopeID(scope, req); ok {
		for _, list := range l.scopeFilters(scope, id) {
			if l.searchFiltered(list, req, &res) {
				found = true
				break
			}
		}
	} else {
		for i, list := range scope {
			from := 0
			if i == 0 {
				from = start
			}
			if l.searchList(list, from, req, req.Class, req.RefMap, &res) {
				found = true
				break
			}
		}
	}
	if !found && res.Map == nil {
		if l.OnStep != nil {
			l.step(StepUnresolved, req, nil, 0)
		}
		if req.Ref == nil || req.Ref.Bind() != elf.STB_WEAK {
			e := &UndefinedError{Ref: req.RefMap, Name: req.Hash.Name}
			if req.Version != nil {
				e.Version = req.Version.Name
			}
			return Result{}, e
		}
		return Result{}, nil
	}

	if req.Ref != nil && req.Ref.Visibility() == elf.STV_PROTECTED {
		res.Protected = true
		// A protected symbol binds to its own object when that object
		// defines it; which definition the search finds decides how.
		if req.Class == ClassPLT {
			if res.Map != req.RefMap {
				res = Result{Map: req.RefMap, Index: req.RefIndex, Sym: *req.Ref, Protected: true}
			}
		} else {
			var pv Result
			if l.OnStep != nil {
				l.step(StepProtectedCheck, req, req.RefMap, req.RefIndex)
			}
			for i, list := range scope {
				from := 0
				if i == 0 {
					from = start
				}
				if l.searchList(list, from, req, ClassPLT, nil, &pv) {
					break
				}
			}
			if pv.Map != nil && pv.Map != req.RefMap {
				res = Result{Map: req.RefMap, Index: req.RefIndex, Sym: *req.Ref, Protected: true}
			}
		}
		if l.OnStep != nil && res.Map == req.RefMap && res.Index == req.RefIndex {
			l.step(StepProtected, req, res.Map, res.Index)
		}
	}
	if l.OnStep != nil {
		l.step(StepBound, req, res.Map, res.Index)
	}

	l.bound(req, res)
	return res, nil
}

// bound is what follows a binding, searched or replayed: the dependency
// it creates on a dlopen'ed object, and the report of it.
func (l *Linker) bound(req *Request, res Result) {
	if l.helper {
		return
	}
	if res.Map.Kind == linkmap.Loaded && req.Flags&AddDependency != 0 && req.RefMap != nil {
		addDependency(req.RefMap, res.Map)
	}
	res.Map.Used = true
	if l.OnBind != nil {
		req.complete()
		l.OnBind(Binding{Ref: req.RefMap, Def: res.Map, Name: req.Hash.Name, Version: req.Version, Protected: res.Protected})
	}
}

// searchList is glibc's do_lookup_x over one searchlist from index from.
// It reports whether the search is over (a definition was taken).
func (l *Linker) searchList(list []*linkmap.Map, from int, req *Request, class Class, refMap *linkmap.Map, res *Result) bool {
	for _, m := range list[from:] {
		if l.searchObject(m, req, class, refMap, res) {
			return true
		}
	}
	return false
}

// searchObject is one object's part of searchList.
func (l *Linker) searchObject(m *linkmap.Map, req *Request, class Class, refMap *linkmap.Map, res *Result) bool {
	if m == req.Skip || m.Removed || m.Faked {
		return false
	}
	if class&ClassCopy != 0 && m.Kind == linkmap.Executable {
		if l.OnStep != nil {
			l.step(StepCopySkipsExecutable, req, m, 0)
		}
		return false
	}
	l.Searched++
	if l.OnSearch != nil {
		l.OnSearch(req.Hash.Name, m)
	}
	obj := m.Obj
	if !obj.HasHashTable() || !obj.MayDefine(&req.Hash) {
		if l.OnStep != nil {
			l.step(filteredStep(obj), req, m, 0)
		}
		return false
	}
	var (
		hit         bool
		idx         uint32
		numVersions int
		versioned   uint32
		considered  int
	)
	obj.Candidates(&req.Hash, func(i uint32) bool {
		verdict := match(obj, i, req, class, &numVersions, &versioned)
		if l.OnStep != nil {
			considered++
			l.step(verdict, req, m, i)
		}
		if verdict == StepMatch {
			hit, idx = true, i
			return false
		}
		return true
	})
	if !hit && numVersions == 1 {
		// One versioned definition of an unversioned reference: no
		// ambiguity, take it.
		hit, idx = true, versioned
		if l.OnStep != nil {
			l.step(StepOnlyVersion, req, m, idx)
		}
	}
	if !hit {
		if l.OnStep != nil && considered == 0 {
			l.step(StepNoSuchName, req, m, 0)
		}
		return false
	}
	sym := obj.Symbol(idx)
	if v := sym.Visibility(); v == elf.STV_HIDDEN || v == elf.STV_INTERNAL {
		if l.OnStep != nil {
			l.step(StepHidden, req, m, idx)
		}
		return false
	}
	if sym.Visibility() == elf.STV_PROTECTED {
		if l.helper {
			l.deferred = true
		} else {
			l.checkProtected(req, class, refMap, m)
		}
	}
	switch sym.Bind() {
	case elf.STB_WEAK, elf.STB_GLOBAL:
		*res = Result{Map: m, Index: idx, Sym: sym}
		if l.OnStep != nil {
			l.step(StepTaken, req, m, idx)
		}
		return true
	case stbGNUUnique:
		*res = l.uniqueLookup(req, class, m, idx, sym)
		return true
	}
	// Local symbols are ignored, and so is the rest of this object.
	if l.OnStep != nil {
		l.step(StepLocal, req, m, idx)
	}
	return false
}

// filteredStep says why a search passes over obj without reading its
// hash chain.
func filteredStep(obj *object.Object) StepKind {
	if !obj.HasHashTable() {
		return StepNoHashTable
	}
	return StepFiltered
}

// match is glibc's check_match for symbol i of obj: StepMatch, or the
// step that says why the symbol does not match.
func match(obj *object.Object, i uint32, req *Request, class Class, numVersions *int, versioned *uint32) StepKind {
	sym := obj.Symbol(i)
	stt := sym.Type()
	if sym.Value == 0 && sym.Shndx != elf.SHN_ABS && stt != elf.STT_TLS {
		return StepUndefined
	}
	if class&ClassPLT != 0 && sym.Shndx == elf.SHN_UNDEF {
		return StepPLTAddress
	}
	switch stt {
	case elf.STT_NOTYPE, elf.STT_OBJECT, elf.STT_FUNC, elf.STT_COMMON, elf.STT_TLS, elf.STT_GNU_IFUNC:
	default:
		return StepWrongType
	}
	if !obj.HasVersym() {
		return StepMatch
	}
	vs := obj.Versym(i)
	if req.Version != nil {
		ndx := int(vs & 0x7fff)
		var def object.Version
		if ndx < len(obj.Versions) {
			def = obj.Versions[ndx]
		}
		if (def.Hash != req.Version.Hash || def.Name != req.Version.Name) &&
			(req.Version.Hidden || def.Hash != 0 || vs&object.VersymHidden != 0) {
			return StepOtherVersion
		}
		return StepMatch
	}
	// An unversioned reference takes an unversioned or base-version
	// definition at once; other versions count, and one non-hidden
	// version alone is taken if nothing better turns up.
	limit := uint16(3)
	if req.Flags&ReturnNewest != 0 {
		limit = 2
	}
	if vs&0x7fff >= limit {
		if vs&object.VersymHidden != 0 {
			return StepHiddenVersion
		}
		if *numVersions == 0 {
			*versioned = i
		}
		*numVersions++
		return StepNewerVersion
	}
	return StepMatch
}

func (l *Linker) uniqueLookup(req *Request, class Class, m *linkmap.Map, idx uint32, sym object.Sym) Result {
	if l.helper {
		l.deferred = true
		if l.OnStep != nil {
			l.step(StepTaken, req, m, idx)
		}
		return Result{Map: m, Index: idx, Sym: sym}
	}
	if l.unique == nil {
		l.unique = make(map[string]uniqueDef)
	}
	name := req.Hash.Name
	if u, ok := l.unique[name]; ok {
		if class&ClassCopy != 0 {
			// The central copy may need initialising from the
			// definition the COPY relocation reads.
			if l.OnStep != nil {
				l.step(StepUniqueCopy, req, m, idx)
			}
			return Result{Map: m, Index: idx, Sym: sym}
		}
		if l.OnStep != nil {
			l.OnStep(Step{Kind: StepUniqueFromTable, Req: req, Map: m, Index: idx, Def: u.m, DefIndex: u.idx})
		}
		return Result{Map: u.m, Index: u.idx, Sym: u.sym}
	}
	if l.OnStep != nil {
		kind := StepUniqueRegistered
		if class&ClassCopy != 0 {
			kind = StepUniqueCopy
		}
		l.step(kind, req, m, idx)
	}
	if class&ClassCopy != 0 && req.Ref != nil {
		// The executable's copy becomes the one definition.
		l.unique[name] = uniqueDef{req.RefMap, req.RefIndex, *req.Ref}
	} else {
		l.unique[name] = uniqueDef{m, idx, sym}
		if m.Kind == linkmap.Loaded {
			m.NoDelete = true
		}
	}
	return Result{Map: m, Index: idx, Sym: sym}
}

func (l *Linker) checkProtected(req *Request, class Class, refMap, def *linkmap.Map) {
	if refMap == nil || refMap.Kind != linkmap.Executable || l.Warn == nil || req.Ref == nil {
		return
	}
	switch {
	case class&ClassCopy != 0:
		l.Warn("warning: copy relocation against non-copyable protected symbol `%s' in `%s'\n", req.Hash.Name, def.Name)
	case class&ClassPLT != 0 && req.Ref.Value != 0 && req.Ref.Shndx == elf.SHN_UNDEF:
		l.Warn("warning: direct reference to protected function `%s' in `%s' may break pointer equality\n", req.Hash.Name, def.Name)
	}
}

// addDependency records that ref binds into the dlopen'ed def, so def is
// not unloaded before ref (glibc's add_dependency).
func addDependency(ref, def *linkmap.Map) {
	if ref == def || def.NoDelete {
		return
	}
	for _, m := range ref.Initfini {
		if m == def {
			return
		}
	}
	for _, m := range ref.Needed {
		if m == def {
			return
		}
	}
	for _, m := range ref.Reldeps {
		if m == def {
			return
		}
	}
	if ref.Kind != linkmap.Loaded {
		// An object that is never unloaded pins what it binds to.
		def.NoDelete = true
		return
	}
	ref.Reldeps = append(ref.Reldeps, def)
}

var le = binary.LittleEndian

// stbGNUUnique is STB_GNU_UNIQUE, which debug/elf does not name.
const stbGNUUnique elf.SymBind = 10

// Definitions returns the addresses at which m defines each of names,
// every version of each, found through m's hash table: for names
// the start itself gives values (libc's __progname, the functions ldgo
// provides instead of libc's), not for references, which Symbol binds.
func Definitions(m *linkmap.Map, names ...string) map[string][]uint64 {
	out := map[string][]uint64{}
	o := m.Obj
	for _, n := range names {
		h := object.NewHash(n)
		o.Candidates(&h, func(i uint32) bool {
			if s := o.Symbol(i); s.Shndx != elf.SHN_UNDEF && s.Value != 0 {
				out[n] = append(out[n], m.Base+s.Value)
			}
			return true
		})
	}
	return out
}
