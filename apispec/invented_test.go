package apispec

import (
	"testing"
)

// The shapes arkerfs used to send or answer before it spoke the published
// API. Each must be a violation.
func TestInventedShapesAreRejected(t *testing.T) {
	runCases(t, []opCase{
		{name: "POST /run instead of /runs", lineages: bothLineages,
			call:   call{method: "POST", path: "/v1/vms/x/run", body: `{"command":"true","timeout":1}`},
			answer: answer{body: runDone},
			want: []string{"POST /v1/vms/x/run 200: request: lineage ",
				"response: status 200 answers a request no operation matches"}},
		{name: "write entry with type, data, offset, final", lineages: bothLineages,
			call: call{method: "POST", path: "/v1/vms/x/sync",
				body: `{"op":"write","writes":[{"path":"/a","type":"file","data":"YWJj","offset":0,"final":true}]}`},
			answer: answer{body: writeResult},
			want: []string{`/writes/0: property "type" is unsupported`, `/writes/0: property "data" is unsupported`,
				`/writes/0: property "offset" is unsupported`, `/writes/0: property "final" is unsupported`,
				`property "size" is missing`, `property "upload_id" is missing`, `property "content" is missing`,
				`property "start" is missing`, `property "end" is missing`}},
		{name: "read with path_encoding", lineages: bothLineages,
			call:   call{method: "POST", path: "/v1/vms/x/sync", body: `{"op":"read","path":"L2E=","path_encoding":"base64"}`},
			answer: answer{body: readInline},
			want:   []string{`request: body: /: property "path_encoding" is unsupported`}},
		{name: "read answer with version and mtime_ns", lineages: bothLineages,
			call:   call{method: "POST", path: "/v1/vms/x/sync", body: readReq},
			answer: answer{body: `{"ok":true,"op":"read","path":"/a","size":3,"content":"abc","encoding":"utf8","version":"v1","mtime_ns":1}`},
			want:   []string{`response: body: /: matches none of the 4 alternatives; nearest SyncReadInlineResponse: /: property "mtime_ns" is unsupported; /: property "version" is unsupported`}},
		{name: "fractional timeout", lineages: bothLineages,
			call:   call{method: "POST", path: "/v1/vms/x/runs", body: `{"command":"true","timeout":1.5}`},
			answer: answer{body: runDone},
			want:   []string{"request: body: /timeout: value must be an integer"}},
		{name: "completed run without state is valid", lineages: bothLineages,
			call: call{method: "POST", path: "/v1/vms/x/runs", body: `{"command":"true","timeout":2}`},
			answer: answer{body: `{"stdout":"","stdout_encoding":"utf-8","stderr":"","stderr_encoding":"utf-8",` +
				`"exit_code":0}`}},
		{name: "error body {code,message} without the envelope", lineages: bothLineages,
			call:   call{method: "GET", path: "/v1/vms/x"},
			answer: answer{status: 404, body: `{"code":"not_found","message":"no such vm"}`},
			want: []string{`GET /v1/vms/x 404: response: body: /: property "code" is unsupported`,
				`/: property "message" is unsupported`, `/error: property "error" is missing`}},
		{name: "error body {code,message} inside the envelope", lineages: onlyB,
			call:   call{method: "GET", path: "/v1/vms/x"},
			answer: answer{status: 404, body: `{"error":{"code":"not_found","message":"no such vm"}}`},
			want:   []string{`response: body: /error/timestamp: property "timestamp" is missing`}},
		{name: "error body {code,message} inside the envelope", lineages: onlyA,
			call:   call{method: "GET", path: "/v1/vms/x"},
			answer: answer{status: 404, body: `{"error":{"code":"not_found","message":"no such vm"}}`},
			want: []string{`/error/timestamp: property "timestamp" is missing`,
				`/error/request_id: property "request_id" is missing`, `/error/request: property "request" is missing`,
				`/error/details: property "details" is missing`}},
		{name: "sync-stream probed where it does not exist", lineages: onlyA,
			call: call{method: "POST", path: "/v1/vms/x/sync-stream?path=/a&size=5",
				header: map[string]string{"Content-Type": "application/octet-stream"}, body: "hello"},
			answer: answer{status: 404, body: typedErr("not_found", "", `{"resource":"route"}`)}},
		{name: "sync-stream served where it does not exist", lineages: onlyA,
			call: call{method: "POST", path: "/v1/vms/x/sync-stream?path=/a&size=5",
				header: map[string]string{"Content-Type": "application/octet-stream"}, body: "hello"},
			answer: answer{status: 200, body: `{"ok":true,"op":"write_stream","path":"/a","size":5,"complete":true,"written":true}`},
			want: []string{"POST /v1/vms/x/sync-stream 200: request: lineage a declares no operation at this path, " +
				"and the answer is not the 404 of a missing route", "response: status 200 answers a request no operation matches"}},
		{name: "presigned multipart upload entry", lineages: bothLineages,
			call: call{method: "POST", path: "/v1/vms/x/sync",
				body: `{"op":"write","writes":[{"path":"/a","size":9000000,"upload_id":"u1","parts":[{"n":1}]}]}`},
			answer: answer{body: writeResult},
			want: []string{`property "parts" is unsupported`, `property "content" is missing`,
				`property "start" is missing`, `property "end" is missing`}},
	})
}
