package lookup

import "github.com/ldgo/ldgo/linkmap"

// A Step is one thing a lookup did, as OnStep sees it: the lookup
// beginning, an object of the scope passed over or searched, one symbol of
// it considered and taken or rejected, and the answer. ldgo why tells a
// lookup's story from its steps, so that what it says is what the lookup
// did, not what another implementation of the rules thinks it would do.
type Step struct {
	Kind StepKind
	// Req is the lookup's request: valid during the call only.
	Req *Request
	// Map is the object the step is about: the object searched (see
	// Kind.Visits), or for StepBound and StepProtected the definition.
	Map *linkmap.Map
	// Index is the symbol of Map the step is about, for the steps
	// about a symbol (Kind.AboutSymbol).
	Index uint32
	// Def and DefIndex are, for StepUniqueFromTable, the namespace's
	// one definition: the answer.
	Def      *linkmap.Map
	DefIndex uint32
}

// StepKind says what a Step is.
type StepKind uint8

const (
	// StepBegin: a lookup of Req begins (Map is nil).
	StepBegin StepKind = iota
	// StepCopySkipsExecutable: the executable is passed over, as a COPY
	// relocation's definition must come from elsewhere.
	StepCopySkipsExecutable
	// StepNoHashTable: the object has no symbol hash table.
	StepNoHashTable
	// StepFiltered: the object's Bloom filter says it has no such name.
	StepFiltered
	// StepNoSuchName: no symbol of the object's hash chain has the name.
	StepNoSuchName

	// The steps about one symbol of the name (Index) that glibc's
	// check_match rejects.

	// StepUndefined: the symbol is a reference (no value), not a
	// definition.
	StepUndefined
	// StepPLTAddress: an undefined symbol with a value, the address of
	// the executable's PLT entry, which is no definition for a PLT
	// reference.
	StepPLTAddress
	// StepWrongType: not a data, function, common, TLS or IFUNC symbol.
	StepWrongType
	// StepOtherVersion: the reference asks for a version this symbol
	// is not.
	StepOtherVersion
	// StepHiddenVersion: a hidden version (name@V), which only a
	// reference asking for it may bind to.
	StepHiddenVersion
	// StepNewerVersion: a symbol of a version that an unversioned
	// reference takes only when the object has it in no other version
	// (StepOnlyVersion).
	StepNewerVersion

	// StepMatch: the symbol matches the reference.
	StepMatch
	// StepOnlyVersion: the object's one versioned definition of the
	// name, taken for an unversioned reference.
	StepOnlyVersion
	// StepHidden: the matching symbol has hidden or internal
	// visibility: the object is passed over.
	StepHidden
	// StepLocal: the matching symbol is local: the object is passed
	// over.
	StepLocal
	// StepTaken: the symbol (global or weak) is the definition: the
	// search is over.
	StepTaken
	// StepUniqueRegistered: the symbol is STB_GNU_UNIQUE and the first
	// of its name met: it becomes the namespace's one definition.
	StepUniqueRegistered
	// StepUniqueFromTable: the symbol is STB_GNU_UNIQUE and a
	// definition of the name is the namespace's already: Def and
	// DefIndex name it, the answer.
	StepUniqueFromTable
	// StepUniqueCopy: the symbol is STB_GNU_UNIQUE and the reference a
	// COPY relocation, which reads this definition whatever the table
	// holds.
	StepUniqueCopy

	// StepProtectedCheck: the reference is the referencing object's own
	// protected symbol; what follows is the second search glibc makes,
	// as a PLT reference, to decide whether its own definition stands.
	StepProtectedCheck
	// StepProtected: the reference is protected and binds to its own
	// object's definition (Map, Index).
	StepProtected
	// StepBound: the answer, Map and Index.
	StepBound
	// StepUnresolved: no definition; the reference is weak and
	// resolves to zero, or the lookup fails (undefined symbol).
	StepUnresolved
)

var stepNames = [...]string{
	StepBegin:               "begin",
	StepCopySkipsExecutable: "copy-skips-executable",
	StepNoHashTable:         "no-hash-table",
	StepFiltered:            "bloom-filter",
	StepNoSuchName:          "no-such-name",
	StepUndefined:           "undefined",
	StepPLTAddress:          "plt-address",
	StepWrongType:           "wrong-type",
	StepOtherVersion:        "other-version",
	StepHiddenVersion:       "hidden-version",
	StepNewerVersion:        "newer-version",
	StepMatch:               "match",
	StepOnlyVersion:         "only-version",
	StepHidden:              "hidden",
	StepLocal:               "local",
	StepTaken:               "taken",
	StepUniqueRegistered:    "unique-registered",
	StepUniqueFromTable:     "unique-from-table",
	StepUniqueCopy:          "unique-copy",
	StepProtectedCheck:      "protected-check",
	StepProtected:           "protected",
	StepBound:               "bound",
	StepUnresolved:          "unresolved",
}

// String is the step's name in ldgo why's JSON.
func (k StepKind) String() string {
	if int(k) < len(stepNames) {
		return stepNames[k]
	}
	return "unknown"
}

// AboutSymbol reports whether a step of kind k is about one symbol of
// its object (Step.Index).
func (k StepKind) AboutSymbol() bool {
	return k >= StepUndefined && k <= StepUniqueCopy || k == StepProtected || k == StepBound
}

// Visits reports whether a step of kind k is part of the search of one
// object of the scope, Step.Map: the search's steps come object by
// object, in the order of the scope.
func (k StepKind) Visits() bool { return k >= StepCopySkipsExecutable && k <= StepUniqueCopy }

// Ends reports whether a step of kind k ends the search: its object
// holds the answer.
func (k StepKind) Ends() bool { return k >= StepTaken && k <= StepUniqueCopy }

// step reports a step to OnStep, which must be set. It is kept out of
// line: a search without OnStep pays a test per step and no more.
//
//go:noinline
func (l *Linker) step(kind StepKind, req *Request, m *linkmap.Map, idx uint32) {
	l.OnStep(Step{Kind: kind, Req: req, Map: m, Index: idx})
}
