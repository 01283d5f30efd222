// Package wire holds every field name, endpoint path, status code and size
// threshold of the Arker HTTP contract that arkerfs speaks, in one place.
//
// Both sides import it: the client in package transport and the emulator in
// package transport/emulator. docs/PROTOCOL.md describes the same contract in
// prose and marks which facts come from the Arker SDK and which arkerfs chose.
// Meeting a change in the live service should touch this package first.
package wire

import "time"

// Endpoint paths. The VM id is one path segment, escaped with
// url.PathEscape by the client.
const (
	PathVM     = "/v1/vms/"   // GET  /v1/vms/{id}
	SuffixSync = "/sync"      // POST /v1/vms/{id}/sync
	SuffixRun  = "/run"       // POST /v1/vms/{id}/run
	PathBlob   = "/v1/blobs/" // GET|PUT /v1/blobs/{token}: presigned URLs (chosen)
)

// Headers.
const (
	HeaderAuthorization  = "Authorization" // "Bearer <key>"
	HeaderIdempotencyKey = "Idempotency-Key"
)

// Size thresholds (chosen; the SDK exports CHUNK_SIZE without documenting
// its value).
const (
	// ChunkSize is the most file bytes one chunk write entry carries, and
	// the size up to which the client uploads a file inline.
	ChunkSize = 4 << 20
	// InlineReadMax is the largest file a sync read answers inline;
	// larger files are answered with a presigned URL.
	InlineReadMax = 1 << 20
	// MaxSyncBody is the largest sync request body the server accepts;
	// beyond it the answer is payload_too_large (413).
	MaxSyncBody = 16 << 20
	// MaxRunBody is the largest run request body the server accepts.
	MaxRunBody = 1 << 20
	// PartSize is the default part size of a presigned multipart upload.
	PartSize = 8 << 20
	// PresignTTL is how long a presigned URL stays valid.
	PresignTTL = 15 * time.Minute
)

// HomeDir is the only tree the sync API accepts paths under.
const HomeDir = "/home/user"

// Error codes (from the SDK's ErrorCode enum).
const (
	CodeUnsupportedOperation = "unsupported_operation"
	CodeBadRequest           = "bad_request"
	CodeUnauthorized         = "unauthorized"
	CodeForbidden            = "forbidden"
	CodeNotFound             = "not_found"
	CodeConflict             = "conflict"
	CodePayloadTooLarge      = "payload_too_large"
	CodeNotImplemented       = "not_implemented"
	CodeResourcePressure     = "resource_pressure"
	CodeInternal             = "internal"
	CodeUnavailable          = "unavailable"
	CodeNetworkError         = "network_error" // client side only
)

// ErrorBody is every error answer: {code, message} from the SDK, plus the
// optional errno (chosen) that names the file-system condition behind a
// file error, e.g. "ENOENT", "EISDIR", "ENOSPC".
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Errno   string `json:"errno,omitempty"`
}

// VM is the answer to GET /v1/vms/{id} (the fields arkerfs reads; the
// service sends more).
type VM struct {
	VMID       string `json:"vm_id"`
	OwnerOrgID string `json:"owner_org_id"`
	CreatedAt  string `json:"created_at"`
	Name       string `json:"name,omitempty"`
	Public     bool   `json:"public"`
	State      string `json:"state"`
	Sessions   []any  `json:"sessions"`
}

// Path encodings. A path that is valid UTF-8 travels as itself; any other
// byte string travels base64-encoded with PathEncoding "base64" (chosen:
// JSON strings cannot carry invalid UTF-8).
const (
	EncodingUTF8   = "utf-8"
	EncodingBase64 = "base64"
)

// SyncReadRequest asks for one file: {path} (SDK).
type SyncReadRequest struct {
	Path         string `json:"path"`
	PathEncoding string `json:"path_encoding,omitempty"`
}

