package emulator

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/arker-ai/arkerfs/wire"
)

// apiError is a refusal, independent of the lineage that renders it: the
// typed envelope of lineage A or the flat one of lineage B.
type apiError struct {
	code       string
	msg        string
	status     int                // 0: the code's status in the lineage
	details    *wire.ErrorDetails // typed form only
	retryAfter *int64             // seconds; also the Retry-After header
	retryable  *bool              // flat form only
	work       string             // typed form only: recovery.work
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func newError(code, format string, args ...any) *apiError {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *apiError {
	return newError(wire.CodeBadRequest, format, args...)
}

// invalid is a bad_request listing the fields it found wrong.
func invalid(vs []wire.Violation) *apiError {
	msgs := make([]string, len(vs))
	for i, v := range vs {
		msgs[i] = v.Field + ": " + v.Message
	}
	e := badRequest("invalid request: %s", strings.Join(msgs, "; "))
	e.details = &wire.ErrorDetails{Violations: vs}
	return e
}

// invalidField is invalid with one violation.
func invalidField(field, format string, args ...any) *apiError {
	return invalid([]wire.Violation{{Field: field, Message: fmt.Sprintf(format, args...)}})
}

func notFound(resource, format string, args ...any) *apiError {
	e := newError(wire.CodeNotFound, format, args...)
	e.details = &wire.ErrorDetails{Resource: resource}
	return e
}

func forbidden(format string, args ...any) *apiError {
	return newError(wire.CodeForbidden, format, args...)
}

func internalError(format string, args ...any) *apiError {
	return newError(wire.CodeInternal, format, args...)
}

func tooLarge(maxBytes int64, format string, args ...any) *apiError {
	e := newError(wire.CodePayloadTooLarge, format, args...)
	e.details = &wire.ErrorDetails{MaximumBytes: &maxBytes}
	return e
}

// unavailable is a transient refusal with a retry hint.
func unavailable(after int64, format string, args ...any) *apiError {
	e := newError(wire.CodeUnavailable, format, args...)
	e.retryAfter = &after
	t := true
	e.retryable = &t
	e.work = wire.WorkNotStarted
	return e
}

// Values of details.reason and details.feature of unsupported_operation.
const (
	reasonNotSupported  = "feature_not_supported"
	featureGuestControl = "guest_control"
)

// unsupportedRuns is the refusal of runs where no sandbox can be made.
func unsupportedRuns(format string, args ...any) *apiError {
	e := newError(wire.CodeUnsupportedOperation, format, args...)
	e.details = &wire.ErrorDetails{Reason: reasonNotSupported, Feature: featureGuestControl}
	return e
}

// statusB is lineage B's status per code: B publishes none per code, so
// these are the usual ones (A's where the code exists in A).
var statusB = map[string]int{
	wire.CodeValidationError:                  400,
	wire.CodeInvalidAPIKey:                    401,
	wire.CodeAPIKeyRequired:                   401,
	wire.CodeCSRFRejected:                     403,
	wire.CodeLegalAcceptanceRequired:          403,
	wire.CodeUpstreamRateLimited:              429,
	wire.CodeBudgetExceeded:                   402,
	wire.CodeConcurrencyLimitExceeded:         429,
	wire.CodeRegionalConcurrencyLimitExceeded: 429,
	wire.CodeResourcePressure:                 503,
	wire.CodeBadGateway:                       502,
	wire.CodeStaleRoute:                       502,
}

// statusOf is the HTTP status of code in lineage l: 500 for a code the
// lineage does not define.
func statusOf(l wire.Lineage, code string) int {
	if l == wire.LineageB {
		if st, ok := statusB[code]; ok {
			return st
		}
	}
	if st := wire.StatusOf(code); st != 0 {
		return st
	}
	return http.StatusInternalServerError
}

// newRequestID returns a fresh request id of typed errors.
func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "req_" + hex.EncodeToString(b[:])
}

// render turns e into the envelope and status of lineage l, for the
// operation op ("" when the request matched none; method is then named).
func render(l wire.Lineage, e *apiError, op, method string) (int, wire.ErrorEnvelope) {
	status := e.status
	if status == 0 {
		status = statusOf(l, e.code)
	}
	b := wire.ErrorBody{Code: e.code, Message: e.msg, Timestamp: time.Now().UTC().Format(time.RFC3339Nano)}
	if l == wire.LineageB {
		b.RetryAfter, b.Retryable = e.retryAfter, e.retryable
		return status, wire.ErrorEnvelope{Error: b}
	}
	b.RequestID = newRequestID()
	if op != "" {
		b.Request = &wire.RequestRef{Kind: wire.RequestMatched, OperationID: op}
	} else {
		b.Request = &wire.RequestRef{Kind: wire.RequestUnmatched, Method: method}
	}
	b.RetryAfterSeconds, b.Details = e.retryAfter, e.details
	if b.Details == nil {
		b.Details = defaultDetails(e.code)
	}
	if e.work != "" {
		b.Recovery = &wire.Recovery{Work: e.work}
	}
	return status, wire.ErrorEnvelope{Error: b}
}

// entryError is a per-entry error of a write answer in lineage l: the
// flat form has no details.
func entryError(l wire.Lineage, e *apiError) *wire.EntryError {
	ee := &wire.EntryError{Code: e.code, Message: e.msg}
	if l == wire.LineageA {
		ee.Details = e.details
	}
	return ee
}

// writeError answers e in lineage l for operation op.
func writeError(w http.ResponseWriter, r *http.Request, l wire.Lineage, op string, e *apiError, allow []string) {
	status, env := render(l, e, op, r.Method)
	h := w.Header()
	if e.retryAfter != nil {
		h.Set(wire.HeaderRetryAfter, strconv.FormatInt(*e.retryAfter, 10))
	}
	if status == http.StatusUnauthorized && l == wire.LineageA {
		h.Set(wire.HeaderWWWAuthenticate, `Bearer realm="arker"`)
	}
	if len(allow) > 0 {
		h.Set(wire.HeaderAllow, strings.Join(allow, ", "))
	}
	writeJSON(w, status, env)
}

// writeJSON answers v as JSON with an explicit Content-Length, so that a
// truncated answer is detectable by the client.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"code":"internal","message":"encoding the answer failed"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// defaultDetails are the details lineage A requires of a code, for errors
// made without any (injected faults): the least the schema accepts.
func defaultDetails(code string) *wire.ErrorDetails {
	switch code {
	case wire.CodeRateLimited:
		return &wire.ErrorDetails{Limiter: "arker"}
	case wire.CodeCapacityUnavailable:
		return &wire.ErrorDetails{Scope: "region"}
	case wire.CodeNotFound, wire.CodeConflict, wire.CodeResourceBusy, wire.CodeAlreadyExists, wire.CodeExpired:
		return &wire.ErrorDetails{Resource: wire.ResourceResource}
	case wire.CodeOperationFailed:
		return &wire.ErrorDetails{Reason: "command_failed"}
	case wire.CodeUnsupportedOperation:
		return &wire.ErrorDetails{Reason: reasonNotSupported}
	}
	return nil
}
