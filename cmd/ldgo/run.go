package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/ldgo/ldgo/bindcache"
	"github.com/ldgo/ldgo/host"
	"github.com/ldgo/ldgo/namespace"
	"github.com/ldgo/ldgo/object"
	"github.com/ldgo/ldgo/rtld"
)

const runUsage = `usage: ldgo run [OPTIONS] PROG [ARGS...]

Runs PROG with ldgo as its dynamic linker (host mode). Options come before
PROG; everything after PROG is passed to it.

Options:
  --list               list the libraries PROG needs, as ld.so --list (ldd)
  --verify             exit 0 if PROG is a dynamically linked program, as
                       ld.so --verify (1 if not, 2 for a shared object)
  --argv0 NAME         pass NAME as argv[0]
  --no-bind-cache      neither use nor write the bind cache (also
                       LDGO_BIND_CACHE=off)
  --debug CATEGORIES   as LD_DEBUG: libs, reloc, files, symbols, bindings,
                       versions, scopes, statistics, lazy (ldgo's own: each
                       PLT slot's first call), all
  --library-path PATH  search PATH instead of LD_LIBRARY_PATH
  --preload LIST       preload LIST (spaces or colons) instead of LD_PRELOAD
  --inhibit-cache      do not use /etc/ld.so.cache

LD_LIBRARY_PATH, LD_PRELOAD, LD_BIND_NOW, LD_BIND_NOT, LD_DEBUG and
LD_DEBUG_OUTPUT in the environment act as for ld.so; LDGO_DEBUG=lazy
prints each PLT slot's first call. The bind cache lives in
$XDG_CACHE_HOME/ldgo/bindings (or ~/.cache/ldgo/bindings).
`

// programEnvVar carries the program's environment across the re-execution
// that keeps LD_* variables away from ldgo's own start-up.
const programEnvVar = "LDGO_PROGRAM_ENV"

// tlsModuleVar names, in a start of ldgo made for the program's static
// TLS, the static TLS module the system's ld.so preloaded.
const tlsModuleVar = host.TLSModuleVar

// procFD is where the system's ld.so opens the module from: the descriptor
// the start before left open.
const procFD = "/proc/self/fd/"

type runOptions struct {
	argv0          string
	argv0Set       bool
	libraryPath    string
	libraryPathSet bool
	preload        string
	preloadSet     bool
	inhibitCache   bool
	list, verify   bool // ld.so's --list and --verify
	debug          string
	debugSet       bool
	noBindCache    bool
	prog           string
	args           []string
}

func parseRunArgs(args []string) (*runOptions, error) {
	o := &runOptions{}
	for len(args) > 0 {
		a := args[0]
		if a == "--" {
			args = args[1:]
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		takeVal := func() (string, error) {
			if hasVal {
				return val, nil
			}
			if len(args) < 2 {
				return "", fmt.Errorf("option %s needs a value", a)
			}
			args = args[1:]
			return args[0], nil
		}
		var err error
		switch name {
		case "argv0":
			o.argv0, err = takeVal()
			o.argv0Set = true
		case "library-path":
			o.libraryPath, err = takeVal()
			o.libraryPathSet = true
		case "preload":
			o.preload, err = takeVal()
			o.preloadSet = true
		case "inhibit-cache":
			o.inhibitCache = true
		case "debug":
			o.debug, err = takeVal()
			o.debugSet = true
		case "no-bind-cache":
			o.noBindCache = true
		case "list":
			o.list = true
		case "verify":
			o.verify = true
		case "h", "help":
			return nil, errHelp
		default:
			return nil, fmt.Errorf("unknown option %s", a)
		}
		if err != nil {
			return nil, err
		}
		args = args[1:]
	}
	if len(args) == 0 {
		return nil, errors.New("expected a program to run")
	}
	o.prog, o.args = args[0], args[1:]
	return o, nil
}

var errHelp = errors.New("help")

// programEnv returns the environment the program is to get. The system's
// ld.so read ldgo's own environment while starting ldgo; when that may have
// changed ldgo's own process (see startupTouched), ldgo first executes
// itself again without the LD_* variables, passing the program's
// environment aside; that call does not return.
func programEnv() ([]string, error) {
	if saved, ok := os.LookupEnv(programEnvVar); ok {
		var env []string
		if err := json.Unmarshal([]byte(saved), &env); err != nil {
			return nil, fmt.Errorf("bad %s: %v", programEnvVar, err)
		}
		os.Unsetenv(programEnvVar)
		return env, nil
	}
	env := os.Environ()
	if !startupTouched(env, hostObjectNames) {
		return env, nil
	}
	var clean []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "LD_") {
			clean = append(clean, kv)
		}
	}
	saved, err := json.Marshal(env)
	if err != nil {
		return nil, err
	}
	clean = append(clean, programEnvVar+"="+string(saved))
	err = syscall.Exec("/proc/self/exe", os.Args, clean)
	return nil, fmt.Errorf("cannot re-execute ldgo: %v", err)
}

