package fs

import (
	"context"
	"errors"
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
}

// toErrno converts an error from cache or transport into an errno. It is
// the only place where that happens. A cancelled call (the kernel's
// interrupt, e.g. Ctrl-C on a stuck read) is EINTR.
func toErrno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	if errors.Is(err, context.Canceled) {
		return syscall.EINTR
	}
	if e, ok := codeErrnos[transport.CodeOf(err)]; ok {
		return e
	}
	return syscall.EIO
}
