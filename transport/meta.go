package transport

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/arker-ai/arkerfs/transport/helper"
)

// The metadata helper's types, as the rest of arkerfs uses them
// (docs/HELPER.md).
type (
	MetaOp   = helper.Op
	MetaTime = helper.Time
	Attr     = helper.Attr
	Entry    = helper.Entry
	Statfs   = helper.Statfs
)

// MetaResult is the outcome of one MetaOp. Err is nil on success; else an
// *Error whose Code is CodeForErrno of the errno the VM reported, with Op
// the op's kind and Path its path, and no other field is set.
type MetaResult struct {
	Attr      *Attr
	Entries   []Entry
	Target    string
	Statfs    *Statfs
	Truncated bool
	Value     []byte   // getxattr
	Names     []string // listxattr
	Err       error
}

// metaRunTimeout is the helper's time limit on the VM for one run.
const metaRunTimeout = 60 * time.Second

// metaOpName names the helper's runs in errors.
const metaOpName = "metadata helper"

// Meta runs metadata operations on the VM, in order, in as few runs as the
// command size allows (helper.Split), each in one of the client's own
// sessions. Each run carries a fresh idempotency key, so a lost answer is
// retried without running twice; a run is sent only after the previous
// one answered, so the ops take effect in order.
// An op that fails validation is answered without being sent (EINVAL,
// ENAMETOOLONG). A batch of operations that the MetaServer in use serves
// all of goes to it instead (UseMetaServer); if it fails, the client gives
// it up and sends the batch as runs. The error is for the runs themselves: a run that fails,
// exits non-zero or answers unparsable output (CodeProtocol, with a
// stderr excerpt) returns that error, and the results of every op not
// completed by an earlier run carry it as their Err.
func (c *Client) Meta(ctx context.Context, ops ...MetaOp) ([]MetaResult, error) {
	res, _, err := c.meta(ctx, ops)
	return res, err
}

// meta is Meta, also saying which ops a failed run cut off (their Err is
// the run's error).
func (c *Client) meta(ctx context.Context, ops []MetaOp) (res []MetaResult, cut []bool, err error) {
	res = make([]MetaResult, len(ops))
	send := make([]MetaOp, 0, len(ops))
	idx := make([]int, 0, len(ops)) // send[k] is ops[idx[k]]
	for i, op := range ops {
		if err := helper.Validate(op); err != nil {
			res[i].Err = opError(op, err)
			continue
		}
		send = append(send, op)
		idx = append(idx, i)
	}
	if s := c.serverFor(send); s != nil {
		got, err := s.Meta(ctx, send)
		if err == nil && len(got) == len(send) {
			for k, r := range got {
				res[idx[k]] = r
			}
			return res, nil, nil
		}
		if err == nil {
			err = &Error{Code: CodeProtocol, Op: s.Describe(), Message: "answered the wrong number of results"}
		}
		if ctx.Err() != nil {
			return c.cutAll(res, idx, ctxFailure(ctx, metaOpName, ""))
		}
		c.dropServer(s, err)
		if !allReadOnly(send) && !errors.Is(err, ErrNotDelivered) {
			return c.cutAll(res, idx, &Error{Code: CodeUnknownOutcome, Op: s.Describe(), Err: err,
				Message: "no answer to changes sent to it: they may or may not have acted"})
		}
	}
	done := 0
	for _, batch := range helper.Split(send, helper.MaxCommandBytes) {
		got, err := c.metaRun(ctx, batch)
		if err != nil {
			return c.cutAll(res, idx[done:], err)
		}
		for k, r := range got {
			res[idx[done+k]] = r
		}
		done += len(batch)
	}
	return res, nil, nil
}

// allReadOnly reports whether no op of ops changes anything.
func allReadOnly(ops []MetaOp) bool {
	for _, op := range ops {
		if !helper.ReadOnly(op.Kind) {
			return false
		}
	}
	return true
}

// cutAll gives every op at idx the error err, as a failed run does.
func (c *Client) cutAll(res []MetaResult, idx []int, err error) ([]MetaResult, []bool, error) {
	cut := make([]bool, len(res))
	for _, i := range idx {
		res[i], cut[i] = MetaResult{Err: err}, true
	}
	return res, cut, err
}

// metaRun runs one batch whose command fits in one run.
func (c *Client) metaRun(ctx context.Context, ops []MetaOp) ([]MetaResult, error) {
	cmd, err := helper.Command(ops)
	if err != nil {
		return nil, &Error{Code: CodeInvalid, Op: metaOpName, Err: err}
	}
	r, err := c.Run(ctx, cmd, RunOptions{Timeout: runTimeout(ctx)})
	if err != nil {
		return nil, err
	}
	if r.ExitCode != 0 {
		return nil, &Error{Code: CodeProtocol, Op: metaOpName,
			Message: fmt.Sprintf("exit status %d: %s", r.ExitCode, excerpt(r.Stderr))}
	}
	parsed, err := helper.Parse(r.Stdout, ops)
	if err != nil {
		var fe *helper.FatalError
		if errors.As(err, &fe) {
			return nil, &Error{Code: CodeUnsupportedOperation, Op: metaOpName, Message: fe.Message, Err: err}
		}
		msg := err.Error()
		if len(r.Stderr) > 0 {
			msg += "; stderr: " + excerpt(r.Stderr)
		}
		return nil, &Error{Code: CodeProtocol, Op: metaOpName, Message: msg, Err: err}
	}
	res := make([]MetaResult, len(ops))
	for i, p := range parsed {
		res[i] = ResultOf(ops[i], p)
	}
	return res, nil
}

// ResultOf is the MetaResult of op for the helper's answer p, however it
// was obtained (a run, or a MetaServer that speaks the helper's results).
func ResultOf(op MetaOp, p helper.Result) MetaResult {
	if p.Err != nil {
		return MetaResult{Err: opError(op, p.Err)}
	}
	return MetaResult{Attr: p.Attr, Entries: p.Entries, Target: p.Target, Statfs: p.Statfs, Truncated: p.Truncated,
		Value: p.Value, Names: p.Names}
}

// runTimeout is the run's time limit on the VM: metaRunTimeout, or less
// when ctx ends sooner (at least a second).
func runTimeout(ctx context.Context) time.Duration {
	d := metaRunTimeout
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, max(time.Until(dl), time.Second))
	}
	return d
}

// opError turns the helper's *OpError (or a validation error) into the
// transport's error for op.
func opError(op MetaOp, err error) error {
	var oe *helper.OpError
	if !errors.As(err, &oe) {
		return &Error{Code: CodeInvalid, Op: string(op.Kind), Path: op.Path, Err: err}
	}
	return &Error{Code: CodeForErrno(oe.Errno), Op: string(op.Kind), Path: op.Path, Message: oe.Error(), Err: oe}
}

// excerpt is the start of a run's stderr, for error messages.
func excerpt(b []byte) string {
	const limit = maxErrorText
	if len(b) > limit {
		return fmt.Sprintf("%q…", b[:limit])
	}
	return fmt.Sprintf("%q", b)
}