// startWithTLS executes ldgo again with a static TLS module of the size
// and alignment need says preloaded, passing the program's environment
// aside as programEnv does; that call does not return. A start that has
// a module already cannot make another.
func startWithTLS(need *rtld.StaticTLSNeeded, env []string, hadModule bool) error {
	if hadModule {
		return fmt.Errorf("%v, but ldgo was started with one already", need)
	}
	fd, err := host.TLSModule(need.Size, need.Align)
	if err != nil {
		return fmt.Errorf("cannot make a static TLS module: %v", err)
	}
	module := procFD + strconv.Itoa(fd)
	var clean []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LD_") {
			clean = append(clean, kv)
		}
	}
	saved, err := json.Marshal(env)
	if err != nil {
		return err
	}
	clean = append(clean, "LD_PRELOAD="+module, tlsModuleVar+"="+module, programEnvVar+"="+string(saved))
	err = syscall.Exec("/proc/self/exe", os.Args, clean)
	return fmt.Errorf("cannot re-execute ldgo: %v", err)
}

// takeTLSModule returns the static TLS module this start of ldgo was
// given, if any, and closes the descriptor it was preloaded from: the
// program is not to see it.
func takeTLSModule() string {
	module := os.Getenv(tlsModuleVar)
	if module == "" {
		return ""
	}
	os.Unsetenv(tlsModuleVar)
	os.Unsetenv("LD_PRELOAD")
	if fd, err := strconv.Atoi(strings.TrimPrefix(module, procFD)); err == nil {
		syscall.Close(fd)
	}
	return module
}

// startupTouched reports whether the LD_* variables in env may have
// changed how the system's ld.so started ldgo, whose process holds the
// objects loaded names (asked only for LD_LIBRARY_PATH). Executing ldgo again costs a second start of
// the whole process, so it is skipped where the answer is certainly no:
// when the only such variables are LD_BIND_NOW, which binds ldgo's few
// imports early and changes nothing else, and LD_LIBRARY_PATH, when none
// of ldgo's objects was found in its directories. Any other variable
// (LD_PRELOAD adds objects, LD_DEBUG prints ldgo's own start-up, LD_AUDIT,
// LD_PROFILE and the rest change it) and any directory ld.so would expand
// or resolve against the working directory (empty, relative, or with a
// $ORIGIN-style token) mean yes.
func startupTouched(env []string, loaded func() []string) bool {
	for _, kv := range env {
		name, val, _ := strings.Cut(kv, "=")
		switch {
		case !strings.HasPrefix(name, "LD_"), name == "LD_BIND_NOW":
		case name == "LD_LIBRARY_PATH":
			if libraryPathSupplied(val, loaded()) {
				return true
			}
		default:
			return true
		}
	}
	return false
}

// libraryPathSupplied reports whether a directory of the library path may
// have supplied one of the loaded objects: an object named inside it, at
// any depth (ld.so also looks in its glibc-hwcaps subdirectories). ld.so
// splits the path at colons and semicolons and ignores it when empty.
func libraryPathSupplied(path string, loaded []string) bool {
	if path == "" {
		return false
	}
	for _, dir := range strings.Split(strings.ReplaceAll(path, ";", ":"), ":") {
		// An empty element is the working directory to ld.so.
		if !strings.HasPrefix(dir, "/") || strings.Contains(dir, "$") {
			return true
		}
		dir = strings.TrimRight(dir, "/") + "/"
		for _, name := range loaded {
			if strings.HasPrefix(name, dir) {
				return true
			}
		}
	}
	return false
}

// hostObjectNames lists the file names of the objects in ldgo's process.
func hostObjectNames() []string {
	var names []string
	for _, o := range host.Objects() {
		if o.Name != "" {
			names = append(names, o.Name)
		}
	}
	return names
}

func getenv(env []string, name string) (string, bool) {
	val, ok := "", false
	for _, kv := range env {
		if v, found := strings.CutPrefix(kv, name+"="); found {
			val, ok = v, true
		}
	}
	return val, ok
}

