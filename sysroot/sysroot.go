// Package sysroot reads a directory tree as a program inside it would see
// it after chroot: an unpacked container image, a sysroot. Absolute paths
// and absolute symbolic links start at the tree's top, ".." stops there,
// and nothing outside the tree is read, whatever its links say.
//
// The rule is the kernel's: every path is opened with openat2 and
// RESOLVE_IN_ROOT (Linux 5.6), relative to a descriptor of the tree, so
// that the kernel itself confines the resolution. The few questions a
// descriptor cannot answer — what a path resolves to, which links it goes
// through — are answered by Resolve, one component at a time, each looked
// at through the same descriptor.
//
// A nil *Root is the host's own file system, read as usual: the analysis
// commands hold a *Root whether or not they were given --root.
package sysroot

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ldgo/ldgo/object"
)

// Root is an open directory tree.
type Root struct {
	// Dir is the tree's directory as it was given.
	Dir string
	fd  int // O_PATH descriptor of Dir
}

// ErrNoOpenat2 is the error of Open on a kernel without openat2, or
// where a seccomp filter refuses it (as container runtimes did before
// they knew the call).
var ErrNoOpenat2 = errors.New("openat2 is not available (Linux 5.6 or later is needed to read a tree without leaving it)")

// Open opens the tree at dir. It fails cleanly, with ErrNoOpenat2, on a
// kernel that cannot confine path resolution: a tree's links are not
// followed by hand, where a link changed between two steps could lead
// outside.
func Open(dir string) (*Root, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	r := &Root{Dir: dir, fd: fd}
	probe, err := r.open(".", unix.O_PATH)
	if err != nil {
		unix.Close(fd)
		if err == unix.ENOSYS || err == unix.EPERM {
			return nil, fmt.Errorf("%s: %w", dir, ErrNoOpenat2)
		}
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	unix.Close(probe)
	return r, nil
}

// Close releases the tree's descriptor.
func (r *Root) Close() error {
	if r == nil || r.fd < 0 {
		return nil
	}
	err := unix.Close(r.fd)
	r.fd = -1
	return err
}

// String names the tree in messages: its directory, or "/" for the host.
func (r *Root) String() string {
	if r == nil {
		return "/"
	}
	return r.Dir
}

// open opens name inside the tree. A relative name starts at the tree's
// top, as after chroot, which also makes it the current directory.
// Magic links (/proc/self/fd/N of a tree's own /proc) are refused: they
// lead anywhere.
func (r *Root) open(name string, flags int) (int, error) {
	how := unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for tries := 0; ; tries++ {
		fd, err := unix.Openat2(r.fd, name, &how)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN && tries < 16:
			// A rename in the tree raced the resolution of "..":
			// the kernel asks for another try.
			continue
		}
		return fd, err
	}
}

