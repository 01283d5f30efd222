package fs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"syscall"
	"testing"

	"github.com/arker-ai/arkerfs/transport"
)

func TestClassify(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: &net.AddrError{Err: "x"}}
	refusedErrno := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	cases := []struct {
		name string
		err  error
		want syscall.Errno
	}{
		{"nil", nil, 0},
		{"refused connection inside a transport error", &transport.Error{Code: transport.CodeNetworkError, Op: "run", Err: &url.Error{Op: "Post", URL: "http://x", Err: refusedErrno}}, syscall.EIO},
		{"refused connection escaping the transport", fmt.Errorf("open: %w", &url.Error{Op: "Post", URL: "http://x", Err: refusedErrno}), syscall.EIO},
		{"bare dial error", refused, syscall.EIO},
		{"timeout", &transport.Error{Code: transport.CodeTimeout, Err: context.DeadlineExceeded}, syscall.ETIMEDOUT},
		{"our own deadline", fmt.Errorf("stat: %w", context.DeadlineExceeded), syscall.ETIMEDOUT},
		{"interrupted", &transport.Error{Code: transport.CodeNetworkError, Message: "cancelled", Err: context.Canceled}, syscall.EINTR},
		{"file code", fmt.Errorf("mkdir: %w", &transport.Error{Code: transport.CodeExists}), syscall.EEXIST},
		{"file code over an errno below it", &transport.Error{Code: transport.CodeNotFound, Err: syscall.EPIPE}, syscall.ENOENT},
		{"unnamed code", &transport.Error{Code: transport.CodeProtocol}, syscall.EIO},
		{"local disk", fmt.Errorf("staging: %w", syscall.ENOSPC), syscall.ENOSPC},
		{"errno made here", syscall.ENOENT, syscall.ENOENT},
		{"anything else", errors.New("odd"), syscall.EIO},
	}
	for _, c := range cases {
		if got := classify(c.err); got != c.want {
			t.Errorf("%s: classify(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

func TestErrnoLogsTheReason(t *testing.T) {
	var logged []string
	f := New(nil, nil, nil, Options{Logf: func(format string, a ...any) { logged = append(logged, fmt.Sprintf(format, a...)) }})
	err := &transport.Error{Code: transport.CodeNetworkError, Op: "sync read", Path: "/home/user/f", Message: "connection refused"}
	if got := f.errno(err); got != syscall.EIO {
		t.Fatalf("errno = %v, want EIO", got)
	}
	if f.errno(syscall.ENOENT); len(logged) != 1 {
		t.Fatalf("logged %q, want one line for the I/O error only", logged)
	}
}