// runProgram is `ldgo run`.
func runProgram(args []string, stdout, stderr io.Writer) int {
	tlsModule := takeTLSModule()
	env, err := programEnv()
	if err != nil {
		fmt.Fprintf(stderr, "ldgo run: %v\n", err)
		return 127
	}
	o, err := parseRunArgs(args)
	if err == errHelp {
		fmt.Fprint(stdout, runUsage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "ldgo run: %v\n\n%s", err, runUsage)
		return 2
	}
	switch {
	case o.verify:
		return verifyProgram(o.prog)
	case o.list:
		args := []string{"list"}
		if v, ok := getenv(env, "LD_LIBRARY_PATH"); ok && !o.libraryPathSet {
			o.libraryPath, o.libraryPathSet = v, true
		}
		if v, ok := getenv(env, "LD_PRELOAD"); ok && !o.preloadSet {
			o.preload, o.preloadSet = v, true
		}
		if o.libraryPathSet {
			args = append(args, "--library-path", o.libraryPath)
		}
		if o.preloadSet {
			args = append(args, "--preload", o.preload)
		}
		if o.inhibitCache {
			args = append(args, "--inhibit-cache")
		}
		return run(append(args, o.prog), stdout, stderr)
	}
	path, err := rtld.ProgramPath(o.prog, env)
	if err != nil {
		fmt.Fprintf(stderr, "ldgo run: %s: %s\n", o.prog, object.ErrorText(err))
		return 127
	}
	argv0 := o.prog
	if o.argv0Set {
		argv0 = o.argv0
	}
	argv := append([]string{argv0}, o.args...)
	// A script runs its interpreter, under ldgo, as the kernel would.
	for depth := 0; depth < 4; depth++ {
		interp, arg, ok := rtld.Script(path)
		if !ok {
			break
		}
		rest := []string{interp}
		if arg != "" {
			rest = append(rest, arg)
		}
		argv = append(append(rest, path), argv[1:]...)
		path = interp
	}
	ro := rtld.Options{
		Path:         path,
		Argv:         argv,
		Env:          env,
		InhibitCache: o.inhibitCache,
		TLSModule:    tlsModule,
	}
	ro.Tunables, _ = getenv(env, "GLIBC_TUNABLES")
	ro.LibraryPath, _ = getenv(env, "LD_LIBRARY_PATH")
	ro.LibraryPathWhat = "LD_LIBRARY_PATH"
	if o.libraryPathSet {
		ro.LibraryPath, ro.LibraryPathWhat = o.libraryPath, "--library-path"
	}
	pre, _ := getenv(env, "LD_PRELOAD")
	ro.Preload, ro.PreloadWhat = namespace.SplitPreload(pre), "LD_PRELOAD"
	if o.preloadSet {
		ro.Preload, ro.PreloadWhat = namespace.SplitPreload(o.preload), "--preload"
	}
	if v, _ := getenv(env, "LD_BIND_NOW"); v != "" {
		ro.BindNow = true
	}
	if v, _ := getenv(env, "LD_BIND_NOT"); v != "" {
		ro.BindNot = true
	}
	for _, w := range strings.Split(os.Getenv("LDGO_DEBUG"), ",") {
		if w == "lazy" {
			ro.TraceLazy = true
		}
	}
	if v, _ := getenv(env, "LDGO_BIND_CACHE"); !o.noBindCache && v != "off" && v != "0" {
		ro.BindCacheDir = bindcache.Dir(func(name string) string { v, _ := getenv(env, name); return v })
	}
	cats, _ := getenv(env, "LD_DEBUG")
	if o.debugSet {
		cats = o.debug
	}
	ro.Debug.Output, _ = getenv(env, "LD_DEBUG_OUTPUT")
	for _, c := range strings.FieldsFunc(cats, func(r rune) bool { return r == ',' || r == ':' || r == ' ' }) {
		switch c {
		case "bindings":
			ro.Debug.Bindings = true
		case "statistics":
			ro.Debug.Statistics = true
		case "lazy":
			ro.TraceLazy = true
		case "libs":
			ro.Debug.Libs = true
		case "versions":
			ro.Debug.Versions = true
		case "reloc":
			ro.Debug.Reloc = true
		case "symbols":
			ro.Debug.Symbols = true
		case "files":
			ro.Debug.Files = true
		case "scopes":
			ro.Debug.Scopes = true
		case "all":
			d := &ro.Debug
			d.Bindings, d.Statistics, d.Libs, d.Versions, d.Reloc, d.Symbols, d.Files, d.Scopes, ro.TraceLazy = true, true, true, true, true, true, true, true, true
		case "unused":
			fmt.Fprintf(stderr, "ldgo run: LD_DEBUG category `%s' is not implemented\n", c)
		default:
			fmt.Fprintf(stderr, "warning: debug option `%s' unknown; try LD_DEBUG=help\n", c)
		}
	}

	err = rtld.Run(ro)
	var need *rtld.StaticTLSNeeded
	if errors.As(err, &need) {
		err = startWithTLS(need, env, tlsModule != "")
	}
	if errors.Is(err, rtld.ErrStatic) {
		// Nothing to link: the kernel runs it.
		err = syscall.Exec(path, ro.Argv, env)
		fmt.Fprintf(stderr, "ldgo run: cannot execute %s: %v\n", path, err)
		return 127
	}
	fmt.Fprintln(stderr, err)
	return 127
}

// verifyProgram is ld.so --verify: it reads the program only, says
// nothing, and answers with its status: 0 for a dynamically linked
// program, 2 for an object without an interpreter (a shared library),
// 1 for anything else.
func verifyProgram(path string) int {
	f, err := object.Open(path)
	if err != nil {
		return 1
	}
	defer f.Close()
	switch {
	case f.Dynamic.Size == 0:
		return 1
	case f.Interp == "":
		return 2
	}
	return 0
}
