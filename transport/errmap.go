package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/arker-ai/arkerfs/wire"
)

// wireCodes maps every wire code of both lineages (and of older servers)
// to a transport code, once. A code not listed maps by the HTTP status
// (codeForStatus); the wire code is kept on Error.Wire either way.
var wireCodes = map[string]Code{
	// Lineage A (one status each).
	wire.CodeBadRequest:            CodeBadRequest,
	wire.CodeInsufficientResources: CodeBadRequest,
	wire.CodeUnauthorized:          CodeUnauthorized,
	wire.CodePaymentRequired:       CodePaymentRequired,
	wire.CodeForbidden:             CodeForbidden,
	wire.CodeActionRequired:        CodeForbidden,
	wire.CodeNotFound:              CodeNotFound,
	wire.CodeMethodNotAllowed:      CodeBadRequest,
	wire.CodeConflict:              CodeConflict,
	wire.CodeResourceBusy:          CodeBusy,
	wire.CodeInvalidState:          CodeConflict,
	wire.CodeAlreadyExists:         CodeExists,
	wire.CodeIdempotencyConflict:   CodeConflict,
	wire.CodeExpired:               CodeExpired,
	wire.CodePayloadTooLarge:       CodePayloadTooLarge,
	wire.CodeUnsupportedOperation:  CodeUnsupportedOperation,
	wire.CodeUnrecoverable:         CodeUnrecoverable,
	wire.CodeOperationFailed:       CodeUnrecoverable,
	wire.CodeRateLimited:           CodeRateLimited,
	wire.CodeQuotaExceeded:         CodeQuotaExceeded,
	wire.CodeInternal:              CodeInternal,
	wire.CodeCapacityUnavailable:   CodeUnavailable,
	wire.CodeUnavailable:           CodeUnavailable,
	wire.CodeGatewayTimeout:        CodeTimeout,
	// Lineage B only.
	wire.CodeValidationError:                  CodeBadRequest,
	wire.CodeInvalidAPIKey:                    CodeUnauthorized,
	wire.CodeAPIKeyRequired:                   CodeUnauthorized,
	wire.CodeCSRFRejected:                     CodeForbidden,
	wire.CodeLegalAcceptanceRequired:          CodeForbidden,
	wire.CodeUpstreamRateLimited:              CodeRateLimited,
	wire.CodeBudgetExceeded:                   CodeQuotaExceeded,
	wire.CodeConcurrencyLimitExceeded:         CodeRateLimited,
	wire.CodeRegionalConcurrencyLimitExceeded: CodeRateLimited,
	wire.CodeResourcePressure:                 CodeResourcePressure,
	wire.CodeBadGateway:                       CodeUnavailable,
	wire.CodeStaleRoute:                       CodeUnavailable,
	// Older servers.
	wire.CodeRoutingUnavailable:     CodeUnavailable,
	wire.CodeTemporarilyUnavailable: CodeUnavailable,
}

// transientCodes are the wire codes a request safe to repeat is retried
// on when the answer carries no retryable flag (the SDKs' lists, joined).
var transientCodes = map[string]bool{
	wire.CodeUnavailable:            true,
	wire.CodeCapacityUnavailable:    true,
	wire.CodeRateLimited:            true,
	wire.CodeGatewayTimeout:         true,
	wire.CodeBadGateway:             true,
	wire.CodeStaleRoute:             true,
	wire.CodeRoutingUnavailable:     true,
	wire.CodeTemporarilyUnavailable: true,
}

// transientStatuses are the HTTP statuses retried whatever the code:
// refusals where the origin did nothing (429, 503) and gateway errors
// (502, 504), safe because only requests safe to repeat are retried.
var transientStatuses = map[int]bool{429: true, 502: true, 503: true, 504: true}

// workNotStarted is the recovery.work that makes any request safe to repeat.
const workNotStarted = wire.WorkNotStarted

// transientAnswer reports whether an answered failure may pass: the
// server's retryable flag when it sent one, else its status or wire code.
func transientAnswer(e *Error) bool {
	if e.retryable != nil {
		return *e.retryable
	}
	return transientStatuses[e.Status] || transientCodes[e.Wire]
}

// codeForWire is the transport code of a wire code, by the map or else
// by the status.
func codeForWire(code string, status int) Code {
	if c, ok := wireCodes[code]; ok {
		return c
	}
	return codeForStatus(status)
}

