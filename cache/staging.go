package cache

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Staging keeps local files that hold writes until they are uploaded.
// Each staged file is a data file "<id>.data" plus a sidecar record
// "<id>.json" that names its VM path, so that a later process can find
// what a crashed one (or a failed upload) left behind: see Leftovers.
// One process at a time may use a staging directory.
type Staging struct {
	dir       string
	temporary bool // dir is private to this Staging and removed by Close

	mu sync.Mutex // protects the fields below
	// files are the staged files of this process, by id.
	files  map[string]*StagedFile
	closed bool
}

// sidecar is the record kept next to a data file.
type sidecar struct {
	// VMPath is kept as bytes (base64 in JSON): a name may be any byte
	// string, and a JSON string would mangle invalid UTF-8.
	VMPath   []byte    `json:"vm_path"`
	Updated  time.Time `json:"updated"`  // when the record was written
	Complete bool      `json:"complete"` // no byte of the data is missing
}

const (
	dataSuffix    = ".data"
	sidecarSuffix = ".json"
)

// NewStaging opens (creating it 0700 when needed) a staging directory.
// dir "" creates a private temporary directory that Close removes.
func NewStaging(dir string) (*Staging, error) {
	s := &Staging{dir: dir, files: make(map[string]*StagedFile)}
	if dir == "" {
		d, err := os.MkdirTemp("", "arkerfs-staging-")
		if err != nil {
			return nil, fmt.Errorf("cache: staging: %w", err)
		}
		s.dir, s.temporary = d, true
		return s, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cache: staging: %w", err)
	}
	return s, nil
}

// Dir returns the staging directory.
func (s *Staging) Dir() string { return s.dir }

// Create stages a new, empty file for vmPath. All its content is real
// (nothing is missing): use it for a file created or truncated to zero.
func (s *Staging) Create(vmPath string) (*StagedFile, error) {
	return s.create(vmPath, 0)
}

// CreateFrom stages a copy of an existing remote file of size bytes whose
// content is not here yet: [0, size) starts missing and reads as zeros
// until it is filled (see StagedFile.Fill). Writes and truncations work at
// once; the remote bytes are fetched only where needed.
func (s *Staging) CreateFrom(vmPath string, size int64) (*StagedFile, error) {
	if size < 0 {
		return nil, fmt.Errorf("cache: staging: negative size %d", size)
	}
	return s.create(vmPath, size)
}

func (s *Staging) create(vmPath string, size int64) (*StagedFile, error) {
	id, err := newID()
	if err != nil {
		return nil, err
	}
	f := &StagedFile{s: s, id: id, vmPath: vmPath, size: size, low: size, complete: size == 0}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("cache: staging closed: %w", os.ErrClosed)
	}
	// The sidecar comes first: a data file never exists without one.
	if err := f.writeSidecar(); err != nil {
		return nil, err
	}
	data, err := os.OpenFile(s.path(id, dataSuffix), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil && size > 0 {
		err = data.Truncate(size)
	}
	if err != nil {
		if data != nil {
			data.Close()
		}
		_ = os.Remove(s.path(id, dataSuffix))
		_ = os.Remove(s.path(id, sidecarSuffix))
		return nil, fmt.Errorf("cache: staging %q: %w", vmPath, err)
	}
	f.f = data
	s.files[id] = f
	return f, nil
}

// Leftover is a staged file that a previous process left behind.
type Leftover struct {
	VMPath    string    // the VM path the file was to be uploaded to
	LocalPath string    // the data file
	Size      int64     // bytes in the data file
	ModTime   time.Time // last change of the data file
	// Complete reports that every byte is real content. When false, parts
	// of the file were never filled from the remote copy and the data
	// must not be uploaded as it is.
	Complete bool
	id       string
}

// Leftovers lists the staged files in the directory that this Staging did
// not create or adopt, oldest first. Sidecars whose data file is gone
// (a crash inside Create or Remove) are deleted on the way.
func (s *Staging) Leftovers() ([]Leftover, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("cache: staging leftovers: %w", err)
	}
	var out []Leftover
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), sidecarSuffix)
		if !ok || strings.HasPrefix(id, ".") {
			continue
		}
		s.mu.Lock()
		_, mine := s.files[id]
		s.mu.Unlock()
		if mine {
			continue
		}
		l, ok, err := s.readLeftover(id)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ModTime.Before(out[j].ModTime) })
	return out, nil
}

