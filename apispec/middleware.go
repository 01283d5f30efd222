package apispec

import (
	"fmt"
	"net/http"
	"strings"
)

// apiPrefix is the path prefix of every Arker API route. Other paths (the
// emulator's admin and presigned routes) pass unchecked.
const apiPrefix = "/v1/"

// maxValidatedBody is the largest JSON body, request or response, that is
// buffered and validated; a larger one passes through unvalidated. The
// largest legitimate one is a /sync write of 20 MiB of decoded content
// (about 27 MiB of JSON).
const maxValidatedBody = 64 << 20

// Middleware returns next wrapped with the checks of the contract. Every
// request under /v1/ and the answer next gives it are validated; the bytes
// pass through unchanged. Problems are recorded, never answered.
func (s *Spec) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, apiPrefix) {
			next.ServeHTTP(w, r)
			return
		}
		ex := s.checkRequest(r)
		rec := newRecorder(w)
		next.ServeHTTP(rec, r)
		if rec.status == 0 && r.Context().Err() != nil {
			// The client went away before anything was answered: there
			// is no answer to check.
			s.record(ex, 0)
			return
		}
		ex.response = s.checkResponse(ex, rec)
		if ex.probe && (rec.statusCode() != http.StatusNotFound || len(ex.response) > 0) {
			ex.request = append(ex.request, fmt.Sprintf(
				"lineage %s declares no operation at this path, and the answer is not the 404 of a missing route", s.lineage))
		}
		s.record(ex, rec.statusCode())
	})
}

// Violations returns the problems recorded so far, one line each:
// "METHOD PATH STATUS: request|response: what is wrong".
func (s *Spec) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.violations...)
}

// Reset forgets the problems recorded so far.
func (s *Spec) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.violations = nil
}

// record appends the problems of one exchange.
func (s *Spec) record(ex *exchange, status int) {
	if len(ex.request) == 0 && len(ex.response) == 0 {
		return
	}
	head := fmt.Sprintf("%s %s %d: ", ex.method, ex.path, status)
	lines := make([]string, 0, len(ex.request)+len(ex.response))
	for _, p := range ex.request {
		lines = append(lines, head+"request: "+p)
	}
	for _, p := range ex.response {
		lines = append(lines, head+"response: "+p)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.violations = append(s.violations, lines...)
}
