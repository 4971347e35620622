package link

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"

	"github.com/ldgo/ldgo/link/input"
	"github.com/ldgo/ldgo/link/options"
	"github.com/ldgo/ldgo/link/parallel"
)

// lto compiles the objects of the command line that hold only GCC's
// intermediate code (-flto) into real ones, by running gcc's lto-wrapper
// as its linker plugin would: the wrapper gets the objects' names, runs
// lto1 (the whole-program and partition passes) and prints the objects
// it made, which then take the place of the first intermediate one.
// The libraries the plugin is told to pass through (-pass-through=-lgcc)
// follow the other inputs, as GNU ld adds them. lto returns a function
// that removes the objects made.
//
// The plugin API itself (dlopen of liblto_plugin.so, and the symbol
// resolutions it writes for lto1) is not used: it needs cgo, which ldgo
// keeps out of the link editor, and without resolutions lto1 keeps every
// global symbol, as for a link whose linker has no plugin (collect2's
// own LTO path). The code is the same; only less of it is internalized.
// Intermediate objects inside archives are still refused (package
// resolve says so).
func (l *linker) lto() (func(), error) {
	opts := l.opts
	// The files opened here are kept for resolution (l.opened): opening
	// parses an object's sections, symbols and relocations.
	files := make([]input.File, len(opts.Inputs))
	parallel.For(opts.Threads, len(opts.Inputs), func(i int) {
		if opts.Inputs[i].Kind == options.File {
			// Resolution reports an error in GNU ld's words.
			if f, err := input.Open(opts.Inputs[i].Name); err == nil {
				files[i] = f
			}
		}
	})
	l.opened = map[string]input.File{}
	var ir []int
	for i, f := range files {
		if f == nil {
			continue
		}
		l.opened[opts.Inputs[i].Name] = f
		if o, ok := f.(*input.Object); ok && o.LTO {
			ir = append(ir, i)
		}
	}
	if len(ir) == 0 {
		return func() {}, nil
	}
	first := opts.Inputs[ir[0]].Name
	wrapper := os.Getenv("COLLECT_LTO_WRAPPER")
	for _, o := range opts.PluginOpts {
		if !strings.HasPrefix(o, "-") {
			wrapper = o // gcc passes the wrapper's path first
			break
		}
	}
	if wrapper == "" {
		return nil, fmt.Errorf("%s: this object was compiled with -flto (LTO), and no lto-wrapper is known: link through gcc, which passes it (-plugin-opt=.../lto-wrapper)", first)
	}
	kind := map[options.Output]string{options.Exec: "exec", options.PIE: "pie", options.Shared: "dyn", options.Relocatable: "rel"}[opts.OutputKind]
	args := []string{"-flinker-output=" + kind}
	for _, i := range ir {
		args = append(args, opts.Inputs[i].Name)
	}
	cmd := exec.Command(wrapper, args...)
	cmd.Stderr = l.stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: lto-wrapper failed: %v", first, err)
	}
	made := strings.Fields(string(out))
	cleanup := func() {
		for _, m := range made {
			os.Remove(m)
		}
	}
	if len(made) == 0 {
		cleanup()
		return nil, fmt.Errorf("%s: lto-wrapper made no object", first)
	}
	state := opts.Inputs[ir[0]].State
	var inputs []options.Input
	for i, in := range opts.Inputs {
		switch {
		case i == ir[0]:
			for _, m := range made {
				inputs = append(inputs, options.Input{Kind: options.File, Name: m, State: state})
			}
		case slices.Contains(ir, i):
		default:
			inputs = append(inputs, in)
		}
	}
	last := opts.Inputs[len(opts.Inputs)-1].State
	for _, o := range opts.PluginOpts {
		lib, ok := strings.CutPrefix(o, "-pass-through=")
		if !ok {
			continue
		}
		if name, ok := strings.CutPrefix(lib, "-l"); ok {
			inputs = append(inputs, options.Input{Kind: options.Library, Name: name, State: last})
		} else {
			inputs = append(inputs, options.Input{Kind: options.File, Name: lib, State: last})
		}
	}
	opts.Inputs = inputs
	return cleanup, nil
}
