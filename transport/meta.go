package transport

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/arker-ai/arkerfs/transport/helper"
)

// The metadata helper's types, as the rest of arkerfs uses them.
type (
	MetaOp = helper.Op
	Attr   = helper.Attr
	Entry  = helper.Entry
	Statfs = helper.Statfs
)

// MetaResult is the outcome of one MetaOp; Err is an *Error whose code
// names the errno the VM reported.
type MetaResult struct {
	Attr      *Attr
	Entries   []Entry
	Target    string
	Statfs    *Statfs
	Truncated bool
	Err       error
}

// metaRunTimeout is the helper's time limit on the VM per run.
const metaRunTimeout = 60 * time.Second

// Meta runs helper operations on the VM, as few runs as the command size
// allows. Each run carries a fresh idempotency key, so it is retried
// safely. The error is for the runs themselves; each result has its own.
func (c *Client) Meta(ctx context.Context, ops ...MetaOp) ([]MetaResult, error) {
	out := make([]MetaResult, 0, len(ops))
	for _, batch := range helper.Split(ops, helper.MaxCommandBytes) {
		res, err := c.metaRun(ctx, batch)
		if err != nil {
			return nil, err
		}
		out = append(out, res...)
	}
	return out, nil
}

func (c *Client) metaRun(ctx context.Context, ops []MetaOp) ([]MetaResult, error) {
	cmd, err := helper.Command(ops)
	if err != nil {
		return nil, &Error{Code: CodeInvalid, Op: string(ops[0].Kind), Path: ops[0].Path, Err: err}
	}
	r, err := c.Run(ctx, cmd, RunOptions{Timeout: metaRunTimeout, IdempotencyKey: newKey()})
	if err != nil {
		return nil, err
	}
	if r.ExitCode != 0 {
		return nil, &Error{Code: CodeProtocol, Op: "metadata helper",
			Message: fmt.Sprintf("exit %d: %s", r.ExitCode, excerpt(r.Stderr))}
	}
	parsed, err := helper.Parse(r.Stdout, ops)
	if err != nil {
		return nil, &Error{Code: CodeProtocol, Op: "metadata helper", Message: excerpt(r.Stderr), Err: err}
	}
	res := make([]MetaResult, len(ops))
	for i, p := range parsed {
		res[i] = MetaResult{Attr: p.Attr, Entries: p.Entries, Target: p.Target, Statfs: p.Statfs, Truncated: p.Truncated}
		if p.Err != nil {
			res[i].Err = &Error{Code: CodeForErrno(p.Err.Errno), Op: string(ops[i].Kind), Path: ops[i].Path, Message: p.Err.Error()}
		}
	}
	return res, nil
}

// newKey is a fresh idempotency key.
func newKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func excerpt(b []byte) string {
	if len(b) > 300 {
		b = b[:300]
	}
	return string(b)
}

// one runs a single op and returns its result with its own error.
func (c *Client) one(ctx context.Context, op MetaOp) (MetaResult, error) {
	res, err := c.Meta(ctx, op)
	if err != nil {
		return MetaResult{}, err
	}
	return res[0], res[0].Err
}

// Stat returns path's attributes (symlinks not followed).
func (c *Client) Stat(ctx context.Context, path string) (Attr, error) {
	r, err := c.one(ctx, MetaOp{Kind: helper.OpStat, Path: path})
	if err != nil {
		return Attr{}, err
	}
	return *r.Attr, nil
}

// List returns a directory's entries with their attributes.
func (c *Client) List(ctx context.Context, dir string) ([]Entry, error) {
	r, err := c.one(ctx, MetaOp{Kind: helper.OpList, Path: dir})
	return r.Entries, err
}

// Mkdir makes a directory and returns its attributes.
func (c *Client) Mkdir(ctx context.Context, path string, mode uint32) (Attr, error) {
	return c.attrOp(ctx, MetaOp{Kind: helper.OpMkdir, Path: path, Mode: mode})
}

// Rename renames a file or directory and returns the destination's attributes.
func (c *Client) Rename(ctx context.Context, from, to string, noReplace bool) (Attr, error) {
	return c.attrOp(ctx, MetaOp{Kind: helper.OpRename, Path: from, Path2: to, NoReplace: noReplace})
}

// Remove unlinks a file or removes an empty directory.
func (c *Client) Remove(ctx context.Context, path string, dir bool) error {
	k := helper.OpUnlink
	if dir {
		k = helper.OpRmdir
	}
	_, err := c.one(ctx, MetaOp{Kind: k, Path: path})
	return err
}

func (c *Client) attrOp(ctx context.Context, op MetaOp) (Attr, error) {
	r, err := c.one(ctx, op)
	if err != nil {
		return Attr{}, err
	}
	if r.Attr == nil {
		return Attr{}, &Error{Code: CodeProtocol, Op: string(op.Kind), Path: op.Path, Message: "no attributes in the answer"}
	}
	return *r.Attr, nil
}
