package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ldgo/ldgo/analyze"
	"github.com/ldgo/ldgo/linkmap"
	"github.com/ldgo/ldgo/namespace"
	"github.com/ldgo/ldgo/object"
	"github.com/ldgo/ldgo/search"
	"github.com/ldgo/ldgo/sysroot"
)

var cmdBundle = func() *command {
	c := analysisCommandWith("bundle",
		"copy programs and all they load into a tree (an image)",
		`Copies each PROG, every object glibc's ld.so would load for it and its
dynamic linker (PT_INTERP) into the tree DIR, each file at its own path:
the symbolic links on the way to each file are made again in DIR (so that
/lib -> usr/lib and libfoo.so.1 -> libfoo.so.1.2.3 stay), the files they
lead to are copied. The result runs as chroot DIR PROG.
Added too: libgcc_s.so.1 when an object calls pthread_exit, pthread_cancel,
thrd_exit or backtrace (glibc loads it for them), and each --also FILE as
it is. Libraries a program dlopens by a name of its own choosing, gconv
modules and NSS modules cannot be known from the files: give them with
--also (or as PROG, to have their libraries copied too).
Running it again copies nothing new; a file of DIR that differs from the
one to be copied is not overwritten, and the status is then 1, as it is
for a program that would not load.`,
		[]option{
			{name: "to", arg: "DIR", help: "copy into the tree DIR (made if missing)"},
			{name: "also", arg: "FILE", repeat: true, help: "copy FILE too, as it is (a directory with all it\nholds); may be given more than once"},
		}, runBundle, prepareBundle)
	c.synopsis = "--to DIR [OPTIONS] PROG..."
	return c
}()

func prepareBundle(opts *options) error {
	if opts.to == "" {
		return errors.New("missing --to DIR")
	}
	if err := os.MkdirAll(opts.to, 0o755); err != nil {
		return failure{fmt.Sprintf("--to: %s", describeErr(err))}
	}
	return nil
}

// describeErr words an error with glibc's words for system errors.
func describeErr(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Path + ": " + object.ErrorText(pe.Err)
	}
	return err.Error()
}

type bundleOutput struct {
	header
	To    string        `json:"to"`
	Files []bundleEntry `json:"files"`
}

// bundleEntry is one file or symbolic link of the tree.
type bundleEntry struct {
	Path string `json:"path"`
	// Link is a symbolic link's target, as written.
	Link string `json:"link,omitempty"`
	// Reason says why the file is in the tree: "program",
	// "interpreter", "needed", "preload", "libgcc_s" or "also".
	Reason string `json:"reason"`
	// Added is set when this run made the entry; otherwise DIR had it
	// already, the same.
	Added bool `json:"added,omitempty"`
}

// unwinders are the functions for which glibc loads libgcc_s.so.1 when
// they are first called (its __libc_unwind_link_get): a program that
// calls one needs the library, though nothing names it in DT_NEEDED.
var unwinders = []string{"pthread_cancel", "pthread_exit", "thrd_exit", "backtrace"}

// libgccS is the library glibc's unwinding loads.
const libgccS = "libgcc_s.so.1"

