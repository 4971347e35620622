package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/ldgo/ldgo/bindcache"
	"github.com/ldgo/ldgo/host"
	"github.com/ldgo/ldgo/namespace"
	"github.com/ldgo/ldgo/object"
	"github.com/ldgo/ldgo/plan"
	"github.com/ldgo/ldgo/rtld"
)

var cmdRun = &command{
	name:     "run",
	synopsis: "[OPTIONS] PROG [ARGS...]",
	summary:  "run PROG [ARGS...] with ldgo as its dynamic linker",
	about: `Runs PROG with ldgo as its dynamic linker (host mode), as
ld-linux-x86-64.so.2 PROG ARGS... does. Options come before PROG;
everything after PROG is passed to it. PROG without a slash is looked up
in PATH; a statically linked program is executed; a script runs its
interpreter under ldgo. A program that cannot be loaded gets glibc's
message and ld.so's status: 127, or 1 for a missing version.`,
	options: []option{
		{name: "list", help: "list the libraries PROG needs, as ld.so --list (ldd)"},
		{name: "verify", help: "exit 0 if PROG is a dynamically linked program, as\nld.so --verify (1 if not, 2 for a shared object)"},
		{name: "json", help: "with --list, --verify or --calls: print JSON (doc/json.md)"},
		{name: "calls", help: "count the calls through each PLT slot and print them\nat exit, most called first, to standard error"},
		{name: "calls-output", arg: "FILE", help: "with --calls: write the table to FILE instead"},
		{name: "argv0", arg: "NAME", help: "pass NAME as argv[0]"},
		{name: "no-bind-cache", help: "neither use nor write the bind cache (also\nLDGO_BIND_CACHE=off)"},
		{name: "debug", arg: "CATEGORIES", help: "as LD_DEBUG: libs, reloc, files, symbols, bindings,\nversions, scopes, all, statistics, lazy (ldgo's own:\neach PLT slot's first call); --debug help lists them"},
		{name: "library-path", arg: "PATH", help: "search PATH instead of LD_LIBRARY_PATH"},
		{name: "preload", arg: "LIST", help: "preload LIST (spaces or colons) instead of LD_PRELOAD"},
		{name: "inhibit-cache", help: "do not use /etc/ld.so.cache"},
		{name: "audit", arg: "LIST", help: "use the objects named in LIST (colons) as audit\nlibraries, before those of LD_AUDIT (rtld-audit(7))"},
	},
	footer: `LD_LIBRARY_PATH, LD_PRELOAD, LD_BIND_NOW, LD_BIND_NOT, LD_DEBUG and
LD_DEBUG_OUTPUT in the environment act as for ld.so; LDGO_DEBUG=lazy
prints each PLT slot's first call. The bind cache lives in
$XDG_CACHE_HOME/ldgo/bindings (or ~/.cache/ldgo/bindings).
`,
	run: runProgram,
}

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
	json           bool
	debug          string
	debugSet       bool
	noBindCache    bool
	audit          string
	calls          bool
	callsOutput    string
	prog           string
	args           []string
}

func parseRunArgs(opts []option, args []string) (*runOptions, error) {
	values, operands, err := parseArgs(opts, args, false)
	if err != nil {
		return nil, err
	}
	o := &runOptions{}
	o.argv0, o.argv0Set = values["argv0"]
	o.libraryPath, o.libraryPathSet = values["library-path"]
	o.preload, o.preloadSet = values["preload"]
	o.debug, o.debugSet = values["debug"]
	_, o.inhibitCache = values["inhibit-cache"]
	_, o.noBindCache = values["no-bind-cache"]
	_, o.list = values["list"]
	_, o.verify = values["verify"]
	_, o.json = values["json"]
	_, o.calls = values["calls"]
	o.audit = values["audit"]
	o.callsOutput = values["calls-output"]
	switch {
	case len(operands) == 0:
		return o, errNoProgram
	case o.json && !o.list && !o.verify && !o.calls:
		return nil, errors.New("--json needs --list, --verify or --calls")
	case o.callsOutput != "" && !o.calls:
		return nil, errors.New("--calls-output needs --calls")
	}
	o.prog, o.args = operands[0], operands[1:]
	return o, nil
}