// codeForStatus is the code of an error answer whose code is unknown.
func codeForStatus(status int) Code {
	switch status {
	case 400, 405, 416:
		return CodeBadRequest
	case 401:
		return CodeUnauthorized
	case 402:
		return CodePaymentRequired
	case 403:
		return CodeForbidden
	case 404:
		return CodeNotFound
	case 408, 504:
		return CodeTimeout
	case 409:
		return CodeConflict
	case 410:
		return CodeExpired
	case 412:
		return CodeStale
	case 413:
		return CodePayloadTooLarge
	case 422:
		return CodeUnsupportedOperation
	case 429:
		return CodeRateLimited
	case 501:
		return CodeNotImplemented
	case 502, 503:
		return CodeUnavailable
	}
	return CodeInternal
}

// maxErrorText is how much of a body that is not an error envelope an
// error keeps as its message (as the SDKs do).
const maxErrorText = 300

// maxErrorBody is how much of an error answer's body is read.
const maxErrorBody = 64 << 10

// decodeErrorBody reads an error body in any of the forms servers send:
//
//   - {"error": {…}}, typed (lineage A: request_id, request, recovery,
//     retry_after_seconds, details) or flat (lineage B: retry_after,
//     retryable, …); only when "error" is the one key and its code and
//     message are strings;
//   - {code, message} at the top level (older servers);
//   - anything else: code internal, the first 300 characters of the body
//     as the message ("HTTP <status>" when empty).
//
// ok is false in the last case.
func decodeErrorBody(b []byte) (eb wire.ErrorBody, ok bool) {
	var top map[string]json.RawMessage
	if json.Unmarshal(b, &top) == nil {
		if raw, found := top["error"]; found && len(top) == 1 {
			if err := json.Unmarshal(raw, &eb); err == nil && isErrorObject(raw) {
				return eb, true
			}
		}
		if isErrorObject(b) {
			if err := json.Unmarshal(b, &eb); err == nil {
				return wire.ErrorBody{Code: eb.Code, Message: eb.Message}, true
			}
		}
	}
	return wire.ErrorBody{}, false
}

// isErrorObject reports whether b is a JSON object whose code and message
// are strings.
func isErrorObject(b []byte) bool {
	var o struct {
		Code    *json.RawMessage `json:"code"`
		Message *json.RawMessage `json:"message"`
	}
	if json.Unmarshal(b, &o) != nil || o.Code == nil || o.Message == nil {
		return false
	}
	var s string
	return json.Unmarshal(*o.Code, &s) == nil && json.Unmarshal(*o.Message, &s) == nil
}

// textExcerpt is the start of a body that is not an error envelope.
func textExcerpt(b []byte, status int) string {
	s := strings.TrimSpace(strings.ToValidUTF8(string(b), "\uFFFD"))
	if s == "" {
		return "HTTP " + strconv.Itoa(status)
	}
	if utf8.RuneCountInString(s) > maxErrorText {
		s = string([]rune(s)[:maxErrorText])
	}
	return s
}

