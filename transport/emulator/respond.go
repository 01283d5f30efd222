package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// apiError is a failure answered as a wire.ErrorBody with an HTTP status.
type apiError struct {
	status int
	body   wire.ErrorBody
	allow  string // Allow header of a 405
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.status, e.body.Code, e.body.Message)
}

// errorf builds an apiError; errno may be "".
func errorf(status int, code, errno, format string, args ...any) *apiError {
	return &apiError{status: status, body: wire.ErrorBody{
		Code: code, Message: fmt.Sprintf(format, args...), Errno: errno,
	}}
}

func badRequest(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, wire.CodeBadRequest, "", format, args...)
}

// errnoStatus maps a file-system errno to the HTTP status and wire code
// that carry it. Errnos not listed are internal errors.
var errnoStatus = map[syscall.Errno]struct {
	status int
	code   string
}{
	syscall.ENOENT:       {http.StatusNotFound, wire.CodeNotFound},
	syscall.ENOTDIR:      {http.StatusBadRequest, wire.CodeBadRequest},
	syscall.EISDIR:       {http.StatusBadRequest, wire.CodeBadRequest},
	syscall.ENAMETOOLONG: {http.StatusBadRequest, wire.CodeBadRequest},
	syscall.ELOOP:        {http.StatusBadRequest, wire.CodeBadRequest},
	syscall.EINVAL:       {http.StatusBadRequest, wire.CodeBadRequest},
	syscall.EFBIG:        {http.StatusBadRequest, wire.CodeBadRequest},
	syscall.EACCES:       {http.StatusForbidden, wire.CodeForbidden},
	syscall.EPERM:        {http.StatusForbidden, wire.CodeForbidden},
	syscall.EROFS:        {http.StatusForbidden, wire.CodeForbidden},
	syscall.ENOSPC:       {http.StatusInsufficientStorage, wire.CodeResourcePressure},
	syscall.EDQUOT:       {http.StatusInsufficientStorage, wire.CodeResourcePressure},
}

// fileError turns an error from a file operation on what the client calls
// path into an apiError carrying the errno name. An error that is not an
// errno comes from os.Root refusing a path that leaves the home directory
// (through a symlink), which is answered as forbidden.
func fileError(err error, path string) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return errorf(http.StatusForbidden, wire.CodeForbidden, "EACCES",
			"%s: path leaves %s: %v", path, wire.HomeDir, err)
	}
	name := unix.ErrnoName(errno)
	if m, ok := errnoStatus[errno]; ok {
		return errorf(m.status, m.code, name, "%s: %s", path, errno.Error())
	}
	return errorf(http.StatusInternalServerError, wire.CodeInternal, name, "%s: %s", path, errno.Error())
}

// writeJSON answers v as JSON with an explicit Content-Length, so that a
// truncated answer is detectable by the client.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"code":"internal","message":"encoding the answer failed"}`)
	}
	writeRaw(w, status, body)
}

// writeRaw answers a JSON body that is already encoded.
func writeRaw(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeError answers e.
func writeError(w http.ResponseWriter, e *apiError) {
	if e.allow != "" {
		w.Header().Set("Allow", e.allow)
	}
	writeJSON(w, e.status, e.body)
}

// errTooLarge is returned by readBody when the body exceeds its limit.
var errTooLarge = errors.New("request body too large")

// readBody reads a request body of at most max bytes. A larger body is
// drained (up to a bound, so that the client sees the answer rather than a
// reset) and reported as errTooLarge; nothing beyond max is kept in memory.
func readBody(r *http.Request, max int64) ([]byte, error) {
	if r.ContentLength > max {
		_, _ = io.CopyN(io.Discard, r.Body, 4*max)
		return nil, errTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading the request body: %w", err)
	}
	if int64(len(body)) > max {
		_, _ = io.CopyN(io.Discard, r.Body, 4*max)
		return nil, errTooLarge
	}
	return body, nil
}

// bodyError answers a failed readBody.
func bodyError(err error, max int64) *apiError {
	if errors.Is(err, errTooLarge) {
		return errorf(http.StatusRequestEntityTooLarge, wire.CodePayloadTooLarge, "",
			"request body over %d bytes", max)
	}
	return badRequest("%v", err)
}
