package apispec

import (
	"bytes"
	"net/http"
)

// recorder passes a response through to the client and keeps what the
// validator needs: the status, the headers as sent, and a copy of the body
// up to maxValidatedBody.
type recorder struct {
	w         http.ResponseWriter
	status    int         // 0 until the final header is written
	header    http.Header // snapshot when the final header was written
	body      bytes.Buffer
	truncated bool // the body outgrew maxValidatedBody; body is incomplete
}

func newRecorder(w http.ResponseWriter) *recorder { return &recorder{w: w} }

func (r *recorder) Header() http.Header { return r.w.Header() }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
		r.header = r.w.Header().Clone()
	}
	r.w.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	if !r.truncated {
		if r.body.Len()+len(p) > maxValidatedBody {
			r.truncated = true
			r.body.Reset()
		} else {
			r.body.Write(p)
		}
	}
	return r.w.Write(p)
}

// Flush passes a flush through, so that streamed answers stay streamed.
func (r *recorder) Flush() {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	if f, ok := r.w.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.w }

// statusCode is the status the client got: 200 when the handler wrote
// nothing at all.
func (r *recorder) statusCode() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// sentHeader is the header the client got.
func (r *recorder) sentHeader() http.Header {
	if r.header == nil {
		return r.w.Header().Clone()
	}
	return r.header
}
