package emulator

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// Upload bookkeeping limits.
const (
	uploadTTL      = time.Hour   // committed results are replayed, and unfinished uploads kept, this long
	maxDone        = 200_000     // committed results kept at most (oldest forgotten first)
	sweepEvery     = time.Minute // how often expired entries are looked for
	maxParts       = 10_000      // parts of one presigned upload
	maxUploadIDLen = 256         // bytes of an upload id
	copyBufSize    = 1 << 20     // buffer of part and blob copies
)

// errUploadClosed says an upload was committed or dropped while a caller
// waited for it; the caller looks the upload id up again.
var errUploadClosed = errors.New("upload closed")

// upload is an unfinished upload: a staging file outside Home.
//
// Lock order: ioMu before mu.
type upload struct {
	id   string
	path []byte   // the path bytes it was started for
	file *os.File // the staging file; after a commit by rename, the committed file
	name string   // the staging file's path

	// ioMu is held shared by data writes (chunks, part PUTs) and
	// exclusively by commit, presign (re)layout and drop, so that the file
	// is never closed or moved under a write.
	ioMu sync.RWMutex

	mu        sync.Mutex // protects the fields below
	touched   time.Time  // last activity, for expiry
	closed    bool       // committed or dropped; file is closed
	presigned bool       // laid out in parts by a presign entry
	size      int64      // presigned: the declared size
	partSize  int64      // presigned: bytes per part
	received  []bool     // presigned: received[i] says part i+1 arrived
	end       int64      // one past the last byte a chunk wrote
	hash      hash.Hash  // running SHA-256 of bytes [0, hashed) while chunks arrive in order; nil once they do not
	hashed    int64
}

// doneUpload is the remembered result of a committed upload.
type doneUpload struct {
	path   []byte
	result wire.SyncWriteResult
	at     time.Time
}

// uploads holds the unfinished uploads and the results of committed ones,
// keyed by upload id.
type uploads struct {
	parent string // directory the staging directory is made in
	now    func() time.Time

	mu        sync.Mutex // protects the fields below
	dir       string     // the staging directory; "" until an upload needs it
	open      map[string]*upload
	done      map[string]*doneUpload
	doneOrder []string // done ids in commit order, for expiry
	lastSweep time.Time
}

func newUploads(parent string, now func() time.Time) *uploads {
	return &uploads{parent: parent, now: now, open: map[string]*upload{}, done: map[string]*doneUpload{}}
}

// stagingParent picks where staging files live: never inside home, and on
// home's file system when possible, so that a commit is a rename. Home's
// parent wins when it qualifies (a test's home from t.TempDir then has its
// staging removed with it), then the system temporary directory.
func stagingParent(home string) string {
	tmp := os.TempDir()
	abs, err := filepath.Abs(home)
	if err != nil {
		return tmp
	}
	parent := filepath.Dir(abs)
	if parent != abs && sameDevice(parent, abs) && unix.Access(parent, unix.W_OK) == nil {
		return parent
	}
	return tmp
}

func sameDevice(a, b string) bool {
	var sa, sb unix.Stat_t
	return unix.Stat(a, &sa) == nil && unix.Stat(b, &sb) == nil && sa.Dev == sb.Dev
}

// lookup finds upload id for path. It returns the committed result when
// the upload was committed, else the open upload, created when create is
// set (nil when not). An id that was used for another path is a conflict.
func (u *uploads) lookup(id string, path []byte, create bool) (*upload, *doneUpload, *apiError) {
	if id == "" || len(id) > maxUploadIDLen {
		return nil, nil, badRequest("upload_id must have 1 to %d bytes", maxUploadIDLen)
	}
	u.sweep()
	u.mu.Lock()
	defer u.mu.Unlock()
	if d, ok := u.done[id]; ok {
		if !bytes.Equal(d.path, path) {
			return nil, nil, errorf(http.StatusConflict, wire.CodeConflict, "", "upload %q was for another path", id)
		}
		return nil, d, nil
	}
	if up, ok := u.open[id]; ok {
		if !bytes.Equal(up.path, path) {
			return nil, nil, errorf(http.StatusConflict, wire.CodeConflict, "", "upload %q is for another path", id)
		}
		return up, nil, nil
	}
	if !create {
		return nil, nil, nil
	}
	up, err := u.createLocked(id, path)
	if err != nil {
		return nil, nil, fileError(fmt.Errorf("creating a staging file: %w", err), "staging")
	}
	return up, nil, nil
}