// SyncReadResponse is inline ({content, encoding}) or presigned
// ({presigned_url, method, expires_at}). Version and MtimeNs are chosen:
// Version changes whenever the file's content may have changed.
type SyncReadResponse struct {
	Path         string  `json:"path"`
	PathEncoding string  `json:"path_encoding,omitempty"`
	Size         int64   `json:"size"`
	Content      *string `json:"content,omitempty"`
	Encoding     string  `json:"encoding,omitempty"`
	PresignedURL string  `json:"presigned_url,omitempty"`
	Method       string  `json:"method,omitempty"`
	ExpiresAt    string  `json:"expires_at,omitempty"` // RFC 3339, UTC
	Version      string  `json:"version"`
	MtimeNs      int64   `json:"mtime_ns"`
}

// Write entry types (chosen discriminator).
const (
	WriteChunk   = "chunk"   // SyncChunkWrite
	WritePresign = "presign" // SyncPresignedWriteRequest
	WriteCommit  = "commit"  // SyncPresignedWriteCommit
)

// SyncWriteRequest carries one or more write entries: {writes} (SDK).
type SyncWriteRequest struct {
	Writes []SyncWriteEntry `json:"writes"`
}

// SyncWriteEntry is one write. Which fields apply depends on Type:
//
//	chunk:   path, upload_id, offset, data, encoding, final, size, sha256, mode
//	presign: path, upload_id, size, part_size
//	commit:  path, upload_id, size, sha256, mode
//
// upload_id and sha256 are from the SDK; the rest is chosen.
type SyncWriteEntry struct {
	Type         string  `json:"type"`
	Path         string  `json:"path"`
	PathEncoding string  `json:"path_encoding,omitempty"`
	UploadID     string  `json:"upload_id"`
	Offset       int64   `json:"offset,omitempty"`
	Data         string  `json:"data,omitempty"`
	Encoding     string  `json:"encoding,omitempty"`
	Final        bool    `json:"final,omitempty"`
	Size         *int64  `json:"size,omitempty"`
	PartSize     int64   `json:"part_size,omitempty"`
	SHA256       string  `json:"sha256,omitempty"`
	Mode         *uint32 `json:"mode,omitempty"`
}

// SyncWriteResponse answers a write request, one result per entry in order.
type SyncWriteResponse struct {
	Results []SyncWriteResult `json:"results"`
}

// SyncByteRange is a byte range of a file (SDK type name; fields chosen).
type SyncByteRange struct {
	Offset int64 `json:"offset"`
	Length int64 `json:"length"`
}

// PresignedPart is one part of a presigned multipart upload.
type PresignedPart struct {
	Part   int           `json:"part"`
	Range  SyncByteRange `json:"range"`
	URL    string        `json:"url"`
	Method string        `json:"method"`
}

// SyncWriteResult is the outcome of one entry. Error is set when that entry
// failed; the other entries of the request are unaffected.
type SyncWriteResult struct {
	Type         string          `json:"type"`
	Path         string          `json:"path"`
	PathEncoding string          `json:"path_encoding,omitempty"`
	UploadID     string          `json:"upload_id"`
	Error        *ErrorBody      `json:"error,omitempty"`
	Written      int64           `json:"written,omitempty"`   // chunk
	Committed    bool            `json:"committed,omitempty"` // chunk (final) and commit
	Parts        []PresignedPart `json:"parts,omitempty"`     // presign
	ExpiresAt    string          `json:"expires_at,omitempty"`
	Size         int64           `json:"size,omitempty"`
	SHA256       string          `json:"sha256,omitempty"`
	Version      string          `json:"version,omitempty"`
	MtimeNs      int64           `json:"mtime_ns,omitempty"`
	Ino          uint64          `json:"ino,omitempty"`
}

// RunRequest runs a foreground command (SDK fields arkerfs uses).
// Timeout is in seconds.
type RunRequest struct {
	Command string   `json:"command"`
	Timeout *float64 `json:"timeout,omitempty"`
}

// Run states (SDK).
const (
	RunCompleted = "completed"
	RunFailed    = "failed"
)

// RunResponse is the answer to a foreground run (SDK CompletedRunResponse).
type RunResponse struct {
	RunID          string  `json:"run_id"`
	State          string  `json:"state"`
	Stdout         string  `json:"stdout"`
	StdoutEncoding string  `json:"stdout_encoding"`
	Stderr         string  `json:"stderr"`
	StderrEncoding string  `json:"stderr_encoding"`
	ExitCode       int     `json:"exit_code"`
	FailReason     *string `json:"fail_reason,omitempty"`
}
