package transport

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// Streamed uploads: a large file sent while it is still being written.
//
// A sequential writer of a big file would otherwise wait at close for the
// whole upload. A PartStream PUTs the parts the writer has finished in the
// background, under a presigned layout of a provisional size that grows
// (doubling) as the file does; the server keeps the full parts two
// layouts share (PROTOCOL.md, presign). A hasher follows the writer too,
// so that at close only the tail is hashed and sent, then the final
// layout is presigned and the upload committed.
//
// Every change of the source's bytes must be reported (Changed): each
// part counts its changes, and a part is taken as sent, or hashed, only
// if its count is still the one read before its bytes were.

// PartStream uploads one file while it is being written. Make it with
// NewPartStream; report changes with Changed and progress with Ready;
// end it with exactly one of Finish or Abort. Safe for concurrent use.
type PartStream struct {
	c        *Client
	path, id string
	src      io.ReaderAt
	partSize int64
	ctx      context.Context // background work runs under it; Abort cancels it
	cancel   context.CancelFunc
	wg       sync.WaitGroup // background goroutines
	bufs     chan []byte    // free part buffers

	mu sync.Mutex // protects the fields below; never held across a request or a read of src
	// ready: bytes [0, ready) are finished; parts wholly inside may go.
	ready int64
	// gens[i] counts the changes of part i's bytes; sent[i] is gens[i]+1
	// of the bytes its last successful PUT carried (0: none); busy[i] says
	// a PUT of it is in flight.
	gens, sent []uint64
	busy       []bool
	inflight   int
	// The current layout: parts (full ones only are used before Finish),
	// its size and the URLs' expiry on the local clock.
	urls       []wire.PresignedPart
	laidOut    int64
	expires    time.Time
	presigning bool
	// The running hash covers parts [0, len(hashGens)); hashGens[i] is
	// gens[i] as it was before part i's bytes were read for it.
	hash     hash.Hash
	hashGens []uint64
	hashing  bool
	broken   error // a background failure: nothing more goes in the background
	ended    bool  // Finish or Abort began
}

// streamPartsAhead is how many parts past the writer a provisional layout
// reaches, on top of doubling.
const streamPartsAhead = 8

// NewPartStream starts a streamed upload of src to path under uploadID.
// Nothing is sent until Ready says bytes are finished.
func (c *Client) NewPartStream(path, uploadID string, src io.ReaderAt) *PartStream {
	ctx, cancel := context.WithCancel(context.Background())
	return &PartStream{c: c, path: path, id: uploadID, src: src, partSize: wire.PartSize,
		ctx: ctx, cancel: cancel, bufs: make(chan []byte, c.cfg.MaxParallel+1), hash: sha256.New()}
}

// Path returns the VM path the stream uploads to.
func (s *PartStream) Path() string { return s.path }

// Changed records that bytes [off, end) of the source changed. Call it
// after they did.
func (s *PartStream) Changed(off, end int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	first := int(off / s.partSize)
	for i := first; i < len(s.gens) && int64(i)*s.partSize < end; i++ {
		s.gens[i]++
	}
}

// Ready says that bytes [0, end) are finished (the writer has moved past
// them): the parts they cover are hashed and sent in the background.
func (s *PartStream) Ready(end int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if end <= s.ready {
		return
	}
	s.ready = end
	for n := int(end / s.partSize); len(s.gens) < n; {
		s.gens, s.sent, s.busy = append(s.gens, 0), append(s.sent, 0), append(s.busy, false)
	}
	s.kickLocked()
}

