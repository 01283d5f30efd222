// Package wire is the Arker HTTP API as published (docs/arker-api.yaml,
// docs/PROTOCOL.md): every path, header, field name, enum value and limit
// that arkerfs sends or the emulator answers, and nothing else. Both sides
// import it: the client (package transport) and the server (package
// emulator). A name here that the published contract does not have is a
// bug: the document is the authority, and tests validate traffic against it.
//
// Two lineages of the API exist (ARKER-API.md §0): A (typed errors, no
// /sync-stream) and B (flat errors, /sync-stream). Where they differ, the
// type carries the fields of both, all optional, and the comments say which.
package wire

// Paths. A VM id (or name) and a run or session id are single path
// segments, escaped with url.PathEscape.
const (
	PathHealth  = "/v1/health"  // GET, no auth
	PathWhoami  = "/v1/whoami"  // GET
	PathRegions = "/v1/regions" // GET, no auth
	PathVMs     = "/v1/vms/"    // GET /v1/vms/{id}

	SuffixSync       = "/sync"        // POST /v1/vms/{id}/sync
	SuffixSyncStream = "/sync-stream" // POST /v1/vms/{id}/sync-stream (lineage B)
	SuffixRuns       = "/runs"        // POST, GET /v1/vms/{id}/runs; GET, DELETE …/runs/{run_id}
	SuffixSessions   = "/sessions"    // GET, POST /v1/vms/{id}/sessions; GET, PATCH, DELETE …/sessions/{sid}
)

// Headers.
const (
	HeaderAuthorization   = "Authorization" // "Bearer <key>"
	HeaderIdempotencyKey  = "Idempotency-Key"
	HeaderRetryAfter      = "Retry-After"      // integer seconds
	HeaderAllow           = "Allow"            // on 405 (lineage A)
	HeaderWWWAuthenticate = "Www-Authenticate" // on 401 (lineage A)
)

// Query parameters of /sync-stream.
const (
	QueryPath    = "path"
	QuerySize    = "size"
	QuerySHA256  = "sha256"
	QueryExtract = "extract"
)

// Extract formats of /sync-stream.
const (
	ExtractTar   = "tar"
	ExtractTarGz = "tar.gz"
	ExtractTgz   = "tgz"
)

// Limits and sizes.
const (
	// ChunkSize is the most file bytes one chunk write entry carries
	// (the SDKs' CHUNK_SIZE).
	ChunkSize = 4 << 20
	// MaxSyncRequestContent is the most decoded content bytes the server
	// accepts in one /sync write request (MAX_SYNC_INLINE_REQUEST_BYTES).
	MaxSyncRequestContent = 20 << 20
	// ClientSyncRequestContent is the most decoded content bytes a client
	// packs into one /sync write request (the SDK's INLINE_WRITE_LIMIT),
	// leaving room under the server's cap.
	ClientSyncRequestContent = 16 << 20
	// StreamMaxBytes is the body cap of /sync-stream behind the router
	// (STREAM_MAX_BYTES); above it the answer may be 413.
	StreamMaxBytes = 64 << 20
	// MaxSyncFileBytes is the largest raw request body (MAX_SYNC_FILE_BYTES).
	MaxSyncFileBytes = 2 << 30
	// ManifestMaxEntries caps a manifest (SYNC_MANIFEST_MAX_ENTRIES).
	ManifestMaxEntries = 50000
	// IdempotencyKeyMax is the longest Idempotency-Key (1–64 printable ASCII).
	IdempotencyKeyMax = 64
)

// Sync operations.
const (
	OpRead     = "read"
	OpWrite    = "write"
	OpManifest = "manifest"
)

// Content encodings. Sync reads say "utf8" (no hyphen); run outputs say
// "utf-8". Both say "base64" for anything else.
const (
	SyncEncodingUTF8 = "utf8"
	RunEncodingUTF8  = "utf-8"
	EncodingBase64   = "base64"
)

// SyncReadRequest is {op:"read", path}.
type SyncReadRequest struct {
	Op   string `json:"op"`
	Path string `json:"path"`
}

