//go:build linux

package agent

import (
	"errors"
	"unicode"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/arker-ai/arkerfs/transport/helper"
)

// helperErrnos are the errno names the helper script reports (its
// _errno table, the set helper.Parse accepts). Any other errno is
// answered as EIO, as the script answers a failure it cannot name.
var helperErrnos = map[string]bool{
	"ENOENT": true, "EEXIST": true, "ENOTEMPTY": true, "ENOTDIR": true, "EISDIR": true,
	"EACCES": true, "EPERM": true, "EINVAL": true, "ENAMETOOLONG": true, "ELOOP": true,
	"EXDEV": true, "ENOSPC": true, "EDQUOT": true, "EBUSY": true, "EROFS": true,
	"ENOTSUP": true, "EIO": true, "EFBIG": true, "EMLINK": true, "ETXTBSY": true, "ESTALE": true,
	"ENODATA": true, "ERANGE": true, "E2BIG": true,
}

// errnoOf is the system call error inside err, if any.
func errnoOf(err error) (unix.Errno, bool) {
	var en unix.Errno
	ok := errors.As(err, &en)
	return en, ok
}

// errnoName names err as the helper does: EOPNOTSUPP as ENOTSUP (the same
// number on Linux; the script's text table and its perl program both say
// ENOTSUP), a name outside helperErrnos as EIO.
func errnoName(err error) string {
	en, ok := errnoOf(err)
	if !ok {
		return "EIO"
	}
	if en == unix.EOPNOTSUPP {
		return "ENOTSUP"
	}
	if name := unix.ErrnoName(en); helperErrnos[name] {
		return name
	}
	return "EIO"
}

// errnoText is err's C-locale strerror text ("No such file or
// directory"), what the script's tools and its perl program print: Go's
// text with its first letter capitalized. An errno answered as EIO keeps
// its own name in front.
func errnoText(err error) string {
	en, ok := errnoOf(err)
	if !ok {
		return err.Error()
	}
	s := en.Error()
	if r, n := utf8.DecodeRuneInString(s); n > 0 {
		s = string(unicode.ToUpper(r)) + s[n:]
	}
	if name := unix.ErrnoName(en); name != "" && errnoName(err) == "EIO" && en != unix.EIO {
		s = name + ": " + s
	}
	return s
}

// syscallFailed answers a failed system call with its errno.
func syscallFailed(err error) helper.Result {
	return failed(errnoName(err), errnoText(err))
}

// lookupFailed answers an operation whose path could not be looked up
// (lstat failed with err), as the script's _why does: ENOENT "no such file
// or directory" for a missing name, else the lookup's own errno (the
// script's message there is stat(1)'s, quoting the path; this one is the
// errno's text alone).
func lookupFailed(err error) helper.Result {
	if en, ok := errnoOf(err); ok && en == unix.ENOENT {
		return failed("ENOENT", "no such file or directory")
	}
	return syscallFailed(err)
}
