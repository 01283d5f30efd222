package agent

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"

	"github.com/arker-ai/arkerfs/agent/proto"
)

// validMountID is what a mount id may be: it names a file.
var validMountID = regexp.MustCompile(`^[0-9A-Za-z]{1,64}$`)

// Bounds of the mount files.
const (
	maxMountFile = 64 << 10 // bytes a mount file may have
	maxMounts    = 64       // mount files kept parsed
)

// mount is a mount's parsed file.
type mount struct {
	secret [sha256.Size]byte // SHA-256 of the secret, compared in constant time
	root   string            // clean and absolute
}

// cachedMount is a mount file as it was read, and what it looked like.
type cachedMount struct {
	m                *mount
	size, ino, mtime int64
}

// mounts reads the mount files of the state directory, re-reading one
// when its size, inode or mtime changes.
type mounts struct {
	dir string // the state directory's mounts/
	uid int    // the agent's uid: the owner every mount file must have

	mu    sync.Mutex             // guards cache
	cache map[string]cachedMount // by mount id; at most maxMounts
}

func newMounts(dir string) *mounts {
	return &mounts{dir: dir, uid: os.Getuid(), cache: map[string]cachedMount{}}
}

// errUnknownMount is a mount id without a (valid) file.
var errUnknownMount = errors.New("unknown mount")

// authorize returns the mount id's mount if secret is its secret. Any
// error means 401; its text says why, for the log (never the secret).
func (ms *mounts) authorize(id, secret string) (*mount, error) {
	m, err := ms.get(id)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(sum[:], m.secret[:]) != 1 {
		return nil, errors.New("wrong secret")
	}
	return m, nil
}

// get is id's mount, from the cache while its file is unchanged.
func (ms *mounts) get(id string) (*mount, error) {
	p := filepath.Join(ms.dir, id)
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUnknownMount, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", errUnknownMount, p)
	}
	size, ino, mtime := fi.Size(), inodeOf(fi), fi.ModTime().UnixNano()
	ms.mu.Lock()
	c, ok := ms.cache[id]
	ms.mu.Unlock()
	if ok && c.size == size && c.ino == ino && c.mtime == mtime {
		return c.m, nil
	}
	m, fi, err := ms.read(p)
	if err != nil {
		return nil, err
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if len(ms.cache) >= maxMounts {
		clear(ms.cache)
	}
	ms.cache[id] = cachedMount{m: m, size: fi.Size(), ino: inodeOf(fi), mtime: fi.ModTime().UnixNano()}
	return m, nil
}

// read reads and checks a mount file: a regular file (not a symlink)
// owned by the agent's user, neither group- nor world-accessible,
// holding a non-empty secret and a clean absolute root.
func (ms *mounts) read(p string) (*mount, os.FileInfo, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", errUnknownMount, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", errUnknownMount, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.Mode().IsRegular():
		return nil, nil, fmt.Errorf("%w: %s is not a regular file", errUnknownMount, p)
	case !ok || int(st.Uid) != ms.uid:
		return nil, nil, fmt.Errorf("%w: %s is not owned by uid %d", errUnknownMount, p, ms.uid)
	case fi.Mode().Perm()&0o077 != 0:
		return nil, nil, fmt.Errorf("%w: %s is accessible to others (mode %#o)", errUnknownMount, p, fi.Mode().Perm())
	case fi.Size() > maxMountFile:
		return nil, nil, fmt.Errorf("%w: %s is larger than %d bytes", errUnknownMount, p, maxMountFile)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxMountFile+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", errUnknownMount, err)
	}
	var mf proto.MountFile
	if err := json.Unmarshal(b, &mf); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", errUnknownMount, p, err)
	}
	root := string(mf.Root)
	switch {
	case mf.Secret == "":
		return nil, nil, fmt.Errorf("%w: %s has no secret", errUnknownMount, p)
	case len(root) == 0 || root[0] != '/' || path.Clean(root) != root:
		return nil, nil, fmt.Errorf("%w: %s: the root %q is not a clean absolute path", errUnknownMount, p, root)
	}
	return &mount{secret: sha256.Sum256([]byte(mf.Secret)), root: root}, fi, nil
}

// forget removes id's mount file (the mount ended): its secret opens
// nothing from then on.
func (ms *mounts) forget(id string) error {
	ms.mu.Lock()
	delete(ms.cache, id)
	ms.mu.Unlock()
	if err := os.Remove(filepath.Join(ms.dir, id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// inodeOf is fi's inode number, 0 where the system does not say.
func inodeOf(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int64(st.Ino)
	}
	return 0
}
