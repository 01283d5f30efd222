package transport

import (
	"context"

	"github.com/arker-ai/arkerfs/transport/helper"
)

// The wrappers below run one metadata operation each, in one run of the
// helper (docs/HELPER.md has their exact semantics); send several at once
// with Meta or MetaBatcher. Their error is the run's or the operation's:
// an operation's error is an *Error whose Code names the VM's errno
// (CodeNotFound for ENOENT, CodeExists for EEXIST, ...); a run's error is
// the transport's (CodeTimeout, CodeUnavailable, ...).
//
// Idempotency: the run carries an Idempotency-Key and is retried under it,
// so one call acts at most once even when answers are lost. A second call
// is a new operation: Stat, List, Tree, Readlink and StatFS may be
// repeated freely; Mkdir, Create with exclusive, Symlink, Link and Rename
// with noReplace answer CodeExists the second time; Rmdir and Unlink
// CodeNotFound; Chmod, Utimens and Truncate do the same thing again; a
// plain Rename of a moved file answers CodeNotFound.

// one runs a single op; the error is the run's or the op's own.
func (c *Client) one(ctx context.Context, op MetaOp) (MetaResult, error) {
	res, err := c.Meta(ctx, op)
	if err != nil {
		return MetaResult{}, err
	}
	return res[0], res[0].Err
}

// attrOp runs an op that answers attributes.
func (c *Client) attrOp(ctx context.Context, op MetaOp) (Attr, error) {
	r, err := c.one(ctx, op)
	if err != nil {
		return Attr{}, err
	}
	return *r.Attr, nil
}

// Stat returns path's attributes; a symlink is not followed.
func (c *Client) Stat(ctx context.Context, path string) (Attr, error) {
	return c.attrOp(ctx, MetaOp{Kind: helper.OpStat, Path: path})
}

// List returns a directory's entries, each with its attributes.
func (c *Client) List(ctx context.Context, dir string) ([]Entry, error) {
	r, err := c.one(ctx, MetaOp{Kind: helper.OpList, Path: dir})
	return r.Entries, err
}

// Tree returns the entries below dir down to depth levels, at most limit
// of them in depth-first pre-order, with names relative to dir;
// truncated says there were more.
func (c *Client) Tree(ctx context.Context, dir string, depth, limit int) (entries []Entry, truncated bool, err error) {
	r, err := c.one(ctx, MetaOp{Kind: helper.OpTree, Path: dir, Depth: depth, Limit: limit})
	return r.Entries, r.Truncated, err
}

// Mkdir makes a directory with exactly mode's permission bits.
func (c *Client) Mkdir(ctx context.Context, path string, mode uint32) (Attr, error) {
	return c.attrOp(ctx, MetaOp{Kind: helper.OpMkdir, Path: path, Mode: mode})
}

// Create makes an empty file with exactly mode's permission bits. If
// exclusive, an existing path fails with CodeExists; otherwise an
// existing file is returned as it is.
func (c *Client) Create(ctx context.Context, path string, mode uint32, exclusive bool) (Attr, error) {
	return c.attrOp(ctx, MetaOp{Kind: helper.OpCreate, Path: path, Mode: mode, Exclusive: exclusive})
}

// Rmdir removes an empty directory.
func (c *Client) Rmdir(ctx context.Context, path string) error {
	_, err := c.one(ctx, MetaOp{Kind: helper.OpRmdir, Path: path})
	return err
}

// Unlink removes a file that is not a directory.
func (c *Client) Unlink(ctx context.Context, path string) error {
	_, err := c.one(ctx, MetaOp{Kind: helper.OpUnlink, Path: path})
	return err
}

// Rename renames from to to as rename(2) does, or as RENAME_NOREPLACE
// does if noReplace, and returns the attributes of to.
func (c *Client) Rename(ctx context.Context, from, to string, noReplace bool) (Attr, error) {
	return c.attrOp(ctx, MetaOp{Kind: helper.OpRename, Path: from, Path2: to, NoReplace: noReplace})
}

// Chmod sets path's permission bits (not through a symlink).
func (c *Client) Chmod(ctx context.Context, path string, mode uint32) (Attr, error) {
	return c.attrOp(ctx, MetaOp{Kind: helper.OpChmod, Path: path, Mode: mode})
}

// Utimens sets path's access and modification times (not through a
// symlink); a MetaTime that is not Set is left alone.
func (c *Client) Utimens(ctx context.Context, path string, atime, mtime MetaTime) (Attr, error) {
	return c.attrOp(ctx, MetaOp{Kind: helper.OpUtimens, Path: path, Atime: atime, Mtime: mtime})
}

// Truncate sets a regular file's size.
func (c *Client) Truncate(ctx context.Context, path string, size int64) (Attr, error) {
	return c.attrOp(ctx, MetaOp{Kind: helper.OpTruncate, Path: path, Size: size})
}

// Symlink makes path a symbolic link holding target (any bytes but NUL).
func (c *Client) Symlink(ctx context.Context, target, path string) (Attr, error) {
	return c.attrOp(ctx, MetaOp{Kind: helper.OpSymlink, Path: path, Target: target})
}

// Readlink returns a symbolic link's target.
func (c *Client) Readlink(ctx context.Context, path string) (string, error) {
	r, err := c.one(ctx, MetaOp{Kind: helper.OpReadlink, Path: path})
	return r.Target, err
}

// Link makes newPath a hard link to oldPath and returns its attributes.
func (c *Client) Link(ctx context.Context, oldPath, newPath string) (Attr, error) {
	return c.attrOp(ctx, MetaOp{Kind: helper.OpLink, Path: oldPath, Path2: newPath})
}

// StatFS returns the capacity of the file system holding path.
func (c *Client) StatFS(ctx context.Context, path string) (Statfs, error) {
	r, err := c.one(ctx, MetaOp{Kind: helper.OpStatfs, Path: path})
	if err != nil {
		return Statfs{}, err
	}
	return *r.Statfs, nil
}
