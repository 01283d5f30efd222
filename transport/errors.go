package transport

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Code classifies a failure. API codes stand for one or more wire codes of
// either API lineage (errmap.go maps each wire code once; the wire code
// itself stays on Error.Wire); file codes name the file-system condition
// behind a failed file or metadata operation; client codes name what
// happened on this side. Package fs turns codes into errnos in one place.
type Code string

// API codes.
const (
	CodeBadRequest           Code = "bad_request"           // the request was refused as malformed (400)
	CodeUnauthorized         Code = "unauthorized"          // no or a bad API key (401)
	CodePaymentRequired      Code = "payment_required"      // the organisation cannot pay (402)
	CodeForbidden            Code = "forbidden"             // the key may not do this (403)
	CodeNotFound             Code = "not_found"             // no such VM, run, session, file or route (404); also ENOENT
	CodeConflict             Code = "conflict"              // the resource is in a state that forbids this (409)
	CodeExpired              Code = "expired"               // an upload or URL outlived its time (410)
	CodePayloadTooLarge      Code = "payload_too_large"     // the body is larger than the server takes (413)
	CodeUnsupportedOperation Code = "unsupported_operation" // the service or VM cannot do this (422); also ENOTSUP
	CodeNotImplemented       Code = "not_implemented"       // a 501 answer
	CodeUnrecoverable        Code = "unrecoverable"         // the work failed for good (422)
	CodeRateLimited          Code = "rate_limited"          // too many requests or concurrent runs (429)
	CodeQuotaExceeded        Code = "quota_exceeded"        // a quota or budget is spent (429)
	CodeResourcePressure     Code = "resource_pressure"     // the host is short of resources
	CodeInternal             Code = "internal"              // the service failed, or answered something we cannot read
	CodeUnavailable          Code = "unavailable"           // the service, a route or capacity is not available now (503, 502)
)

// Client codes.
const (
	CodeNetworkError   Code = "network_error"   // no answer (connection failed or cut), on a request safe to repeat
	CodeUnknownOutcome Code = "unknown_outcome" // no answer to a request that is not safe to repeat: it may or may not have acted
	CodeTimeout        Code = "timeout"         // a request or run ran out of time (also a 504)
	CodeStale          Code = "stale"           // the file changed while it was read (ESTALE)
	CodeProtocol       Code = "protocol"        // the answer broke the contract
)

// File codes. The helper names them by their POSIX errno ("EEXIST"); see
// errnoCodes.
const (
	CodeExists      Code = "exists"        // EEXIST
	CodeNotEmpty    Code = "not_empty"     // ENOTEMPTY
	CodeNotDir      Code = "not_dir"       // ENOTDIR
	CodeIsDir       Code = "is_dir"        // EISDIR
	CodePermission  Code = "permission"    // EACCES, EPERM
	CodeNameTooLong Code = "name_too_long" // ENAMETOOLONG
	CodeInvalid     Code = "invalid"       // EINVAL, and requests this client refuses to send
	CodeNoSpace     Code = "no_space"      // ENOSPC, EDQUOT
	CodeLoop        Code = "loop"          // ELOOP
	CodeCrossDevice Code = "cross_device"  // EXDEV
	CodeBusy        Code = "busy"          // EBUSY, and the API's resource_busy
	CodeReadOnly    Code = "read_only"     // EROFS
	CodeTooBig      Code = "too_big"       // EFBIG
	CodeIO          Code = "io"            // EIO and anything unnamed
	CodeNoData      Code = "no_data"       // ENODATA: no such extended attribute
	CodeRange       Code = "range"         // ERANGE: an xattr name too long, a buffer too small
	CodeArgTooBig   Code = "arg_too_big"   // E2BIG: an xattr value too large
)

