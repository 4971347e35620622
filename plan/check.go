package plan

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/ldgo/ldgo/bindcache"
	"github.com/ldgo/ldgo/object"
)

// Dir is where plans are kept: beside the bind cache's entries
// ($XDG_CACHE_HOME/ldgo/plans, or $HOME/.cache/ldgo/plans); "" when
// neither is set.
func Dir(getenv func(string) string) string {
	d := bindcache.Dir(getenv)
	if d == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(d), "plans")
}

// File is the path of the plan kept in dir for program: one per program,
// whatever the search settings, so that a plan made with other settings
// is found and said to be out of date, and why (Check), rather than
// missing.
func File(dir, program string) string {
	return filepath.Join(dir, bindcache.FileName(program, nil))
}

// ErrSetID is the refusal to keep or use a plan for a set-user-ID or
// set-group-ID program: what runs as another user is never steered by a
// file the invoking user can write.
var ErrSetID = errors.New("set-id programs never use a launch plan")

// setID reports whether the file at path is set-user-ID or set-group-ID.
func setID(path string) (bool, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	return st.Mode&(unix.S_ISUID|unix.S_ISGID) != 0, nil
}

// Store writes p in dir, atomically, with the bind cache's rules (a file
// of the user's, that only the user may write).
func Store(dir string, p *Plan) (string, error) {
	if dir == "" {
		return "", errors.New("no directory for launch plans (neither XDG_CACHE_HOME nor HOME is set)")
	}
	if sid, err := setID(p.Program); err != nil || sid {
		if err == nil {
			err = fmt.Errorf("%s: %w", p.Program, ErrSetID)
		}
		return "", err
	}
	if err := p.Validate(); err != nil {
		return "", err
	}
	path := File(dir, p.Program)
	if err := bindcache.WriteCacheFile(dir, filepath.Base(path), Encode(p)); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return path, nil
}

// Load reads the plan kept in dir for program, opened as bind-cache
// entries are (bindcache.OpenCacheFile: no symbolic link, no FIFO, the
// user's own file that no one else may write). It is checked in itself
// (Decode), not against the files: see Check.
func Load(dir, program string) (*Plan, error) {
	if sid, err := setID(program); err != nil || sid {
		if err == nil {
			err = fmt.Errorf("%s: %w", program, ErrSetID)
		}
		return nil, err
	}
	return Read(File(dir, program))
}

// Read reads the plan file at path, opened the careful way
// (bindcache.OpenCacheFile).
func Read(path string) (*Plan, error) {
	fd, st, err := bindcache.OpenCacheFile(path)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	if st.Size > MaxFile {
		return nil, fmt.Errorf("%s: %w: %d bytes", path, ErrFormat, st.Size)
	}
	b := make([]byte, st.Size)
	for n := 0; n < len(b); {
		k, err := unix.Pread(fd, b[n:], int64(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if k == 0 {
			b = b[:n]
			break
		}
		n += k
	}
	p, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// Stale is why a plan is not valid for the files and settings now.
type Stale struct{ Reason string }

func (s *Stale) Error() string { return "launch plan out of date: " + s.Reason }

// Check reports whether p is still valid for a run with the search
// settings search (bindcache.Settings, which include ldgo's own identity):
// nil if it is, a *Stale saying why not otherwise. Every object's
// identity must be the one recorded, as the bind cache requires: the
// file's status (ctime included) and its content ID (build-id), read
// from the file now.
func Check(p *Plan, search []string) error {
	return CheckIdentities(p, search, func(i int) (object.Identity, error) { return identityNow(&p.Objects[i]) })
}

// CheckIdentities is Check with the identity of object i given by id
// (for objects already open: a run's).
func CheckIdentities(p *Plan, search []string, id func(i int) (object.Identity, error)) error {
	if !slices.Equal(p.Search, search) {
		for i := range max(len(p.Search), len(search)) {
			var was, is string
			if i < len(p.Search) {
				was = p.Search[i]
			}
			if i < len(search) {
				is = search[i]
			}
			if was != is {
				return &Stale{Reason: fmt.Sprintf("search settings changed: %q, now %q", was, is)}
			}
		}
	}
	for i := range p.Objects {
		o := &p.Objects[i]
		id, err := id(i)
		if err != nil {
			return &Stale{Reason: err.Error()}
		}
		if id.FileStatus != o.ID.FileStatus {
			return &Stale{Reason: fmt.Sprintf("%s: file status changed: %s, now %s", o.Path, o.ID.FileStatus, id.FileStatus)}
		}
		if id.Content != o.ID.Content {
			return &Stale{Reason: fmt.Sprintf("%s: content changed: %s, now %s", o.Path, o.ID.Content, id.Content)}
		}
	}
	return nil
}

// identityNow is the identity of o's file as it is now.
func identityNow(o *Object) (object.Identity, error) {
	if o.Kind == VDSO {
		obj, _, err := object.ReadVDSO()
		if err != nil {
			return object.Identity{}, fmt.Errorf("the vDSO: %w", err)
		}
		return object.Identity{Content: obj.ContentID()}, nil
	}
	f, err := object.Open(o.Path)
	if err != nil {
		return object.Identity{}, err
	}
	defer f.Close()
	return object.IdentityOf(f.FileStatus, f.Object), nil
}
