package transport

import (
	"context"
	"errors"
	"fmt"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// Code classifies a failure. API codes are the SDK's ErrorCode values; file
// codes name the file-system condition behind a failed file or metadata
// operation, so that package fs can turn them into an errno in one place.
type Code string

// API codes (the SDK's ErrorCode enum).
const (
	CodeUnsupportedOperation Code = wire.CodeUnsupportedOperation
	CodeBadRequest           Code = wire.CodeBadRequest
	CodeUnauthorized         Code = wire.CodeUnauthorized
	CodeForbidden            Code = wire.CodeForbidden
	CodeNotFound             Code = wire.CodeNotFound
	CodeConflict             Code = wire.CodeConflict
	CodePayloadTooLarge      Code = wire.CodePayloadTooLarge
	CodeNotImplemented       Code = wire.CodeNotImplemented
	CodeResourcePressure     Code = wire.CodeResourcePressure
	CodeInternal             Code = wire.CodeInternal
	CodeUnavailable          Code = wire.CodeUnavailable
	CodeNetworkError         Code = wire.CodeNetworkError
)

// File codes (chosen). The helper and the errno field of error bodies name
// them by their POSIX errno ("EEXIST"); see errnoCodes.
const (
	CodeExists      Code = "exists"        // EEXIST
	CodeNotEmpty    Code = "not_empty"     // ENOTEMPTY
	CodeNotDir      Code = "not_dir"       // ENOTDIR
	CodeIsDir       Code = "is_dir"        // EISDIR
	CodePermission  Code = "permission"    // EACCES, EPERM
	CodeNameTooLong Code = "name_too_long" // ENAMETOOLONG
	CodeInvalid     Code = "invalid"       // EINVAL
	CodeNoSpace     Code = "no_space"      // ENOSPC, EDQUOT
	CodeLoop        Code = "loop"          // ELOOP
	CodeCrossDevice Code = "cross_device"  // EXDEV
	CodeBusy        Code = "busy"          // EBUSY
	CodeReadOnly    Code = "read_only"     // EROFS
	CodeTooBig      Code = "too_big"       // EFBIG
	CodeStale       Code = "stale"         // the file changed while it was read (ESTALE)
	CodeTimeout     Code = "timeout"       // a request or run ran out of time
	CodeProtocol    Code = "protocol"      // the answer broke the contract
	CodeIO          Code = "io"            // EIO and anything unnamed
)

// errnoCodes maps the errno names the helper and the server print to codes.
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
// errors.As, or with the helpers IsNotFound, IsRetryable and IsPermanent.
type Error struct {
	Code    Code   // what went wrong
	Message string // the server's or the helper's words, or ours
	Status  int    // HTTP status, 0 when no answer arrived
	Op      string // what we were doing: "sync read", "run", "mkdir" ...
	Path    string // the VM path concerned, if any
	Err     error  // the underlying error (network, decoding), if any
}

func (e *Error) Error() string {
	s := e.Op
	if e.Path != "" {
		s += " " + fmt.Sprintf("%q", e.Path)
	}
	s += ": " + string(e.Code)
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

// IsNotFound reports whether err says the file, directory or VM does not exist.
func IsNotFound(err error) bool { return CodeOf(err) == CodeNotFound }

// IsRetryable reports whether repeating the same request may succeed:
// network failures, timeouts, internal, unavailable and resource_pressure
// (but not a full disk), and any other 5xx or 429 answer. A cancelled call
// is not retryable.
func IsRetryable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code {
	case CodeNetworkError, CodeUnavailable, CodeResourcePressure, CodeTimeout, CodeInternal:
		return true
	case CodeNotImplemented, CodeUnsupportedOperation, CodeNoSpace, CodeStale:
		return false
	}
	return e.Status == 429 || e.Status >= 500
}

// IsPermanent reports whether err will not go away by retrying.
func IsPermanent(err error) bool { return err != nil && !IsRetryable(err) }
