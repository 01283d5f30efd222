package transport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// failure turns a failure to complete exchange x into an *Error. parent
// is the caller's context, ctx the exchange's own (its cause says which
// watchdog, if any, cut the exchange).
func (c *Client) failure(parent, ctx context.Context, x *exchange, err error) *Error {
	if ue, ok := errorsAsURL(err); ok {
		ue.URL = x.shownURL() // a presigned URL's token never reaches an error string
	}
	e := &Error{Op: x.op, Path: x.path}
	switch cause := context.Cause(ctx); {
	case errors.Is(parent.Err(), context.Canceled):
		e.Code, e.Message, e.Err = CodeNetworkError, "cancelled", context.Canceled
	case parent.Err() != nil:
		e.Code, e.Message, e.Err = CodeTimeout, "the caller's deadline passed", context.DeadlineExceeded
	case errors.Is(cause, errStalled):
		e.Code, e.Err = CodeTimeout, fmt.Errorf("%w: %w", cause, context.DeadlineExceeded)
		e.Message = fmt.Sprintf("transfer stalled: no progress for %v", c.cfg.TransferStall)
	case errors.Is(cause, errNoAnswer):
		e.Code, e.Err = CodeTimeout, fmt.Errorf("%w: %w", cause, context.DeadlineExceeded)
		e.Message = fmt.Sprintf("no answer within %v", c.waitOf(x))
	case errors.Is(cause, errTooLong):
		e.Code, e.Err = CodeTimeout, fmt.Errorf("%w: %w", cause, context.DeadlineExceeded)
		e.Message = fmt.Sprintf("no complete answer within %v", x.limit)
	default:
		e.Code, e.Err = CodeNetworkError, err
	}
	return e
}

// ctxFailure is the *Error of a call whose context ended while it waited
// for something other than an exchange.
func ctxFailure(ctx context.Context, op, path string) *Error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return &Error{Code: CodeNetworkError, Op: op, Path: path, Message: "cancelled", Err: context.Canceled}
	}
	return &Error{Code: CodeTimeout, Op: op, Path: path, Message: "the caller's deadline passed", Err: context.DeadlineExceeded}
}

// waitOf is the answer wait of x.
func (c *Client) waitOf(x *exchange) time.Duration {
	if x.wait > 0 {
		return x.wait
	}
	return c.cfg.RequestTimeout
}

// statusError reads a non-2xx answer: {code, message, errno} when the
// body is such JSON, else a code from the status alone.
func (a *answer) statusError() *Error {
	b, err := io.ReadAll(io.LimitReader(a.Body, 64<<10))
	if err != nil && len(b) == 0 && a.ctx.Err() != nil {
		return a.fail(err)
	}
	var eb wire.ErrorBody
	if json.Unmarshal(b, &eb) != nil || eb.Code == "" {
		eb = wire.ErrorBody{Code: string(codeForStatus(a.StatusCode)), Message: http.StatusText(a.StatusCode)}
	}
	return bodyError(eb, a.StatusCode, a.x.op, a.x.path)
}

// bodyError turns an error body into an *Error. An errno, when present and
// known, names the file condition more precisely than the API code:
// ENOSPC gives CodeNoSpace, ENOENT CodeNotFound.
func bodyError(eb wire.ErrorBody, status int, op, path string) *Error {
	code := Code(eb.Code)
	if eb.Errno != "" {
		if fc := CodeForErrno(eb.Errno); fc != CodeIO || eb.Errno == "EIO" {
			code = fc
		}
	}
	if code == "" {
		code = CodeIO
		if status != 0 {
			code = codeForStatus(status)
		}
	}
	msg := eb.Message
	if msg == "" {
		msg = http.StatusText(status)
	}
	return &Error{Code: code, Message: msg, Status: status, Op: op, Path: path}
}

// codeForStatus is the code of an error answer that carries none.
func codeForStatus(status int) Code {
	switch status {
	case 400, 405, 416:
		return CodeBadRequest
	case 401:
		return CodeUnauthorized
	case 403:
		return CodeForbidden
	case 404, 410:
		return CodeNotFound
	case 408, 504:
		return CodeTimeout
	case 409:
		return CodeConflict
	case 412:
		return CodeStale
	case 413:
		return CodePayloadTooLarge
	case 429:
		return CodeResourcePressure
	case 501:
		return CodeNotImplemented
	case 502, 503:
		return CodeUnavailable
	case 507:
		return CodeNoSpace
	}
	if status >= 500 {
		return CodeInternal
	}
	return CodeBadRequest
}

// netError is the *Error of an operation that ended outside an exchange:
// through its context (cancelled, or past its deadline), or with err.
func netError(ctx context.Context, op, path string, err error) error {
	if ctx.Err() != nil {
		return ctxFailure(ctx, op, path)
	}
	return &Error{Code: CodeNetworkError, Op: op, Path: path, Err: err}
}
