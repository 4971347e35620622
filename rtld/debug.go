package rtld

import (
	"errors"
	"strings"

	"github.com/ldgo/ldgo/host"
	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/lookup"
	"github.com/ldgo/ldgo/namespace"
)

// lookupTrace prints LD_DEBUG's symbols and bindings lines as the engine
// looks symbols up: at start-up, in dlopen and dlsym. A PLT slot's lookup
// is made before the program starts, but glibc makes it at the slot's
// first call, so its lines are kept (hold) and printed then.
type lookupTrace struct {
	prog              string
	symbols, bindings bool
	// failures prints glibc's line for a lookup that fails, which every
	// category but statistics prints.
	failures bool
	held     *strings.Builder // when not nil, lines go here
}

// attach has l's lookups traced, as far as the trace asks.
func (t *lookupTrace) attach(l *lookup.Linker) {
	if t.symbols {
		l.OnSearch = t.search
	}
	if t.bindings {
		l.OnBind = t.bind
	}
}

// on reports whether anything is traced.
func (t *lookupTrace) on() bool { return t.symbols || t.bindings || t.failures }

func (t *lookupTrace) search(name string, m *linkmap.Map) {
	t.line("symbol=" + name + ";  lookup in file=" + m.DisplayName(t.prog) + " [0]\n")
}

func (t *lookupTrace) bind(b lookup.Binding) {
	var v string
	if b.Version != nil {
		v = b.Version.Name
	}
	t.line(lookup.BindingLine(b.Ref.DisplayName(t.prog), b.Def.DisplayName(t.prog), b.Name, v, b.Protected) + "\n")
}

// failed prints glibc's line for err, if it is a symbol lookup that found
// no definition: it names the referencing object.
func (t *lookupTrace) failed(err error) {
	var le *namespace.LoadError
	var ue *lookup.UndefinedError
	if t.failures && errors.As(err, &le) && errors.As(err, &ue) {
		t.line(le.Name + ": error: symbol lookup error: " + ue.Error() + " (fatal)\n")
	}
}

func (t *lookupTrace) line(s string) {
	if t.held != nil {
		t.held.WriteString(s)
		return
	}
	host.DebugLine(s)
}

// hold keeps the lines of the lookups that follow, until release returns
// them.
func (t *lookupTrace) hold(b *strings.Builder) {
	b.Reset()
	t.held = b
}

func (t *lookupTrace) release() string {
	s := t.held.String()
	t.held = nil
	return s
}
