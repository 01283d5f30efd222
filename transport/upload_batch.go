package transport

import "context"

// UploadBatcher sends uploads that become ready together in as few chunk
// write requests as Upload can pack and one install run (group commit): an
// upload that arrives while none is in flight goes at once; uploads that
// arrive meanwhile go together in the next round. Many files closed at the
// same moment (an editor saving all, parallel writers) share round trips;
// a lone one never waits.
type UploadBatcher struct {
	g *groupCommit[Upload, UploadResult]
}

const (
	maxUploadRound  = 256  // uploads in one round (Upload packs them into requests)
	maxUploadQueued = 4096 // uploads queued or in flight
)

// NewUploadBatcher batches c's uploads.
func NewUploadBatcher(c *Client) *UploadBatcher {
	return &UploadBatcher{g: newGroupCommit(maxUploadRound, maxUploadQueued, c.Upload)}
}

// Do uploads u, possibly together with others, and returns its result
// (see Client.Upload). A caller that gives up is answered at once; an
// upload not yet sent is dropped, one under way finishes in its round.
// Repeating an upload is harmless: it writes the same bytes again.
func (b *UploadBatcher) Do(ctx context.Context, u Upload) UploadResult {
	if r, ok := b.g.do(ctx, u); ok {
		return r
	}
	return UploadResult{Path: u.Path, Err: netError(ctx, "upload", u.Path, ctx.Err())}
}
