package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/arker-ai/arkerfs/wire"
)

// maxSyncBody bounds a /sync body: the largest decoded content base64
// grows by a third, plus room for the JSON around it.
const maxSyncBody = wire.MaxSyncRequestContent/3*4 + 4<<20

// sha256Pattern is the schema's pattern of a sha256 field.
var sha256Pattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// syncBody is a decoded /sync body: op says which of the fields is set.
type syncBody struct {
	op       string
	read     wire.SyncReadRequest
	manifest wire.SyncManifestRequest
	writes   []writeEntry
}

// writeEntry is one entry of a write: a chunk write, or one of the
// published entry forms this server does not take (presigned write
// request and commit), answered with a per-entry unsupported_operation.
type writeEntry struct {
	chunk       wire.SyncChunkWrite
	unsupported string // the form's name when it is not a chunk write
}

// writeBody is the outer shape of a write request.
type writeBody struct {
	Op     string            `json:"op"`
	Writes []json.RawMessage `json:"writes"`
}

// presignedWrite is the published presigned write request entry.
type presignedWrite struct {
	Path      string `json:"path"`
	Size      int64  `json:"size"`
	Presigned bool   `json:"presigned"`
	IsSecret  *bool  `json:"is_secret,omitempty"`
}

// commitWrite is the published presigned write commit entry.
type commitWrite struct {
	Path     string  `json:"path"`
	Size     int64   `json:"size"`
	UploadID string  `json:"upload_id"`
	SHA256   *string `json:"sha256,omitempty"`
}

// Shapes of the sync bodies.
var (
	shapeRead     = shape{required: []string{"op", "path"}}
	shapeWrite    = shape{required: []string{"op", "writes"}}
	shapeChunk    = shape{required: []string{"path", "size", "upload_id", "content", "start", "end"}, nullable: []string{"sha256"}}
	shapePresign  = shape{required: []string{"path", "size", "presigned"}}
	shapeCommit   = shape{required: []string{"path", "size", "upload_id"}, nullable: []string{"sha256"}}
	shapeManifest = shape{required: []string{"op", "path"}}
)

// readSync reads and decodes a /sync body and names its endpoint.
func (s *Server) readSync(r *http.Request) (*syncBody, string, *apiError) {
	if aerr := checkJSONType(r); aerr != nil {
		return nil, EndpointSyncRead, aerr
	}
	data, err := readBody(r, maxSyncBody)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			return nil, EndpointSyncWrite, tooLarge(wire.MaxSyncRequestContent,
				"a sync request carries at most %d bytes of content", wire.MaxSyncRequestContent)
		}
		return nil, EndpointSyncRead, bodyError(err, maxSyncBody)
	}
	obj, aerr := parseObject(data, "")
	if aerr != nil {
		return nil, EndpointSyncRead, aerr
	}
	var op string
	if raw, ok := obj["op"]; !ok {
		return nil, EndpointSyncRead, invalidField("op", "is required")
	} else if json.Unmarshal(raw, &op) != nil {
		return nil, EndpointSyncRead, invalidField("op", "must be a string")
	}
	sb := &syncBody{op: op}
	switch op {
	case wire.OpRead:
		aerr = decodeObject(obj, data, &sb.read, shapeRead, "")
		return sb, EndpointSyncRead, aerr
	case wire.OpManifest:
		aerr = decodeObject(obj, data, &sb.manifest, shapeManifest, "")
		if aerr == nil && sb.manifest.Path == "" {
			aerr = invalidField("path", "must not be empty")
		}
		return sb, EndpointSyncManifest, aerr
	case wire.OpWrite:
		sb.writes, aerr = decodeWrites(obj, data)
		return sb, EndpointSyncWrite, aerr
	}
	return nil, EndpointSyncRead, invalidField("op", "must be one of read, write, manifest, not %q", op)
}

// decodeWrites decodes the entries of a write body, checks what the
// schema checks, and refuses a body whose decoded content is over the cap.
func decodeWrites(obj map[string]json.RawMessage, data []byte) ([]writeEntry, *apiError) {
	var wb writeBody
	if aerr := decodeObject(obj, data, &wb, shapeWrite, ""); aerr != nil {
		return nil, aerr
	}
	entries := make([]writeEntry, len(wb.Writes))
	var vs []wire.Violation
	var content int64
	for i, raw := range wb.Writes {
		prefix := fmt.Sprintf("writes[%d]", i)
		eobj, aerr := parseObject(raw, prefix)
		if aerr != nil {
			return nil, aerr
		}
		_, presigned := eobj["presigned"]
		_, hasContent := eobj["content"]
		_, hasStart := eobj["start"]
		_, hasEnd := eobj["end"]
		switch {
		case presigned:
			var pw presignedWrite
			aerr = decodeObject(eobj, raw, &pw, shapePresign, prefix)
			entries[i] = writeEntry{chunk: wire.SyncChunkWrite{Path: pw.Path, Size: pw.Size}, unsupported: "presigned write request"}
			checkNonNegative(&vs, prefix+".size", pw.Size)
		case !hasContent && !hasStart && !hasEnd && eobj["upload_id"] != nil:
			var cw commitWrite
			aerr = decodeObject(eobj, raw, &cw, shapeCommit, prefix)
			entries[i] = writeEntry{chunk: wire.SyncChunkWrite{Path: cw.Path, Size: cw.Size, UploadID: cw.UploadID}, unsupported: "presigned write commit"}
			checkNonNegative(&vs, prefix+".size", cw.Size)
			checkSHA(&vs, prefix+".sha256", cw.SHA256)
		default:
			cw := &entries[i].chunk
			aerr = decodeObject(eobj, raw, cw, shapeChunk, prefix)
			checkNonNegative(&vs, prefix+".size", cw.Size)
			checkNonNegative(&vs, prefix+".start", cw.Start)
			checkNonNegative(&vs, prefix+".end", cw.End)
			checkSHA(&vs, prefix+".sha256", cw.SHA256)
			content += decodedLen(cw.Content)
		}
		if aerr != nil {
			return nil, aerr
		}
	}
	if len(vs) > 0 {
		return nil, invalid(vs)
	}
	if content > wire.MaxSyncRequestContent {
		return nil, tooLarge(wire.MaxSyncRequestContent,
			"a sync request carries at most %d bytes of content, not %d", wire.MaxSyncRequestContent, content)
	}
	return entries, nil
}

func checkNonNegative(vs *[]wire.Violation, field string, v int64) {
	if v < 0 {
		*vs = append(*vs, wire.Violation{Field: field, Message: "must be ≥ 0"})
	}
}

func checkSHA(vs *[]wire.Violation, field string, p *string) {
	if p != nil && !sha256Pattern.MatchString(*p) {
		*vs = append(*vs, wire.Violation{Field: field, Message: "must be 64 lowercase hex digits"})
	}
}

// decodedLen is the length of the bytes a padded base64 string decodes to
// (an upper bound when the string is not valid base64).
func decodedLen(s string) int64 {
	n := int64(len(s)) / 4 * 3
	if len(s)%4 != 0 {
		n += 3
	}
	n -= int64(len(s) - len(strings.TrimRight(s, "=")))
	return max(n, 0)
}

// sync answers POST /v1/vms/{id}/sync.
func (s *Server) sync(c *call, sb *syncBody) {
	switch sb.op {
	case wire.OpRead:
		s.syncRead(c, sb.read)
	case wire.OpManifest:
		s.manifest(c, sb.manifest)
	case wire.OpWrite:
		s.syncWrite(c, sb.writes)
	}
}