// errNoProgram comes with the options parsed, which may ask for
// LD_DEBUG's help only.
var errNoProgram = errors.New("expected a program to run")

// debugCategory is one of LD_DEBUG's categories, as glibc's
// LD_DEBUG=help lists it, and what it turns on (all and help: nothing of
// their own).
type debugCategory struct {
	name, help string
	set        func(o *rtld.Options)
}

// debugCategories are the categories ldgo run knows, in the order and
// with the words of glibc's LD_DEBUG=help, ldgo's lazy added. glibc's
// unused is left out: ldgo does not implement it.
var debugCategories = []debugCategory{
	{"libs", "display library search paths", func(o *rtld.Options) { o.Debug.Libs = true }},
	{"reloc", "display relocation processing", func(o *rtld.Options) { o.Debug.Reloc = true }},
	{"files", "display progress for input file", func(o *rtld.Options) { o.Debug.Files = true }},
	{"symbols", "display symbol table processing", func(o *rtld.Options) { o.Debug.Symbols = true }},
	{"bindings", "display information about symbol binding", func(o *rtld.Options) { o.Debug.Bindings = true }},
	{"versions", "display version dependencies", func(o *rtld.Options) { o.Debug.Versions = true }},
	{"scopes", "display scope information", func(o *rtld.Options) { o.Debug.Scopes = true }},
	{"all", "all previous options combined", nil},
	{"statistics", "display relocation statistics", func(o *rtld.Options) { o.Debug.Statistics = true }},
	{"lazy", "display each PLT slot's first call", func(o *rtld.Options) { o.TraceLazy = true }},
	{"help", "display this help message and exit", nil},
}

// parseDebug applies LD_DEBUG's categories cats to o, warning about those
// it does not know as glibc does, and reports whether help was asked for.
func parseDebug(cats string, o *rtld.Options, stderr io.Writer) (help bool) {
	for _, c := range strings.FieldsFunc(cats, func(r rune) bool { return r == ',' || r == ':' || r == ' ' }) {
		known := false
		for i, k := range debugCategories {
			if k.name != c {
				continue
			}
			known = true
			if k.set != nil {
				k.set(o)
			}
			if c == "all" {
				// As glibc's: the categories listed before it.
				for _, p := range debugCategories[:i] {
					p.set(o)
				}
			}
		}
		switch {
		case c == "help":
			help = true
		case c == "unused":
			fmt.Fprintf(stderr, "ldgo run: LD_DEBUG category `%s' is not implemented\n", c)
		case !known:
			fmt.Fprintf(stderr, "warning: debug option `%s' unknown; try LD_DEBUG=help\n", c)
		}
	}
	return help
}