func (s *Staging) readLeftover(id string) (Leftover, bool, error) {
	raw, err := os.ReadFile(s.path(id, sidecarSuffix))
	if errors.Is(err, os.ErrNotExist) {
		return Leftover{}, false, nil // removed meanwhile
	}
	if err != nil {
		return Leftover{}, false, fmt.Errorf("cache: staging leftovers: %w", err)
	}
	var rec sidecar
	if err := json.Unmarshal(raw, &rec); err != nil {
		return Leftover{}, false, fmt.Errorf("cache: staging leftovers: sidecar %s: %w", id, err)
	}
	st, err := os.Stat(s.path(id, dataSuffix))
	if errors.Is(err, os.ErrNotExist) {
		_ = os.Remove(s.path(id, sidecarSuffix))
		return Leftover{}, false, nil
	}
	if err != nil {
		return Leftover{}, false, fmt.Errorf("cache: staging leftovers: %w", err)
	}
	return Leftover{VMPath: string(rec.VMPath), LocalPath: s.path(id, dataSuffix), Size: st.Size(),
		ModTime: st.ModTime(), Complete: rec.Complete, id: id}, true, nil
}

// Adopt takes over a leftover as a staged file of this process, dirty, so
// that it can be uploaded (if Complete) and then removed. An incomplete
// leftover comes back with all of its content marked missing.
func (s *Staging) Adopt(l Leftover) (*StagedFile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("cache: staging closed: %w", os.ErrClosed)
	}
	if _, ok := s.files[l.id]; ok || l.id == "" {
		return nil, fmt.Errorf("cache: staging: %q is not a leftover", l.VMPath)
	}
	data, err := os.OpenFile(s.path(l.id, dataSuffix), os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("cache: staging adopt %q: %w", l.VMPath, err)
	}
	st, err := data.Stat()
	if err != nil {
		data.Close()
		return nil, fmt.Errorf("cache: staging adopt %q: %w", l.VMPath, err)
	}
	f := &StagedFile{s: s, id: l.id, f: data, vmPath: l.VMPath, size: st.Size(),
		complete: l.Complete, dirty: true, gen: 1}
	if l.Complete {
		f.filled.add(0, f.size)
	}
	s.files[l.id] = f
	return f, nil
}

// Discard deletes a leftover's files.
func (s *Staging) Discard(l Leftover) error {
	return removeBoth(s.path(l.id, dataSuffix), s.path(l.id, sidecarSuffix))
}

// Close closes the staged files of this process. Their data stays on disk
// (a later Staging on the same directory lists it as leftovers) unless the
// directory is the private temporary one, which is removed.
func (s *Staging) Close() error {
	s.mu.Lock()
	s.closed = true
	files := s.files
	s.files = make(map[string]*StagedFile)
	s.mu.Unlock()
	var errs []error
	for _, f := range files {
		errs = append(errs, f.closeFile())
	}
	if s.temporary {
		errs = append(errs, os.RemoveAll(s.dir))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cache: close staging: %w", err)
	}
	return nil
}

// forget drops a removed file from the files of this process.
func (s *Staging) forget(id string) {
	s.mu.Lock()
	delete(s.files, id)
	s.mu.Unlock()
}

func (s *Staging) path(id, suffix string) string { return filepath.Join(s.dir, id+suffix) }

func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("cache: staging id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// removeBoth deletes a data file and then its sidecar (in that order, so
// that a crash in between leaves a sidecar without data, which Leftovers
// cleans, and never data without a name).
func removeBoth(data, side string) error {
	err := os.Remove(data)
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	if serr := os.Remove(side); serr != nil && !errors.Is(serr, os.ErrNotExist) {
		err = errors.Join(err, serr)
	}
	if err != nil {
		return fmt.Errorf("cache: staging remove: %w", err)
	}
	return nil
}
