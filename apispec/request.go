package apispec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// exchange is one request and its answer, as far as the checks go.
type exchange struct {
	method, path string
	route        *routers.Route                         // nil when no operation matches
	input        *openapi3filter.RequestValidationInput // for the response check
	request      []string                               // problems found in the request
	probe        bool                                   // a request for an operation of the other lineage only
	response     []string                               // problems found in the answer
}

// checkRequest validates r before the handler sees it. A JSON body is read
// into memory and r.Body replaced by a reader of the same bytes; any other
// body is left alone.
func (s *Spec) checkRequest(r *http.Request) *exchange {
	ex := &exchange{method: r.Method, path: r.URL.Path}
	route, params, err := s.router.FindRoute(r)
	switch {
	case errors.Is(err, routers.ErrMethodNotAllowed):
		ex.request = append(ex.request, fmt.Sprintf("lineage %s declares no %s operation on this path", s.lineage, r.Method))
		return ex
	case err != nil && s.isProbe(r):
		ex.probe = true
		return ex
	case err != nil:
		ex.request = append(ex.request, fmt.Sprintf("lineage %s declares no operation at this path", s.lineage))
		return ex
	}
	ex.route = route
	op := route.Operation

	opts := &openapi3filter.Options{
		MultiError:                        true,
		SkipSettingDefaults:               true, // never rewrite what is checked
		RejectWhenRequestBodyNotSpecified: true,
		AuthenticationFunc:                bearerPresent,
	}
	check := r.Clone(r.Context())
	if raw := rawBody(op); raw != "" {
		// Streamed: check the framing, never read the bytes.
		opts.ExcludeRequestBody = true
		ex.request = append(ex.request, rawBodyProblems(r, op, raw)...)
		check.Body = http.NoBody
	} else if r.Body != nil && r.Body != http.NoBody {
		data, complete := bufferBody(r)
		if !complete {
			opts.ExcludeRequestBody = true
		}
		check.Body = io.NopCloser(bytes.NewReader(data))
		check.GetBody = nil
		check.ContentLength = int64(len(data))
	}
	ex.request = append(ex.request, unknownQuery(r, route)...)
	ex.input = &openapi3filter.RequestValidationInput{
		Request:    check,
		PathParams: params,
		Route:      route,
		Options:    opts,
	}
	if err := openapi3filter.ValidateRequest(r.Context(), ex.input); err != nil {
		ex.request = append(ex.request, problems(err)...)
	}
	// The response check needs the route, not the body: let the copy go
	// while the handler runs.
	ex.input.Request.Body, ex.input.Request.GetBody = http.NoBody, nil
	return ex
}

// bufferBody reads r.Body, up to maxValidatedBody, and puts back a body
// that yields the same bytes (and the same read error, if any). complete
// is false when the body was larger or unreadable: the bytes read are then
// not the whole body and are not validated.
func bufferBody(r *http.Request) (data []byte, complete bool) {
	orig := r.Body
	data, err := io.ReadAll(io.LimitReader(orig, maxValidatedBody+1))
	switch {
	case err != nil:
		r.Body = readCloser{io.MultiReader(bytes.NewReader(data), errReader{err}), orig}
		return data, false
	case len(data) > maxValidatedBody:
		r.Body = readCloser{io.MultiReader(bytes.NewReader(data), orig), orig}
		return data, false
	}
	r.Body = readCloser{bytes.NewReader(data), orig}
	return data, true
}

type readCloser struct {
	io.Reader
	io.Closer
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// rawBody returns the media type of an operation whose request body is raw
// bytes (not JSON), or "" for any other operation.
func rawBody(op *openapi3.Operation) string {
	if op.RequestBody == nil || op.RequestBody.Value == nil {
		return ""
	}
	var raw string
	for name := range op.RequestBody.Value.Content {
		if name == "application/json" || strings.HasSuffix(name, "+json") {
			return ""
		}
		raw = name
	}
	return raw
}

// rawBodyProblems checks the framing of a raw body: its content type, and
// that its length is the `size` the query declares when the operation has
// one (sync-stream: "exact byte length of the body").
func rawBodyProblems(r *http.Request, op *openapi3.Operation, mediaType string) []string {
	var out []string
	got, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || op.RequestBody.Value.Content.Get(got) == nil {
		out = append(out, fmt.Sprintf("body: content type %q is not %s", r.Header.Get("Content-Type"), mediaType))
	}
	if p := op.Parameters.GetByInAndName(openapi3.ParameterInQuery, "size"); p != nil && r.ContentLength >= 0 {
		if size, err := strconv.ParseInt(r.URL.Query().Get("size"), 10, 64); err == nil && size != r.ContentLength {
			out = append(out, fmt.Sprintf("body: Content-Length %d is not the declared size %d", r.ContentLength, size))
		}
	}
	return out
}

// unknownQuery names the query parameters the operation does not declare.
func unknownQuery(r *http.Request, route *routers.Route) []string {
	var out []string
	q := r.URL.Query()
	for _, name := range sortedKeys(q) {
		if route.Operation.Parameters.GetByInAndName(openapi3.ParameterInQuery, name) == nil &&
			route.PathItem.Parameters.GetByInAndName(openapi3.ParameterInQuery, name) == nil {
			out = append(out, fmt.Sprintf("query parameter %q is not declared", name))
		}
	}
	return out
}

// bearerPresent is the validator's authentication: it needs no real key,
// only an "Authorization: Bearer <token>" header where the operation
// requires one.
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	sch := in.SecurityScheme
	if sch == nil || sch.Type != "http" || !strings.EqualFold(sch.Scheme, "bearer") {
		return fmt.Errorf("security scheme %q is not a bearer scheme", in.SecuritySchemeName)
	}
	h := in.RequestValidationInput.Request.Header.Values("Authorization")
	if len(h) != 1 {
		return errors.New("want one Authorization: Bearer header")
	}
	scheme, token, ok := strings.Cut(h[0], " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(token) == "" {
		return errors.New("the Authorization header is not Bearer <token>")
	}
	return nil
}

// isProbe reports whether r asks for an operation that only the other
// lineage has (e.g. /sync-stream in lineage A): clients detect what a
// server offers that way, and a 404 is then the right answer.
func (s *Spec) isProbe(r *http.Request) bool {
	_, _, err := s.otherRouter.FindRoute(r)
	return err == nil
}
