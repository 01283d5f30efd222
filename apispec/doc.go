// Package apispec checks HTTP traffic against the Arker API contract,
// docs/arker-api.yaml, with the kin-openapi validator.
//
// Load reads the embedded document for one API lineage, removing the parts
// of the other lineage (marked x-arker-lineage; the header of the document
// says where the mark may appear), and validates the document itself.
// Spec.Middleware wraps an http.Handler: every request whose path starts
// with /v1/ is checked (route, path and query parameters, headers,
// authorization, JSON body; unknown fields, unknown query parameters and
// undeclared statuses fail), and so is the response the handler writes.
// Traffic passes through unchanged; each problem is recorded as one line,
// read with Spec.Violations. Tests wrap a server with it and fail on any
// violation.
//
// Bodies that are not JSON (the raw bytes of /sync-stream, up to GiBs) are
// never buffered: only their query, headers and content type are checked.
// JSON bodies above maxValidatedBody pass through unvalidated.
package apispec