// Abort stops the stream; what was sent is left to expire on the server.
func (s *PartStream) Abort() {
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// readyParts is the number of parts wholly finished.
// LOCKS_REQUIRED(s.mu)
func (s *PartStream) readyPartsLocked() int { return int(s.ready / s.partSize) }

// kickLocked starts the background work there is room for: the hasher,
// a presign when the layout is too small or its URLs near expiry, and
// PUTs of finished parts not sent as they are now.
// LOCKS_REQUIRED(s.mu)
func (s *PartStream) kickLocked() {
	if s.ended || s.broken != nil {
		return
	}
	n := s.readyPartsLocked()
	if !s.hashing && len(s.hashGens) < n {
		s.hashing = true
		s.wg.Add(1)
		go s.hashAhead()
	}
	stale := !s.expires.IsZero() && time.Until(s.expires) < refreshMargin
	// A larger provisional layout when the writer has passed this one
	// (never past maxParts: beyond, the rest waits for Finish).
	want := min(2*s.ready/s.partSize+streamPartsAhead, maxParts) * s.partSize
	if (n > len(s.urls) && want > s.laidOut || stale) && !s.presigning {
		s.presigning = true
		s.wg.Add(1)
		go s.relayout(max(want, s.laidOut))
	}
	if stale {
		return
	}
	for i := 0; i < n && i < len(s.urls) && s.inflight < s.c.cfg.MaxParallel; i++ {
		if s.busy[i] || s.sent[i] == s.gens[i]+1 {
			continue
		}
		s.busy[i] = true
		s.inflight++
		s.wg.Add(1)
		go s.sendPart(i, s.urls[i], s.gens[i])
	}
}

// relayout presigns a provisional layout of size bytes.
func (s *PartStream) relayout(size int64) {
	defer s.wg.Done()
	var parts []wire.PresignedPart
	var expires time.Time
	err := s.c.retry.do(s.ctx, "presign", func(ctx context.Context) error {
		var err error
		parts, expires, err = s.c.presign(ctx, s.path, s.id, size, s.partSize)
		return err
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	s.presigning = false
	if err != nil {
		s.failLocked(err)
		return
	}
	s.urls, s.laidOut, s.expires = parts[:size/s.partSize], size, expires
	s.kickLocked()
}

// sendPart PUTs part i with url; gen is the part's change count read
// before its bytes are.
func (s *PartStream) sendPart(i int, url wire.PresignedPart, gen uint64) {
	defer s.wg.Done()
	buf := s.buffer()
	err := readFullAt(s.src, buf, int64(i)*s.partSize)
	if err == nil {
		err = s.c.retry.do(s.ctx, "upload part", func(ctx context.Context) error {
			return s.c.putOnce(ctx, s.path, url, buf)
		})
	}
	s.putBuffer(buf)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.busy[i] = false
	s.inflight--
	switch e, _ := errors.AsType[*Error](err); {
	case err == nil:
		s.sent[i] = gen + 1
	case e != nil && e.Status == http.StatusForbidden:
		s.expires = time.Now() // the URL expired: the next kick renews the layout
	default:
		s.failLocked(err)
		return
	}
	s.kickLocked()
}

// hashAhead feeds the finished parts, in order, to the running hash.
func (s *PartStream) hashAhead() {
	defer s.wg.Done()
	buf := s.buffer()
	defer s.putBuffer(buf)
	for {
		s.mu.Lock()
		i := len(s.hashGens)
		if s.ended || i >= s.readyPartsLocked() {
			s.hashing = false
			s.mu.Unlock()
			return
		}
		gen := s.gens[i]
		s.mu.Unlock()
		if err := readFullAt(s.src, buf, int64(i)*s.partSize); err != nil {
			s.mu.Lock()
			s.hashing = false
			s.failLocked(err)
			s.mu.Unlock()
			return
		}
		s.hash.Write(buf) // only this goroutine, or Finish after it ended, touches hash
		s.mu.Lock()
		s.hashGens = append(s.hashGens, gen)
		s.mu.Unlock()
	}
}

// failLocked stops the background work after a failure; Finish sends
// what is missing itself.
// LOCKS_REQUIRED(s.mu)
func (s *PartStream) failLocked(err error) {
	if s.ctx.Err() != nil {
		return // aborted or finishing: not a failure
	}
	if s.broken == nil {
		s.broken = err
		s.c.debugf("streamed upload of %q: background sending stopped: %v", s.path, err)
	}
}

// buffer returns a part buffer (at most MaxParallel PUTs and the hasher
// hold one at a time).
func (s *PartStream) buffer() []byte {
	select {
	case b := <-s.bufs:
		return b
	default:
		return make([]byte, s.partSize)
	}
}

// putBuffer keeps a part buffer for reuse, or drops it when enough are kept.
func (s *PartStream) putBuffer(b []byte) {
	select {
	case s.bufs <- b[:cap(b)]:
	default:
	}
}

// Finish uploads the file at its final size: it waits for the background
// PUTs, presigns the final layout, sends the parts that were never sent
// or changed since, completes the hash and commits. ok is false when the
// stream cannot serve this size (smaller than a part, or needing larger
// parts): the stream is then aborted and the caller uploads as usual.
func (s *PartStream) Finish(ctx context.Context, size int64, mode *uint32) (res UploadResult, ok bool) {
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
	s.wg.Wait()
	s.cancel() // nothing runs in the background any more
	u := Upload{Path: s.path, UploadID: s.id, Size: size, Mode: mode, Source: s.src}
	if size < s.partSize || partSizeFor(size) != s.partSize {
		return UploadResult{}, false
	}
	var parts []wire.PresignedPart
	err := s.c.retry.do(ctx, "presign", func(ctx context.Context) error {
		var err error
		parts, _, err = s.c.presign(ctx, s.path, s.id, size, s.partSize)
		return err
	})
	if err != nil {
		return UploadResult{Path: s.path, Err: err}, true
	}
	sum, err := s.finishParts(ctx, parts, size)
	if err != nil {
		return UploadResult{Path: s.path, Err: err}, true
	}
	return s.c.commit(ctx, u, sum), true
}

// finishParts sends the parts of the final layout the server lacks and
// returns the file's sha256. Only parts full in the final layout can have
// been sent or hashed as they are.
func (s *PartStream) finishParts(ctx context.Context, parts []wire.PresignedPart, size int64) (string, error) {
	full := int(size / s.partSize)
	s.mu.Lock()
	hashed := len(s.hashGens)
	for i, g := range s.hashGens {
		if i >= full || s.gens[i] != g {
			hashed = 0 // a hashed part changed since: hash it all again
			s.hash.Reset()
			break
		}
	}
	need := make([]bool, len(parts))
	for i := range parts {
		need[i] = i >= full || i >= len(s.sent) || s.sent[i] != s.gens[i]+1
	}
	s.mu.Unlock()

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.c.cfg.MaxParallel)
	var readErr error
	for i, part := range parts {
		if !need[i] && i < hashed {
			continue
		}
		buf := s.buffer()[:part.Range.Length]
		if err := readFullAt(s.src, buf, part.Range.Offset); err != nil {
			readErr = &Error{Code: CodeIO, Op: "upload", Path: s.path, Message: "reading the source", Err: err}
			break
		}
		if i >= hashed {
			s.hash.Write(buf)
		}
		if !need[i] {
			s.putBuffer(buf)
			continue
		}
		g.Go(func() error {
			defer s.putBuffer(buf)
			return s.c.retry.do(gctx, "upload part", func(ctx context.Context) error {
				return s.c.putOnce(ctx, s.path, part, buf)
			})
		})
	}
	putErr := g.Wait()
	switch {
	case readErr != nil:
		return "", readErr
	case putErr != nil:
		return "", putErr
	case ctx.Err() != nil:
		return "", ctxFailure(ctx, "upload", s.path)
	}
	return hex.EncodeToString(s.hash.Sum(nil)), nil
}
