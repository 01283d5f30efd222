package wire

// ErrorEnvelope is every error answer of the current API: {"error": {…}}.
// Older servers answer ErrorBody's fields at the top level instead
// ({code, message}); clients accept both.
type ErrorEnvelope struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody is the inside of an envelope, in either form:
//
//   - typed (lineage A): code, message, timestamp, request_id, request;
//     optional retry_after_seconds, stage, recovery, details.
//   - flat (lineage B): code, message, timestamp; optional retry_after,
//     retryable, operation, runtime, provider, scope, region, resource, …
//
// The two forms' optional fields never appear together. Clients must not
// parse Message.
type ErrorBody struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Timestamp string `json:"timestamp,omitempty"`

	// Typed form (A).
	RequestID         string        `json:"request_id,omitempty"`
	Request           *RequestRef   `json:"request,omitempty"`
	RetryAfterSeconds *int64        `json:"retry_after_seconds,omitempty"`
	Stage             string        `json:"stage,omitempty"`
	Recovery          *Recovery     `json:"recovery,omitempty"`
	Details           *ErrorDetails `json:"details,omitempty"`

	// Flat form (B).
	RetryAfter *int64 `json:"retry_after,omitempty"`
	Retryable  *bool  `json:"retryable,omitempty"`
	Operation  string `json:"operation,omitempty"`
	Runtime    string `json:"runtime,omitempty"`
	Provider   string `json:"provider,omitempty"`
	Scope      string `json:"scope,omitempty"`
	Region     string `json:"region,omitempty"`
	Resource   string `json:"resource,omitempty"`
}

// RequestRef says which operation a typed error answers.
type RequestRef struct {
	Kind        string `json:"kind"`                   // matched | unmatched
	OperationID string `json:"operation_id,omitempty"` // when matched
	Method      string `json:"method,omitempty"`       // when unmatched
}

// Request kinds.
const (
	RequestMatched   = "matched"
	RequestUnmatched = "unmatched"
)

// Recovery says what became of the work a typed error interrupted.
type Recovery struct {
	Work    string           `json:"work"` // not_started | stopped | continuing | unknown
	Context *RecoveryContext `json:"context,omitempty"`
}

// Recovery work values.
const (
	WorkNotStarted = "not_started"
	WorkStopped    = "stopped"
	WorkContinuing = "continuing"
	WorkUnknown    = "unknown"
)

// RecoveryContext locates the interrupted work.
type RecoveryContext struct {
	VMID  string `json:"vm_id,omitempty"`
	RunID string `json:"run_id,omitempty"`
}

// ErrorDetails are the per-code details of typed errors (and of sync
// entry errors).
type ErrorDetails struct {
	Resource       string      `json:"resource,omitempty"`        // not_found, conflict, expired, invalid_state
	Requirement    string      `json:"requirement,omitempty"`     // invalid_state
	Violations     []Violation `json:"violations,omitempty"`      // bad_request
	AllowedMethods []string    `json:"allowed_methods,omitempty"` // method_not_allowed
	MaximumBytes   *int64      `json:"maximum_bytes,omitempty"`   // payload_too_large
	Reason         string      `json:"reason,omitempty"`          // unsupported_operation, operation_failed
	Feature        string      `json:"feature,omitempty"`         // unsupported_operation
	Limiter        string      `json:"limiter,omitempty"`         // rate_limited
	Scope          string      `json:"scope,omitempty"`           // capacity_unavailable: worker | region | platform
}

// Violation is one field a bad_request found wrong.
type Violation struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Resources named in details.resource.
const (
	ResourceFile     = "file"
	ResourceUpload   = "upload"
	ResourceResource = "resource"
	ResourceVM       = "vm"
	ResourceRun      = "run"
	ResourceSession  = "session"
	ResourceRoute    = "route"
)

// Error codes of lineage A (one HTTP status each, StatusOf).
const (
	CodeBadRequest            = "bad_request"
	CodeInsufficientResources = "insufficient_resources"
	CodeUnauthorized          = "unauthorized"
	CodePaymentRequired       = "payment_required"
	CodeForbidden             = "forbidden"
	CodeActionRequired        = "action_required"
	CodeNotFound              = "not_found"
	CodeMethodNotAllowed      = "method_not_allowed"
	CodeConflict              = "conflict"
	CodeResourceBusy          = "resource_busy"
	CodeInvalidState          = "invalid_state"
	CodeAlreadyExists         = "already_exists"
	CodeIdempotencyConflict   = "idempotency_conflict"
	CodeExpired               = "expired"
	CodePayloadTooLarge       = "payload_too_large"
	CodeUnsupportedOperation  = "unsupported_operation"
	CodeUnrecoverable         = "unrecoverable"
	CodeOperationFailed       = "operation_failed"
	CodeRateLimited           = "rate_limited"
	CodeQuotaExceeded         = "quota_exceeded"
	CodeInternal              = "internal"
	CodeCapacityUnavailable   = "capacity_unavailable"
	CodeUnavailable           = "unavailable"
	CodeGatewayTimeout        = "gateway_timeout"
)

// Error codes of lineage B that A does not have (B gives no status per code).
const (
	CodeValidationError                  = "validation_error"
	CodeInvalidAPIKey                    = "invalid_api_key"
	CodeAPIKeyRequired                   = "api_key_required"
	CodeCSRFRejected                     = "csrf_rejected"
	CodeLegalAcceptanceRequired          = "legal_acceptance_required"
	CodeUpstreamRateLimited              = "upstream_rate_limited"
	CodeBudgetExceeded                   = "budget_exceeded"
	CodeConcurrencyLimitExceeded         = "concurrency_limit_exceeded"
	CodeRegionalConcurrencyLimitExceeded = "regional_concurrency_limit_exceeded"
	CodeResourcePressure                 = "resource_pressure"
	CodeBadGateway                       = "bad_gateway"
	CodeStaleRoute                       = "stale_route"
)

// Codes of older SDKs' servers.
const (
	CodeRoutingUnavailable     = "routing_unavailable"
	CodeTemporarilyUnavailable = "temporarily_unavailable"
)

// statusOf is lineage A's one status per code.
var statusOf = map[string]int{
	CodeBadRequest: 400, CodeInsufficientResources: 400,
	CodeUnauthorized:    401,
	CodePaymentRequired: 402,
	CodeForbidden:       403, CodeActionRequired: 403,
	CodeNotFound:         404,
	CodeMethodNotAllowed: 405,
	CodeConflict:         409, CodeResourceBusy: 409, CodeInvalidState: 409, CodeAlreadyExists: 409, CodeIdempotencyConflict: 409,
	CodeExpired:              410,
	CodePayloadTooLarge:      413,
	CodeUnsupportedOperation: 422, CodeUnrecoverable: 422, CodeOperationFailed: 422,
	CodeRateLimited: 429, CodeQuotaExceeded: 429,
	CodeInternal:            500,
	CodeCapacityUnavailable: 503, CodeUnavailable: 503,
	CodeGatewayTimeout: 504,
}

// StatusOf returns lineage A's HTTP status for a code, and 0 for a code
// lineage A does not define.
func StatusOf(code string) int { return statusOf[code] }

// Lineage names an API lineage (ARKER-API.md §0).
type Lineage string

// The two lineages.
const (
	LineageA Lineage = "a" // typed errors, chunk writes only, no /sync-stream
	LineageB Lineage = "b" // flat errors, /sync-stream with extract
)
