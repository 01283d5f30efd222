package fs

import (
	"github.com/arker-ai/arkerfs/cache"
	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/wire"
)

// streamStart is the size at which a file written from its start to its
// end in order begins to upload while it is being written (see
// transport.PartStream): close then waits only for the tail and the
// commit instead of the whole upload.
const streamStart = 4 * wire.PartSize

// noteWrite follows a write of bytes [off, end) to the staged copy st: a
// writer that keeps appending to a whole staged copy gets a streamed
// upload once the file reaches streamStart, and each such write tells
// the stream which parts are finished.
func (f *fileNode) noteWrite(st *cache.StagedFile, off, end int64) {
	f.mu.Lock()
	seq := off == f.writeEnd
	f.writeEnd = end
	s := f.stream
	if s == nil && seq && end >= streamStart && f.staged == st && f.filled && !f.unlinked {
		if p := f.vmPath(); p != "" {
			s = f.fsys.client.NewPartStream(p, newUploadID(), st)
			st.OnChange(s.Changed)
			f.stream = s
		}
	}
	f.mu.Unlock()
	if s != nil && seq {
		s.Ready(end)
	}
}

// takeStream detaches the node's streamed upload, if any, from the node
// and its staged copy. LOCKS_REQUIRED(f.mu)
func (f *fileNode) takeStreamLocked() *transport.PartStream {
	s := f.stream
	if s != nil {
		f.stream = nil
		if f.staged != nil {
			f.staged.OnChange(nil)
		}
	}
	return s
}

// abortStream stops a streamed upload that will not be committed.
func (f *fileNode) abortStream() {
	f.mu.Lock()
	s := f.takeStreamLocked()
	f.mu.Unlock()
	if s != nil {
		s.Abort()
	}
}
