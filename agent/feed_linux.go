//go:build linux

package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/arker-ai/arkerfs/agent/proto"
)

// watchMask is what the feed hears of a directory: its entries made,
// removed, renamed, written and changed in attributes. Symlinks are not
// followed; unlinked files still open are not reported.
const watchMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MODIFY | unix.IN_CLOSE_WRITE | unix.IN_ATTRIB |
	unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF |
	unix.IN_DONT_FOLLOW | unix.IN_ONLYDIR | unix.IN_EXCL_UNLINK

// feed is the change feed of one root: inotify watches on every directory
// below it, and the latest proto.MaxEvents changes numbered in order.
type feed struct {
	root string
	file *os.File // the inotify descriptor, non-blocking, through Go's poller
	logf func(format string, args ...any)

	mu sync.Mutex // protects the fields below
	// dirs maps a watch descriptor to its directory's path.
	dirs map[int32]string
	// ring holds the latest changes, oldest first; seq numbers the
	// newest (ring[len-1].seq == seq when the ring is not empty).
	ring []change
	seq  uint64
	// lostAt is the number of the latest change after which changes were
	// lost: the kernel's queue overflowed, or a directory could not be
	// watched (the watch limit). Clients that last saw an older number
	// revalidate everything.
	lostAt uint64
	// full is set once the watch limit was met (and said in the log).
	full bool
	// wake is closed, and replaced, whenever a change is numbered.
	wake chan struct{}
}

// change is one numbered path that changed.
type change struct {
	seq  uint64
	path string
}

// newFeed watches every directory below root and starts reading events.
func newFeed(root string, logf func(format string, args ...any)) (*feed, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	f := &feed{root: root, file: os.NewFile(uintptr(fd), "inotify"), logf: logf,
		dirs: make(map[int32]string), wake: make(chan struct{})}
	f.mu.Lock()
	f.watchTree(root)
	f.mu.Unlock()
	go f.read()
	return f, nil
}

// close stops the feed.
func (f *feed) close() { f.file.Close() }

// watchTree adds watches for dir and every directory below it. f.mu must
// be held. A directory that cannot be watched for want of watches marks
// changes as lost (said once in the log); one that vanished meanwhile
// does not matter.
func (f *feed) watchTree(dir string) {
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		wd, err := unix.InotifyAddWatch(int(f.file.Fd()), p, watchMask)
		switch {
		case errors.Is(err, unix.ENOSPC):
			if !f.full {
				f.full = true
				f.logf("inotify: out of watches at %s: the change feed is incomplete (fs.inotify.max_user_watches)", p)
			}
			f.lose()
			return filepath.SkipAll
		case err != nil:
			return nil
		}
		f.dirs[int32(wd)] = p
		return nil
	})
}

// read turns inotify events into numbered changes until the descriptor
// is closed.
func (f *feed) read() {
	buf := make([]byte, 64<<10)
	for {
		n, err := f.file.Read(buf)
		if err != nil {
			return
		}
		f.mu.Lock()
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			off += unix.SizeofInotifyEvent + int(ev.Len)
			f.event(ev.Wd, ev.Mask, cString(name))
		}
		f.mu.Unlock()
	}
}

// event records one inotify event. f.mu must be held.
func (f *feed) event(wd int32, mask uint32, name string) {
	if mask&unix.IN_Q_OVERFLOW != 0 {
		f.lose()
		return
	}
	dir, ok := f.dirs[wd]
	if !ok {
		return
	}
	if mask&unix.IN_IGNORED != 0 {
		delete(f.dirs, wd)
		return
	}
	p := dir
	if name != "" {
		p = filepath.Join(dir, name)
	}
	f.note(p)
	if mask&unix.IN_ISDIR != 0 && mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0 {
		// A directory made or moved in: watch it, and report what it
		// already holds (made before its watch was in place).
		f.watchTree(p)
		_ = filepath.WalkDir(p, func(q string, _ os.DirEntry, err error) error {
			if err == nil && q != p {
				f.note(q)
			}
			return nil
		})
	}
}

// note numbers a change of p. f.mu must be held.
func (f *feed) note(p string) {
	f.seq++
	if len(f.ring) == proto.MaxEvents {
		copy(f.ring, f.ring[1:])
		f.ring = f.ring[:len(f.ring)-1]
	}
	f.ring = append(f.ring, change{seq: f.seq, path: p})
	close(f.wake)
	f.wake = make(chan struct{})
}

// lose records that changes were lost. f.mu must be held.
func (f *feed) lose() {
	f.seq++
	f.lostAt = f.seq
	close(f.wake)
	f.wake = make(chan struct{})
}

// since answers the changes numbered after after, waiting up to wait for
// one when there is none (proto.Events). after 0 with hasAfter false asks
// where to start.
func (f *feed) since(ctx context.Context, after uint64, hasAfter bool, wait time.Duration) proto.Events {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		f.mu.Lock()
		ev, wake := f.answer(after, hasAfter), f.wake
		f.mu.Unlock()
		if ev.Overflow || len(ev.Paths) > 0 || !hasAfter || wait <= 0 {
			return ev
		}
		select {
		case <-wake:
		case <-timer.C:
			return ev
		case <-ctx.Done():
			return ev
		}
	}
}

// answer is since without the wait. f.mu must be held.
func (f *feed) answer(after uint64, hasAfter bool) proto.Events {
	ev := proto.Events{Seq: f.seq}
	if !hasAfter {
		return ev
	}
	oldest := f.seq + 1 // the number of the oldest change the ring holds
	if len(f.ring) > 0 {
		oldest = f.ring[0].seq
	}
	if after > f.seq || after < f.lostAt || after+1 < oldest && after < f.seq {
		// Another agent's numbers, or changes lost after it.
		ev.Overflow = true
		return ev
	}
	seen := make(map[string]bool)
	for i := len(f.ring) - 1; i >= 0 && f.ring[i].seq > after; i-- {
		p := f.ring[i].path
		if !seen[p] {
			seen[p] = true
			ev.Paths = append(ev.Paths, []byte(p))
		}
	}
	return ev
}

// cString is name up to its first NUL (inotify pads names with NULs).
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// feeds are the change feeds of the roots the agent's mounts asked for,
// each started on first use and stopped when the agent stops.
type feeds struct {
	logf   func(format string, args ...any)
	mu     sync.Mutex       // protects byRoot
	byRoot map[string]*feed // root → its feed
}

func newFeeds(logf func(format string, args ...any)) *feeds {
	return &feeds{logf: logf, byRoot: make(map[string]*feed)}
}

// of returns root's feed, starting it if need be.
func (fs *feeds) of(root string) (*feed, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.byRoot[root]; ok {
		return f, nil
	}
	f, err := newFeed(root, fs.logf)
	if err != nil {
		return nil, err
	}
	fs.byRoot[root] = f
	return f, nil
}

// close stops every feed.
func (fs *feeds) close() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for root, f := range fs.byRoot {
		f.close()
		delete(fs.byRoot, root)
	}
}