// SyncManifestRequest is {op:"manifest", path}: every regular file below
// the directory path (non-root), with size, mode and sha256.
type SyncManifestRequest struct {
	Op   string `json:"op"`
	Path string `json:"path"`
}

// SyncWriteRequest is {op:"write", writes}.
type SyncWriteRequest struct {
	Op     string           `json:"op"`
	Writes []SyncChunkWrite `json:"writes"`
}

// SyncChunkWrite is one chunk of a file: bytes [Start, End) of a file of
// Size bytes, base64 in Content, under one UploadID (a ULID) for all the
// chunks of one file. A zero-length file is one chunk with Start = End = 0.
type SyncChunkWrite struct {
	Path     string  `json:"path"`
	Size     int64   `json:"size"`
	UploadID string  `json:"upload_id"`
	Content  string  `json:"content"`
	Start    int64   `json:"start"`
	End      int64   `json:"end"`
	SHA256   *string `json:"sha256,omitempty"` // lowercase hex of the whole file
	IsSecret *bool   `json:"is_secret,omitempty"`
}

// SyncReadResponse is the answer to a read: inline (Content and Encoding)
// or presigned (PresignedURL, ExpiresIn, Method); never both.
type SyncReadResponse struct {
	OK           bool    `json:"ok"`
	Op           string  `json:"op"`
	Path         string  `json:"path"`
	Size         int64   `json:"size"`
	Content      *string `json:"content,omitempty"`
	Encoding     string  `json:"encoding,omitempty"`
	PresignedURL string  `json:"presigned_url,omitempty"`
	ExpiresIn    *int64  `json:"expires_in,omitempty"` // seconds
	Method       string  `json:"method,omitempty"`
}

// SyncWriteResponse answers a write: one result per entry, in order.
type SyncWriteResponse struct {
	OK      bool              `json:"ok"`
	Op      string            `json:"op"`
	Results []SyncWriteResult `json:"results"`
}

// ByteRange is a half-open byte range [Start, End).
type ByteRange struct {
	Start int64 `json:"start"`
	End   int64 `json:"end"`
}

// SyncWriteResult is the state of one file's upload after an entry:
// Complete once every byte arrived, Written once the file was committed
// to the VM. Earlier chunks answer Written false. Error is set when the
// entry failed; the HTTP status stays 200.
type SyncWriteResult struct {
	Path          string      `json:"path"`
	Size          int64       `json:"size"`
	ReceivedBytes int64       `json:"received_bytes"`
	Ranges        []ByteRange `json:"ranges"`
	Complete      bool        `json:"complete"`
	Written       bool        `json:"written"`
	Error         *EntryError `json:"error,omitempty"`
}

// EntryError is a per-entry error inside a 200 write answer. Lineage A
// codes: bad_request, not_found, conflict, payload_too_large,
// unsupported_operation, unavailable, internal, expired; not_found,
// conflict and expired carry details.resource.
type EntryError struct {
	Code    string        `json:"code"`
	Message string        `json:"message"`
	Details *ErrorDetails `json:"details,omitempty"`
}

// Manifest hash algorithm.
const HashSHA256 = "sha256"

// SyncManifestResponse lists regular files below Root (no ok/op fields).
type SyncManifestResponse struct {
	Root      string          `json:"root"`
	HashAlgo  string          `json:"hash_algo"`
	Entries   []ManifestEntry `json:"entries"`
	Truncated bool            `json:"truncated"`
}

// ManifestEntry is one regular file: Path relative to the root.
type ManifestEntry struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
	Mode uint32 `json:"mode"`
	Hash string `json:"hash"`
}

// Stream operations.
const (
	OpWriteStream   = "write_stream"
	OpExtractStream = "extract_stream"
)

// SyncStreamResponse answers /sync-stream (lineage B).
type SyncStreamResponse struct {
	OK        bool   `json:"ok"`
	Op        string `json:"op"`
	Path      string `json:"path"`
	Size      int64  `json:"size"`
	Complete  bool   `json:"complete"`
	Written   *bool  `json:"written,omitempty"`
	Extracted *bool  `json:"extracted,omitempty"`
}
