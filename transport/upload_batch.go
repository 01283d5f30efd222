package transport

import "context"

// UploadBatcher sends uploads that become ready together in as few chunk
// write requests as Upload can pack and one install run (group commit): an
// upload that arrives while none is in flight goes at once; uploads that
// arrive meanwhile go together in the next round. Many files closed at the
// same moment (an editor saving all, parallel writers) share round trips;
// a lone one never waits. A large upload goes on its own, at once: it
// gains nothing from company, and the small ones behind it must not wait
// for its bytes; with a server that changes files in place (the agent),
// it goes through that, its bytes unencoded.
type UploadBatcher struct {
	c *Client
	g *groupCommit[Upload, UploadResult]
}

const (
	maxUploadRound  = 256     // uploads in one round (Upload packs them into requests)
	maxUploadQueued = 4096    // uploads queued or in flight
	soloUpload      = 8 << 20 // bytes from which an upload goes on its own
)

// NewUploadBatcher batches c's uploads.
func NewUploadBatcher(c *Client) *UploadBatcher {
	return &UploadBatcher{c: c, g: newGroupCommit(maxUploadRound, maxUploadQueued, c.Upload)}
}

// Do uploads u, possibly together with others, and returns its result
// (see Client.Upload). A caller that gives up is answered at once; an
// upload not yet sent is dropped, one under way finishes in its round.
// Repeating an upload is harmless: it writes the same bytes again.
func (b *UploadBatcher) Do(ctx context.Context, u Upload) UploadResult {
	if u.Size >= soloUpload {
		if r, ok := b.c.uploadThroughServer(ctx, u); ok {
			return r
		}
		return b.c.Upload(ctx, []Upload{u})[0]
	}
	if r, ok := b.g.do(ctx, u); ok {
		return r
	}
	return UploadResult{Path: u.Path, Err: netError(ctx, "upload", u.Path, ctx.Err())}
}