// answerError builds the *Error of an error answer: status, headers and
// body.
func answerError(status int, hdr http.Header, body []byte, op, path string) *Error {
	e := &Error{Status: status, Op: op, Path: path, answered: true}
	eb, ok := decodeErrorBody(body)
	if !ok {
		e.Code, e.Wire, e.Message = CodeInternal, "", textExcerpt(body, status)
	} else {
		e.Wire, e.Message, e.RequestID = eb.Code, eb.Message, eb.RequestID
		e.Code = codeForWire(eb.Code, status)
		e.retryable = eb.Retryable
		if eb.Recovery != nil {
			e.Recovery = eb.Recovery.Work
		}
		switch {
		case eb.RetryAfterSeconds != nil:
			e.RetryAfter = time.Duration(*eb.RetryAfterSeconds) * time.Second
		case eb.RetryAfter != nil:
			e.RetryAfter = time.Duration(*eb.RetryAfter) * time.Second
		}
	}
	if e.RetryAfter == 0 {
		e.RetryAfter = retryAfterHeader(hdr.Get(wire.HeaderRetryAfter))
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

// retryAfterHeader reads Retry-After: whole seconds (or an HTTP date).
func retryAfterHeader(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n > 0 {
		return time.Duration(min(n, 1<<31)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// entryError builds the *Error of a per-entry error inside a 200 write
// answer. It counts as an answer: retried by the same rules as an HTTP
// error with the code's lineage A status.
func entryError(ee wire.EntryError, op, path string) *Error {
	msg := ee.Message
	if msg == "" {
		msg = ee.Code
	}
	return &Error{Code: codeForWire(ee.Code, wire.StatusOf(ee.Code)), Wire: ee.Code, Message: msg,
		Op: op, Path: path, answered: true}
}

// statusError reads a non-2xx answer into an *Error.
func (a *answer) statusError() *Error {
	b, err := io.ReadAll(io.LimitReader(a.Body, maxErrorBody))
	if err != nil && len(b) == 0 && a.ctx.Err() != nil {
		return a.fail(err)
	}
	return answerError(a.StatusCode, a.Header, b, a.x.op, a.x.path)
}

// errorShaped reports whether a 2xx body is an error envelope all the
// same (it is then raised as an error, as the SDKs do).
func errorShaped(b []byte) bool {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' || !bytes.Contains(b, []byte(`"error"`)) {
		return false
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(b, &top) != nil || len(top) != 1 {
		return false
	}
	raw, ok := top["error"]
	return ok && isErrorObject(raw)
}

// failure turns a failure to complete exchange x into an *Error. parent
// is the caller's context, ctx the exchange's own (its cause says which
// watchdog, if any, cut the exchange).
func (c *Client) failure(parent, ctx context.Context, x *exchange, err error) *Error {
	if ue, ok := errorsAsURL(err); ok {
		ue.URL = x.shownURL() // a presigned URL's token never reaches an error string
	}
	e := &Error{Op: x.op, Path: x.path}
	switch cause := context.Cause(ctx); {
	case errors.Is(parent.Err(), context.Canceled):
		e.Code, e.Message, e.Err = CodeNetworkError, "cancelled", context.Canceled
	case parent.Err() != nil:
		e.Code, e.Message, e.Err = CodeTimeout, "the caller's deadline passed", errCallerDeadline
	case errors.Is(cause, errStalled):
		e.Code, e.Err = CodeTimeout, fmt.Errorf("%w: %w", cause, context.DeadlineExceeded)
		e.Message = fmt.Sprintf("transfer stalled: no progress for %v", c.cfg.TransferStall)
	case errors.Is(cause, errNoAnswer):
		e.Code, e.Err = CodeTimeout, fmt.Errorf("%w: %w", cause, context.DeadlineExceeded)
		e.Message = fmt.Sprintf("no answer within %v", c.waitOf(x))
	case errors.Is(cause, errTooLong):
		e.Code, e.Err = CodeTimeout, fmt.Errorf("%w: %w", cause, context.DeadlineExceeded)
		e.Message = fmt.Sprintf("no complete answer within %v", x.limit)
	default:
		e.Code, e.Err = CodeNetworkError, err
	}
	return e
}

// ctxFailure is the *Error of a call whose context ended while it waited
// for something other than an exchange.
func ctxFailure(ctx context.Context, op, path string) *Error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return &Error{Code: CodeNetworkError, Op: op, Path: path, Message: "cancelled", Err: context.Canceled}
	}
	return &Error{Code: CodeTimeout, Op: op, Path: path, Message: "the caller's deadline passed", Err: errCallerDeadline}
}

// waitOf is the answer wait of x.
func (c *Client) waitOf(x *exchange) time.Duration {
	if x.wait > 0 {
		return x.wait
	}
	return c.cfg.RequestTimeout
}

// netError is the *Error of an operation that ended outside an exchange:
// through its context (cancelled, or past its deadline), or with err.
func netError(ctx context.Context, op, path string, err error) error {
	if ctx.Err() != nil {
		return ctxFailure(ctx, op, path)
	}
	return &Error{Code: CodeNetworkError, Op: op, Path: path, Err: err}
}

// unknownOutcome turns the failure to get an answer to a request that is
// not safe to repeat into CodeUnknownOutcome (the cause kept in Err, so a
// cancellation still reads as one).
func unknownOutcome(err error) error {
	var e *Error
	if !errors.As(err, &e) || e.answered {
		return err
	}
	u := *e
	u.Code = CodeUnknownOutcome
	if u.Message == "" {
		u.Message = "no answer: the request may or may not have acted; reconcile before repeating it"
	} else {
		u.Message += "; the request may or may not have acted"
	}
	return &u
}