func runBundle(a *analyze.Analysis, opts *options, h header, out, errOut io.Writer) int {
	ns := a.NS
	prog := opts.Progname
	res := bundleOutput{header: h, To: opts.to, Files: []bundleEntry{}}
	fail := func(msgs []string) int {
		for _, m := range msgs {
			fmt.Fprintln(errOut, m)
		}
		if opts.json {
			res.Error = strings.Join(msgs, "\n")
			writeJSON(out, res.header)
		}
		return 1
	}
	// A program that would not load is not copied: its tree would not
	// run either.
	var problems []string
	for _, d := range ns.Deps {
		if d.Err != nil && !d.Preload {
			problems = append(problems, fmt.Sprintf("%s: error while loading shared libraries: %s: %s", prog, d.Name, d.Err))
		}
	}
	problems = append(problems, versionMessages(a, prog)...)
	if len(problems) > 0 {
		return fail(append(problems, "ldgo bundle: "+prog+": nothing copied"))
	}
	warn := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		fmt.Fprintf(errOut, "ldgo bundle: warning: %s\n", msg)
		res.Warnings = append(res.Warnings, msg)
	}
	files := bundleFiles(ns, prog, warn)
	for _, d := range ns.Deps {
		if d.Found != nil {
			if msg := unreproducible(ns.Searcher, d, opts.LibraryPathWhat, opts.to); msg != "" {
				warn("%s", msg)
			}
		}
	}
	for _, f := range opts.also {
		files = append(files, bundleFile{path: f, reason: "also"})
	}

	dst, err := sysroot.Open(opts.to)
	if err != nil {
		return fail([]string{"ldgo bundle: --to: " + describeErr(err)})
	}
	defer dst.Close()
	b := &bundler{src: opts.Root, dst: dst, to: opts.to, dirsDone: map[string]bool{}, index: map[string]int{}}
	if st, err := dst.Stat("/"); err == nil {
		b.dstID = [2]uint64{st.Dev, st.Ino}
	}
	status := 0
	for _, f := range files {
		if err := b.place(f.path, f.reason); err != nil {
			fmt.Fprintf(errOut, "ldgo bundle: %s\n", describeErr(err))
			res.Warnings = append(res.Warnings, describeErr(err))
			status = 1
		}
	}
	res.Files = append(res.Files, b.entries...)
	if opts.json {
		writeJSON(out, res)
		return status
	}
	for _, e := range b.entries {
		switch {
		case !e.Added:
		case e.Link != "":
			fmt.Fprintf(out, "linked %s -> %s\n", e.Path, e.Link)
		default:
			fmt.Fprintf(out, "copied %s\n", e.Path)
		}
	}
	return status
}

// bundleFile is a file to copy and why.
type bundleFile struct {
	path, reason string
}

// bundleFiles lists the files of the program's objects, the program
// first, then in load order, then the dynamic linker and, when an object
// needs it at run time, libgcc_s.so.1.
func bundleFiles(ns *namespace.Namespace, prog string, warn func(string, ...any)) []bundleFile {
	files := []bundleFile{{path: prog, reason: "program"}}
	for _, m := range ns.Chain {
		switch {
		case m == ns.Main || m.Vdso || m.Faked || m.Rtld:
		case slices.Contains(ns.Preloads, m):
			files = append(files, bundleFile{path: m.Name, reason: "preload"})
		default:
			files = append(files, bundleFile{path: m.Name, reason: "needed"})
		}
	}
	if r := ns.Rtld; r != nil {
		files = append(files, bundleFile{path: r.Name, reason: "interpreter"})
	}
	sym, user := unwinderUser(ns)
	if user == nil || loaded(ns, libgccS) {
		return files
	}
	m, added, err := ns.Dlopen(libgccS, libc(ns), namespace.OpenMode{})
	if err != nil {
		warn("%s calls %s, for which glibc loads %s, which is not found: %s", user.DisplayName(prog), sym, libgccS, err)
		return files
	}
	files = append(files, bundleFile{path: m.Name, reason: "libgcc_s"})
	for _, d := range added {
		if d != m && !d.Rtld {
			files = append(files, bundleFile{path: d.Name, reason: "libgcc_s"})
		}
	}
	return files
}

// unwinderUser returns an object that calls one of the unwinders, and
// which; nil when none does.
func unwinderUser(ns *namespace.Namespace) (string, *linkmap.Map) {
	for _, m := range ns.Chain {
		if m.Vdso || m.Faked || m.Obj == nil {
			continue
		}
		o := m.Obj
		for i := 1; i < o.NumSymbols(); i++ {
			s := o.Symbol(uint32(i))
			if !s.Undefined() {
				continue
			}
			for _, u := range unwinders {
				if o.SymbolNameIs(uint32(i), u) {
					return u, m
				}
			}
		}
	}
	return "", nil
}

func loaded(ns *namespace.Namespace, name string) bool {
	for _, m := range ns.Chain {
		if !m.Faked && (m.NameMatches(name) || m.Obj.Dyn.HasSoname && m.Obj.Dyn.Soname == name) {
			return true
		}
	}
	return false
}

