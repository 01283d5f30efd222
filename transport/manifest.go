package transport

import (
	"context"
	"net/http"
	"path"
	"unicode/utf8"

	"github.com/arker-ai/arkerfs/wire"
)

// ManifestEntry is one regular file below a manifest's directory.
type ManifestEntry struct {
	Path   string // relative to the directory, no leading slash
	Size   int64
	Mode   uint32 // st_mode as the VM reports it (type bits included)
	SHA256 string // lowercase hex
}

// Manifest lists every regular file below the directory dir on the VM
// (symlinks, directories and special files are left out), with size, mode
// and sha256, in one sync request (safe to repeat, and retried). A missing
// directory lists as empty. At most wire.ManifestMaxEntries files are
// listed; truncated says there were more, and files left out look absent:
// ask for narrower directories to get the rest. dir must be absolute,
// valid UTF-8 and not "/" (CodeInvalid otherwise). The server may quiesce
// the VM's file system briefly to list it.
func (c *Client) Manifest(ctx context.Context, dir string) (entries []ManifestEntry, truncated bool, err error) {
	if !path.IsAbs(dir) || dir == "/" || !utf8.ValidString(dir) {
		return nil, false, &Error{Code: CodeInvalid, Op: "manifest", Path: dir, Message: "want an absolute, valid UTF-8 directory other than /"}
	}
	x, err := c.apiCall("manifest", dir, http.MethodPost, wire.SuffixSync, wire.SyncManifestRequest{Op: wire.OpManifest, Path: dir})
	if err != nil {
		return nil, false, err
	}
	x.limit = 0 // a large answer takes its time; the watchdog bounds it
	var resp wire.SyncManifestResponse
	err = c.retry.do(ctx, x.op, true, func(ctx context.Context) error {
		resp = wire.SyncManifestResponse{}
		_, err := c.doJSON(ctx, x, &resp)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	if resp.HashAlgo != "" && resp.HashAlgo != wire.HashSHA256 {
		return nil, false, &Error{Code: CodeProtocol, Op: x.op, Path: dir, Message: "unknown hash_algo " + resp.HashAlgo}
	}
	entries = make([]ManifestEntry, len(resp.Entries))
	for i, e := range resp.Entries {
		entries[i] = ManifestEntry{Path: e.Path, Size: e.Size, Mode: e.Mode, SHA256: e.Hash}
	}
	return entries, resp.Truncated, nil
}
