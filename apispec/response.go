package apispec

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/arker-ai/arkerfs/wire"
)

// checkResponse validates what the handler answered to ex.
func (s *Spec) checkResponse(ex *exchange, rec *recorder) []string {
	status, header, body := rec.statusCode(), rec.sentHeader(), rec.body.Bytes()
	var out []string
	if ex.route != nil {
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: ex.input,
			Status:                 status,
			Header:                 header,
			Options: &openapi3filter.Options{
				MultiError:            true,
				IncludeResponseStatus: true,
				ExcludeResponseBody:   rec.truncated,
			},
		}
		in.SetBodyBytes(body)
		// The client may be gone; the check is about what was sent.
		ctx := context.WithoutCancel(ex.input.Request.Context())
		if err := openapi3filter.ValidateResponse(ctx, in); err != nil {
			out = append(out, problems(err)...)
		}
	} else {
		out = append(out, s.unmatchedProblems(status, header, body, rec.truncated)...)
	}
	if s.lineage == wire.LineageA && status >= 400 && !rec.truncated {
		out = append(out, s.codeStatusProblems(status, body)...)
	}
	return out
}

// unmatchedProblems checks the answer to a request no operation matches:
// it must be an error envelope of the lineage, and in lineage A a 405
// names the allowed methods in Allow and a 401 carries WWW-Authenticate.
func (s *Spec) unmatchedProblems(status int, header http.Header, body []byte, truncated bool) []string {
	if status < 400 {
		return []string{fmt.Sprintf("status %d answers a request no operation matches", status)}
	}
	var out []string
	if s.lineage == wire.LineageA {
		if status == http.StatusMethodNotAllowed && header.Get("Allow") == "" {
			out = append(out, `header "Allow" missing on 405`)
		}
		if status == http.StatusUnauthorized && header.Get("WWW-Authenticate") == "" {
			out = append(out, `header "WWW-Authenticate" missing on 401`)
		}
	}
	if truncated {
		return out
	}
	mt, _, err := mime.ParseMediaType(header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return append(out, fmt.Sprintf("error body: content type %q is not application/json", header.Get("Content-Type")))
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return append(out, fmt.Sprintf("error body is not JSON: %v", err))
	}
	if err := s.envelope.VisitJSON(v, openapi3.MultiErrors(), openapi3.VisitAsResponse()); err != nil {
		for _, p := range problems(err) {
			out = append(out, "error body: "+p)
		}
	}
	return out
}

// codeStatusProblems checks lineage A's rule that every typed error code
// has one HTTP status.
func (s *Spec) codeStatusProblems(status int, body []byte) []string {
	var env struct {
		Error struct {
			Code any `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &env) != nil {
		return nil // not an envelope: the schema checks say so
	}
	code, ok := env.Error.Code.(string)
	if !ok {
		return nil
	}
	if want, known := s.codeStatus[code]; known && want != status {
		return []string{fmt.Sprintf("error code %q goes with status %d, not %d", code, want, status)}
	}
	return nil
}
