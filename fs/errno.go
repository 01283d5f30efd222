package fs

import (
	"context"
	"errors"
	"net"
	"net/url"
	"syscall"

	"github.com/arker-ai/arkerfs/transport"
)

// codeErrnos maps transport error codes to the errno the kernel gets.
// Anything not listed is EIO: the VM could not be reached or answered
// something we cannot name, and the caller should see an I/O error.
var codeErrnos = map[transport.Code]syscall.Errno{
	transport.CodeNotFound:             syscall.ENOENT,
	transport.CodeExists:               syscall.EEXIST,
	transport.CodeNotEmpty:             syscall.ENOTEMPTY,
	transport.CodeNotDir:               syscall.ENOTDIR,
	transport.CodeIsDir:                syscall.EISDIR,
	transport.CodePermission:           syscall.EACCES,
	transport.CodeForbidden:            syscall.EACCES,
	transport.CodeUnauthorized:         syscall.EACCES,
	transport.CodePaymentRequired:      syscall.EACCES,
	transport.CodeNameTooLong:          syscall.ENAMETOOLONG,
	transport.CodeInvalid:              syscall.EINVAL,
	transport.CodeBadRequest:           syscall.EINVAL,
	transport.CodeNoSpace:              syscall.ENOSPC,
	transport.CodeLoop:                 syscall.ELOOP,
	transport.CodeCrossDevice:          syscall.EXDEV,
	transport.CodeBusy:                 syscall.EBUSY,
	transport.CodeReadOnly:             syscall.EROFS,
	transport.CodeTooBig:               syscall.EFBIG,
	transport.CodePayloadTooLarge:      syscall.EFBIG,
	transport.CodeUnsupportedOperation: syscall.ENOTSUP,
	transport.CodeNotImplemented:       syscall.ENOTSUP,
	transport.CodeTimeout:              syscall.ETIMEDOUT,
	transport.CodeNoData:               syscall.ENODATA,
	transport.CodeRange:                syscall.ERANGE,
	transport.CodeArgTooBig:            syscall.E2BIG,
}

// errno converts an error from cache or transport into an errno: the only
// place where that happens. The order matters:
//
//   - a cancelled call (the kernel's interrupt, e.g. Ctrl-C on a stuck
//     read) is EINTR;
//   - a transport failure answers by its code alone, whatever the chain
//     below it holds: a refused connection carries ECONNREFUSED, which no
//     program expects from a file system. A code with no errno of its own
//     is EIO, and the reason goes to the log;
//   - an errno made here (ENOENT for a node in no directory) or by the
//     local disk under the staging directory (ENOSPC) is kept;
//   - a network error that escaped the transport's wrapping is EIO too.
func (f *FS) errno(err error) syscall.Errno {
	e := classify(err)
	if e == syscall.EIO || e == syscall.ETIMEDOUT {
		f.logf("I/O error: %v", err)
	}
	return e
}

// classify is errno without the log line.
func classify(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	if errors.Is(err, context.Canceled) {
		return syscall.EINTR
	}
	if code := transport.CodeOf(err); code != "" {
		if e, ok := codeErrnos[code]; ok {
			return e
		}
		return syscall.EIO
	}
	var (
		opErr  *net.OpError
		urlErr *url.Error
	)
	if errors.As(err, &opErr) || errors.As(err, &urlErr) {
		return syscall.EIO
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return syscall.ETIMEDOUT
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return syscall.EIO
}