// errnoCodes maps the errno names the helper prints to codes.
var errnoCodes = map[string]Code{
	"ENOENT":       CodeNotFound,
	"EEXIST":       CodeExists,
	"ENOTEMPTY":    CodeNotEmpty,
	"ENOTDIR":      CodeNotDir,
	"EISDIR":       CodeIsDir,
	"EACCES":       CodePermission,
	"EPERM":        CodePermission,
	"ENAMETOOLONG": CodeNameTooLong,
	"EINVAL":       CodeInvalid,
	"ENOSPC":       CodeNoSpace,
	"EDQUOT":       CodeNoSpace,
	"ELOOP":        CodeLoop,
	"EXDEV":        CodeCrossDevice,
	"EBUSY":        CodeBusy,
	"EROFS":        CodeReadOnly,
	"EFBIG":        CodeTooBig,
	"ESTALE":       CodeStale,
	"ENOTSUP":      CodeUnsupportedOperation,
	"EIO":          CodeIO,
	"ENODATA":      CodeNoData,
	"ERANGE":       CodeRange,
	"E2BIG":        CodeArgTooBig,
}

// CodeForErrno returns the code for an errno name such as "ENOENT", and
// CodeIO for a name it does not know.
func CodeForErrno(name string) Code {
	if c, ok := errnoCodes[name]; ok {
		return c
	}
	return CodeIO
}

// Error is every failure the transport returns. Callers inspect it with
// errors.As, or with CodeOf, IsNotFound, IsRetryable and IsPermanent; never
// by its text.
type Error struct {
	Code    Code   // what went wrong
	Message string // the server's or the helper's words, or ours; never parse it
	Status  int    // HTTP status, 0 when no answer arrived (or for a per-entry error)
	Op      string // what we were doing: "sync read", "run", "mkdir" ...
	Path    string // the VM path concerned, if any
	Err     error  // the underlying error (network, decoding), if any

	// From the server's error body, when there was one.
	Wire       string        // the wire code as sent, e.g. "capacity_unavailable"
	RequestID  string        // lineage A's request_id
	RetryAfter time.Duration // the server's retry hint; 0 = none
	Recovery   string        // lineage A's recovery.work, "" = none

	retryable *bool // lineage B's retryable, when sent
	answered  bool  // the server answered (an HTTP error or a per-entry error)
}

func (e *Error) Error() string {
	s := e.Op
	if e.Path != "" {
		s += " " + fmt.Sprintf("%q", e.Path)
	}
	s += ": " + string(e.Code)
	if e.Wire != "" && e.Wire != string(e.Code) {
		s += " (" + e.Wire + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil && e.Message == "" {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Is lets errors.Is(err, &Error{Code: c}) match on the code alone.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Op == "" && t.Message == ""
}

// CodeOf returns the code of the first *Error in err's chain, or "" when
// there is none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// IsNotFound reports whether err says the file, directory, VM, run or
// session does not exist (or is not visible to this key: the API does not
// tell them apart).
func IsNotFound(err error) bool { return CodeOf(err) == CodeNotFound }

// IsRetryable reports whether the same request, repeated, may succeed: a
// failure to get an answer (CodeNetworkError, or CodeTimeout other than
// the caller's own deadline), or an answer the server marks transient
// (its retryable flag when it sends one, else status 429, 502, 503 or 504
// or a transient code; see transientAnswer). It says nothing of whether
// repeating is safe: CodeUnknownOutcome, a cancelled call and a lineage A
// answer whose recovery.work is anything but not_started are never
// retryable. The client itself retries only requests that are safe to
// repeat (retry.go); callers need not retry again.
func IsRetryable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	if !e.answered {
		return e.Code == CodeNetworkError || e.Code == CodeTimeout && !errors.Is(e.Err, errCallerDeadline)
	}
	if e.Recovery != "" && e.Recovery != workNotStarted {
		return false
	}
	return transientAnswer(e)
}

// IsPermanent reports whether err will not go away by repeating the
// request.
func IsPermanent(err error) bool { return err != nil && !IsRetryable(err) }

// errCallerDeadline marks a timeout that is the caller's own deadline.
var errCallerDeadline = fmt.Errorf("the caller's deadline passed: %w", context.DeadlineExceeded)
