package transport

import (
	"bytes"
	"encoding/base64"
	"io"
	"unicode/utf8"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// encodePath puts a VM path on the wire: as itself when it is valid
// UTF-8, else base64 with path_encoding "base64" (JSON cannot carry it).
func encodePath(p string) (string, string) {
	if utf8.ValidString(p) {
		return p, ""
	}
	return base64.StdEncoding.EncodeToString([]byte(p)), wire.EncodingBase64
}

// decodeBytes decodes a content or output field by its encoding.
func decodeBytes(s, enc string) ([]byte, error) {
	if enc == wire.EncodingBase64 {
		return base64.StdEncoding.DecodeString(s)
	}
	return []byte(s), nil
}

// bytesReader reads a byte slice (a fresh reader per attempt resends the
// same bytes).
func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