// createLocked starts an upload with an empty staging file.
// LOCKS_REQUIRED(u.mu)
func (u *uploads) createLocked(id string, path []byte) (*upload, error) {
	if u.dir == "" {
		dir, err := os.MkdirTemp(u.parent, ".arkerfs-staging-")
		if err != nil {
			return nil, err
		}
		u.dir = dir
	}
	f, err := os.CreateTemp(u.dir, "up-")
	if err != nil {
		return nil, err
	}
	up := &upload{id: id, path: path, file: f, name: f.Name(), touched: u.now(), hash: sha256.New()}
	u.open[id] = up
	return up, nil
}

// finish records the result of a committed upload and closes it.
// The caller holds up.ioMu exclusively.
func (u *uploads) finish(up *upload, res wire.SyncWriteResult) {
	up.mu.Lock()
	up.closed = true
	up.mu.Unlock()
	up.file.Close()
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.open, up.id)
	u.done[up.id] = &doneUpload{path: up.path, result: res, at: u.now()}
	u.doneOrder = append(u.doneOrder, up.id)
	for len(u.doneOrder) > maxDone {
		delete(u.done, u.doneOrder[0])
		u.doneOrder = u.doneOrder[1:]
	}
}

// drop abandons an unfinished upload and removes its staging file.
func (u *uploads) drop(up *upload) {
	up.ioMu.Lock()
	defer up.ioMu.Unlock()
	up.mu.Lock()
	wasClosed := up.closed
	up.closed = true
	up.mu.Unlock()
	if !wasClosed {
		up.file.Close()
		os.Remove(up.name)
	}
	u.mu.Lock()
	if u.open[up.id] == up {
		delete(u.open, up.id)
	}
	u.mu.Unlock()
}

// sweep forgets committed results and drops unfinished uploads older than
// uploadTTL, at most once per sweepEvery.
func (u *uploads) sweep() {
	now := u.now()
	u.mu.Lock()
	if now.Sub(u.lastSweep) < sweepEvery {
		u.mu.Unlock()
		return
	}
	u.lastSweep = now
	for len(u.doneOrder) > 0 {
		d, ok := u.done[u.doneOrder[0]]
		if ok && now.Sub(d.at) < uploadTTL {
			break
		}
		delete(u.done, u.doneOrder[0])
		u.doneOrder = u.doneOrder[1:]
	}
	var stale []*upload
	for _, up := range u.open {
		up.mu.Lock()
		if now.Sub(up.touched) >= uploadTTL {
			stale = append(stale, up)
		}
		up.mu.Unlock()
	}
	u.mu.Unlock()
	for _, up := range stale {
		u.drop(up)
	}
}

// tidy removes the staging directory when no upload is unfinished; it is
// made again when needed.
func (u *uploads) tidy() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.dir != "" && len(u.open) == 0 && os.Remove(u.dir) == nil {
		u.dir = ""
	}
}

// writeAt writes chunk data at off of the staging file.
func (up *upload) writeAt(data []byte, off int64) error {
	up.ioMu.RLock()
	defer up.ioMu.RUnlock()
	up.mu.Lock()
	closed := up.closed
	up.mu.Unlock()
	if closed {
		return errUploadClosed
	}
	if _, err := up.file.WriteAt(data, off); err != nil {
		return fmt.Errorf("writing the staging file: %w", err)
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	up.touched = time.Now()
	up.end = max(up.end, off+int64(len(data)))
	if up.hash != nil && off == up.hashed {
		up.hash.Write(data)
		up.hashed += int64(len(data))
	} else {
		up.hash = nil // out of order or re-sent: commit hashes the file
	}
	return nil
}

// digest returns the hex SHA-256 of the first size bytes of the staging
// file, from the running hash when chunks came in order.
// The caller holds up.ioMu exclusively.
func (up *upload) digest(size int64) (string, error) {
	up.mu.Lock()
	h, hashed := up.hash, up.hashed
	up.mu.Unlock()
	if h != nil && hashed == size {
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	h = sha256.New()
	buf := make([]byte, copyBufSize)
	if _, err := copyBuffer(h, up.file, 0, size, buf); err != nil {
		return "", fmt.Errorf("hashing the staging file: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