// libc is the object glibc's own dlopen of libgcc_s.so.1 comes from; the
// program when there is none.
func libc(ns *namespace.Namespace) *linkmap.Map {
	for _, m := range ns.Chain {
		if !m.Faked && m.Obj.Dyn.HasSoname && m.Obj.Dyn.Soname == "libc.so.6" {
			return m
		}
	}
	return ns.Main
}

// unreproducible says why a library found by d would not be found in the
// tree by the same rule, or "" when it would: LD_LIBRARY_PATH is not the
// tree's, nor is an ld.so.cache naming a directory outside the system
// directories. libraryPath names the library path: LD_LIBRARY_PATH or
// --library-path.
func unreproducible(s *search.Searcher, d namespace.Dep, libraryPath, to string) string {
	f := d.Found
	switch f.Rule {
	case search.ByLibraryPath:
		return fmt.Sprintf("%s was found through %s (%s): the program in %s finds it only with the same path", d.Name, libraryPath, f.Dir, to)
	case search.ByCache:
		dir := path.Dir(f.Path) + "/"
		for _, sys := range search.DefaultDirs {
			for _, sub := range s.Caps().Subdirs() {
				if dir == sys+sub {
					return ""
				}
			}
		}
		return fmt.Sprintf("%s was found through ld.so.cache in %s, which is not a system directory: the program in %s finds it only with an ld.so.cache that names it (ldconfig -r %s)", d.Name, dir, to, to)
	}
	return ""
}

// A bundler copies files from src (the host, or --root's tree) into the
// tree dst. Every write is made relative to a directory of dst opened
// inside it, so no link in dst can lead a write out of it.
type bundler struct {
	src, dst *sysroot.Root
	to       string
	entries  []bundleEntry
	index    map[string]int // of entries, by path
	// dirsDone are the directories copied whole (--also), once each,
	// whatever links lead to them again.
	dirsDone map[string]bool
	// dstID is dst's own directory, which a directory copied whole
	// (--also /) may hold: it is not copied into itself.
	dstID [2]uint64
}

// place copies the file name into dst at its own path: each link on the
// way made again, the file it leads to copied (a directory with all it
// holds).
func (b *bundler) place(name, reason string) error {
	real, err := b.src.Resolve(name, func(link, target string) error {
		return b.link(link, target, reason)
	})
	if err != nil {
		return err
	}
	st, err := b.src.Lstat(real)
	if err != nil {
		return err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return b.copyFile(real, st.Mode, reason)
	case unix.S_IFDIR:
		if [2]uint64{st.Dev, st.Ino} == b.dstID {
			return nil
		}
		return b.copyDir(real, reason)
	}
	return fmt.Errorf("%s: not a regular file", real)
}

func (b *bundler) copyDir(dir, reason string) error {
	if b.dirsDone[dir] {
		return nil
	}
	b.dirsDone[dir] = true
	if err := b.mkdirs(dir); err != nil {
		return err
	}
	f, err := b.src.OpenFile(dir)
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := b.place(path.Join(dir, n), reason); err != nil {
			return err
		}
	}
	return nil
}

// exists is the error of an entry of dst that is not what it would be
// made.
func (b *bundler) exists(name, what string) error {
	return fmt.Errorf("%s: exists and %s: not overwritten", path.Join(b.to, name), what)
}

// mkdirs makes the directory dir of dst and those above it, each with the
// permissions of the source's. A link of dst to a directory (a tree with
// /lib -> usr/lib where the source has a directory) is gone through.
func (b *bundler) mkdirs(dir string) error {
	if dir == "/" {
		return nil
	}
	if err := b.mkdirs(path.Dir(dir)); err != nil {
		return err
	}
	st, err := b.dst.Stat(dir)
	switch {
	case err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR:
		return nil
	case err == nil:
		return b.exists(dir, "is not a directory")
	case !errors.Is(err, unix.ENOENT):
		return err
	}
	src, err := b.src.Stat(dir)
	if err != nil {
		return err
	}
	return b.at(path.Dir(dir), func(fd int) error {
		err := unix.Mkdirat(fd, path.Base(dir), src.Mode&0o777)
		if err == unix.EEXIST {
			return nil
		}
		return err
	})
}