// debugHelp prints what LD_DEBUG=help prints, in glibc's layout.
func debugHelp(w io.Writer) {
	fmt.Fprint(w, "Valid options for the LD_DEBUG environment variable are:\n\n")
	for _, c := range debugCategories {
		fmt.Fprintf(w, "  %-12s%s\n", c.name, c.help)
	}
	fmt.Fprint(w, "\nTo direct the debugging output into a file instead of standard output\n"+
		"a filename can be specified using the LD_DEBUG_OUTPUT environment variable.\n")
}

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
func runProgram(c *command, args []string, stdout, stderr io.Writer) int {
	tlsModule := takeTLSModule()
	env, err := programEnv()
	if err != nil {
		fmt.Fprintf(stderr, "ldgo run: %v\n", err)
		return 127
	}
	env = restoreAudit(env)
	o, err := parseRunArgs(c.options, args)
	if err == errHelp {
		fmt.Fprint(stdout, c.usage())
		return 0
	}
	// As glibc's ld.so, the categories are read first: help is printed
	// whatever the rest says, and nothing more is done.
	var ro rtld.Options
	if o != nil {
		cats, _ := getenv(env, "LD_DEBUG")
		if o.debugSet {
			cats = o.debug
		}
		if parseDebug(cats, &ro, stderr) {
			debugHelp(stdout)
			return 0
		}
	}
	if err != nil {
		return c.usageError(stderr, err.Error())
	}
	switch {
	case o.verify:
		status := ldsoVerify(nil, o.prog)
		if o.json {
			writeJSON(stdout, ldsoVerifyOutput{header: header{Schema: jsonSchema, Command: "run --verify", Program: o.prog}, Status: status})
		}
		return status
	case o.list:
		// ld.so --list is ldd without ldd's checks: the list
		// command, answering as ld.so does.
		opts := options{json: o.json, ldso: true}
		opts.InhibitCache = o.inhibitCache
		opts.LibraryPath, _ = getenv(env, "LD_LIBRARY_PATH")
		opts.LibraryPathWhat = "LD_LIBRARY_PATH"
		if o.libraryPathSet {
			opts.LibraryPath, opts.LibraryPathWhat = o.libraryPath, "--library-path"
		}
		pre, _ := getenv(env, "LD_PRELOAD")
		opts.Preload, opts.PreloadWhat = namespace.SplitPreload(pre), "LD_PRELOAD"
		if o.preloadSet {
			opts.Preload, opts.PreloadWhat = namespace.SplitPreload(o.preload), "--preload"
		}
		opts.AsLdd = true
		return analyzeAll("list", runList, []string{o.prog}, opts, stdout, stderr)
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
	ro.Path, ro.Argv, ro.Env, ro.InhibitCache = path, argv, env, o.inhibitCache
	ro.TLSModule = tlsModule
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
	ro.Debug.Output, _ = getenv(env, "LD_DEBUG_OUTPUT")
	if v, _ := getenv(env, "LD_WARN"); v != "" {
		ro.Warn = true
	}
	ro.Plan, _ = getenv(env, "LDGO_PLAN")
	if ro.Plan == "exec" {
		ro.PlanDir = plan.Dir(func(name string) string { v, _ := getenv(env, name); return v })
	}
	ro.Audit = splitAudit(o.audit)
	if v, _ := getenv(env, "LD_AUDIT"); v != "" {
		ro.Audit = append(ro.Audit, splitAudit(v)...)
	}
	if o.calls && len(ro.Audit) > 0 {
		fmt.Fprintln(stderr, "ldgo run: --calls cannot be used with audit libraries (LD_AUDIT, --audit)")
		return 127
	}
	if o.calls {
		ro.Calls = &rtld.CallsOptions{JSON: o.json}
		if o.callsOutput != "" {
			if ro.Calls.Path, err = filepath.Abs(o.callsOutput); err != nil {
				fmt.Fprintf(stderr, "ldgo run: --calls-output: %v\n", err)
				return 127
			}
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
	return rtld.ExitStatus(err)
}

// ldsoVerifyOutput is the JSON document of ldgo run --verify.
type ldsoVerifyOutput struct {
	header
	// Status is ld.so --verify's: 0 for a dynamically linked program, 2
	// for a shared object (no interpreter), 1 for anything else.
	Status int `json:"status"`
}

// splitAudit splits an LD_AUDIT value as glibc does: at colons, empty
// names dropped.
func splitAudit(list string) []string {
	var names []string
	for _, n := range strings.Split(list, ":") {
		if n != "" {
			names = append(names, n)
		}
	}
	return names
}

// restoreAudit gives the program the LD_AUDIT that ldgo's own start
// renamed (host.AuditVar).
func restoreAudit(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, host.AuditVar+"="); ok {
			kv = "LD_AUDIT=" + v
		}
		out = append(out, kv)
	}
	os.Unsetenv(host.AuditVar)
	return out
}
