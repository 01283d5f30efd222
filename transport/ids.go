package transport

import "github.com/oklog/ulid/v2"

// idempotencyPrefix starts every Idempotency-Key this client sends.
const idempotencyPrefix = "arkerfs-"

// newULID is a fresh ULID: an upload_id, or the unique part of a
// temporary name or an idempotency key.
func newULID() string { return ulid.Make().String() }

// newKey is a fresh Idempotency-Key: "arkerfs-" and a ULID, 34 printable
// ASCII characters (the API takes 1 to 64).
func newKey() string { return idempotencyPrefix + newULID() }