// at runs fn with a descriptor of dst's directory dir.
func (b *bundler) at(dir string, fn func(fd int) error) error {
	fd, err := b.dst.OpenDir(dir)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return fn(fd)
}

// link makes the symbolic link name -> target in dst.
func (b *bundler) link(name, target, reason string) error {
	if err := b.mkdirs(path.Dir(name)); err != nil {
		return err
	}
	e := bundleEntry{Path: name, Link: target, Reason: reason}
	defer func() { b.record(e) }()
	st, err := b.dst.Lstat(name)
	switch {
	case err == nil && st.Mode&unix.S_IFMT != unix.S_IFLNK:
		return b.exists(name, "is not a symbolic link")
	case err == nil:
		if t, err := b.dst.Readlink(name); err != nil || t != target {
			return b.exists(name, "links elsewhere")
		}
		return nil
	case !errors.Is(err, unix.ENOENT):
		return err
	}
	e.Added = true
	return b.at(path.Dir(name), func(fd int) error {
		return unix.Symlinkat(target, fd, path.Base(name))
	})
}

// record keeps an entry once: links are met again on the way to each
// file behind them.
func (b *bundler) record(e bundleEntry) {
	if i, ok := b.index[e.Path]; ok {
		b.entries[i].Added = b.entries[i].Added || e.Added
		return
	}
	b.index[e.Path] = len(b.entries)
	b.entries = append(b.entries, e)
}

// copyFile copies the regular file name into dst: to a new file beside
// it, renamed into place only if nothing is there, so that a second run,
// or a run stopped half-way, never leaves a file half-written in place.
func (b *bundler) copyFile(name string, mode uint32, reason string) error {
	dir := path.Dir(name)
	if err := b.mkdirs(dir); err != nil {
		return err
	}
	e := bundleEntry{Path: name, Reason: reason}
	defer func() { b.record(e) }()
	if _, err := b.dst.Lstat(name); err == nil {
		return b.same(name)
	} else if !errors.Is(err, unix.ENOENT) {
		return err
	}
	in, err := b.src.OpenFile(name)
	if err != nil {
		return err
	}
	defer in.Close()
	base := path.Base(name)
	tmp := fmt.Sprintf(".%s.ldgo-bundle-%d", base, os.Getpid())
	err = b.at(dir, func(fd int) error {
		out, err := unix.Openat(fd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return &os.PathError{Op: "create", Path: path.Join(b.to, dir, tmp), Err: err}
		}
		w := os.NewFile(uintptr(out), tmp)
		_, err = io.Copy(w, in)
		if err == nil {
			err = w.Chmod(os.FileMode(mode & 0o777))
		}
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = unix.Renameat2(fd, tmp, fd, base, unix.RENAME_NOREPLACE)
		}
		if err != nil {
			unix.Unlinkat(fd, tmp, 0)
		}
		return err
	})
	if errors.Is(err, unix.EEXIST) {
		return b.same(name) // made meanwhile
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path.Join(b.to, name), err)
	}
	e.Added = true
	return nil
}

// same checks that dst's file name is the source's, byte for byte.
func (b *bundler) same(name string) error {
	st, err := b.dst.Lstat(name)
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return b.exists(name, "is not a regular file")
	}
	a, err := b.src.OpenFile(name)
	if err != nil {
		return err
	}
	defer a.Close()
	c, err := b.dst.OpenFile(name)
	if err != nil {
		return err
	}
	defer c.Close()
	if !sameContents(a, c) {
		return b.exists(name, "differs from "+name)
	}
	return nil
}

func sameContents(a, b io.Reader) bool {
	const chunk = 64 << 10
	x, y := make([]byte, chunk), make([]byte, chunk)
	for {
		n, errA := io.ReadFull(a, x)
		m, errB := io.ReadFull(b, y)
		if n != m || !bytes.Equal(x[:n], y[:m]) {
			return false
		}
		doneA := errA == io.EOF || errA == io.ErrUnexpectedEOF
		doneB := errB == io.EOF || errB == io.ErrUnexpectedEOF
		switch {
		case doneA && doneB:
			return true
		case doneA != doneB, errA != nil && !doneA, errB != nil && !doneB:
			return false
		}
	}
}
