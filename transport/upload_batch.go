package transport

import "context"

// UploadBatcher sends uploads that become ready together in as few sync
// requests as Upload can pack (group commit): an upload that arrives while
// none is in flight goes at once; uploads that arrive meanwhile go together
// in the next round. Many files closed at the same moment (an editor
// saving all, parallel writers) share round trips; a lone one never waits.
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

// Do uploads u, possibly together with others, and returns its result. A
// caller that gives up leaves its upload to the round; its upload id makes
// a later retry of the same data harmless.
func (b *UploadBatcher) Do(ctx context.Context, u Upload) UploadResult {
	if r, ok := b.g.do(ctx, u); ok {
		return r
	}
	return UploadResult{Path: u.Path, Err: netError(ctx, "upload", u.Path, ctx.Err())}
}