// OpenFile opens name for reading, as os.Open does: with O_NONBLOCK, so
// that a FIFO planted in a tree cannot stop the reader.
func (r *Root) OpenFile(name string) (*os.File, error) {
	if r == nil {
		return os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	}
	fd, err := r.open(name, unix.O_RDONLY|unix.O_NONBLOCK)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

// OpenObject opens the ELF object at name, as object.Open does on the
// host; errors name the file as the tree's program would (name).
func (r *Root) OpenObject(name string) (*object.File, error) {
	if r == nil {
		return object.Open(name)
	}
	fd, err := r.open(name, unix.O_RDONLY|unix.O_NONBLOCK)
	if err != nil {
		return nil, &object.Error{Name: name, Cause: object.CauseOpen, Err: err}
	}
	defer unix.Close(fd)
	return object.OpenFile(name, fd)
}

// maxReadFile bounds ReadFile: the files read whole (ld.so.cache,
// ld.so.preload) are far smaller in any tree.
const maxReadFile = 1 << 30

// ReadFile reads the regular file at name.
func (r *Root) ReadFile(name string) ([]byte, error) {
	f, err := r.OpenFile(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &os.PathError{Op: "read", Path: name, Err: errors.New("not a regular file")}
	}
	return io.ReadAll(io.LimitReader(f, maxReadFile))
}

// Stat is stat(2) of name: links followed.
func (r *Root) Stat(name string) (unix.Stat_t, error) {
	var st unix.Stat_t
	if r == nil {
		err := unix.Stat(name, &st)
		return st, wrap("stat", name, err)
	}
	fd, err := r.open(name, unix.O_PATH)
	if err != nil {
		return st, wrap("stat", name, err)
	}
	defer unix.Close(fd)
	return st, wrap("stat", name, unix.Fstat(fd, &st))
}

// Lstat is lstat(2) of name: a link is described, not followed.
func (r *Root) Lstat(name string) (unix.Stat_t, error) {
	var st unix.Stat_t
	if r == nil {
		err := unix.Lstat(name, &st)
		return st, wrap("lstat", name, err)
	}
	fd, err := r.open(name, unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		return st, wrap("lstat", name, err)
	}
	defer unix.Close(fd)
	return st, wrap("lstat", name, unix.Fstat(fd, &st))
}

// Readlink returns the target of the link at name, as written.
func (r *Root) Readlink(name string) (string, error) {
	if r == nil {
		return os.Readlink(name)
	}
	fd, err := r.open(name, unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		return "", wrap("readlink", name, err)
	}
	defer unix.Close(fd)
	for size := 256; ; size *= 2 {
		b := make([]byte, size)
		// An empty name reads the link the O_PATH descriptor is.
		n, err := unix.Readlinkat(fd, "", b)
		if err != nil {
			return "", wrap("readlink", name, err)
		}
		if n < size {
			return string(b[:n]), nil
		}
	}
}

// Access reports whether name may be opened for reading, as access(2)
// with R_OK says on the host.
func (r *Root) Access(name string) error {
	if r == nil {
		return wrap("access", name, unix.Access(name, unix.R_OK))
	}
	fd, err := r.open(name, unix.O_RDONLY|unix.O_NONBLOCK)
	if err != nil {
		return wrap("access", name, err)
	}
	unix.Close(fd)
	return nil
}

// OpenDir opens the directory at name for the *at system calls (mkdirat,
// symlinkat, openat with O_CREAT) of a writer that must stay in the tree.
// The caller closes the descriptor. On the host it is opened as usual.
func (r *Root) OpenDir(name string) (int, error) {
	var fd int
	var err error
	if r == nil {
		fd, err = unix.Open(name, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	} else {
		fd, err = r.open(name, unix.O_PATH|unix.O_DIRECTORY)
	}
	return fd, wrap("open", name, err)
}

func wrap(op, name string, err error) error {
	if err == nil {
		return nil
	}
	return &os.PathError{Op: op, Path: name, Err: err}
}

// maxLinks is the kernel's limit on links followed in one resolution
// (MAXSYMLINKS); past it, ELOOP.
const maxLinks = 40

// Resolve returns name with every symbolic link resolved and every ".",
// ".." and repeated slash gone (realpath(3)), as the tree's program would
// see it. A relative name starts at the tree's top (on the host, at the
// current directory). Each link met on the way is given to visit, if not
// nil, with its own path (every component before it resolved) and its
// target as written; an error from visit stops the resolution.
func (r *Root) Resolve(name string, visit func(link, target string) error) (string, error) {
	if name == "" {
		return "", wrap("resolve", name, unix.ENOENT)
	}
	if !strings.HasPrefix(name, "/") {
		if r == nil {
			wd, err := os.Getwd()
			if err != nil {
				return "", err
			}
			name = wd + "/" + name
		} else {
			name = "/" + name
		}
	}
	resolved := "/"
	rest := name
	links := 0
	for rest != "" {
		var elem string
		elem, rest, _ = strings.Cut(rest, "/")
		switch elem {
		case "", ".":
			continue
		case "..":
			// At the top, ".." is the top itself (as chroot makes it).
			resolved = path.Dir(resolved)
			continue
		}
		next := path.Join(resolved, elem)
		st, err := r.Lstat(next)
		if err != nil {
			return "", err
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			links++
			if links > maxLinks {
				return "", wrap("resolve", name, unix.ELOOP)
			}
			target, err := r.Readlink(next)
			if err != nil {
				return "", err
			}
			if visit != nil {
				if err := visit(next, target); err != nil {
					return "", err
				}
			}
			if strings.HasPrefix(target, "/") {
				resolved = "/"
			}
			rest = target + "/" + rest
		case unix.S_IFDIR:
			resolved = next
		default:
			if strings.Trim(rest, "/") != "" {
				return "", wrap("resolve", next, unix.ENOTDIR)
			}
			resolved = next
		}
	}
	return resolved, nil
}
