package transport

import (
	"encoding/base64"
	"fmt"
	"unicode/utf8"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// encodePath puts a VM path on the wire: as itself when it is valid
// UTF-8, else base64 with path_encoding "base64" (JSON strings cannot
// carry invalid UTF-8).
func encodePath(p string) (wirePath, encoding string) {
	if utf8.ValidString(p) {
		return p, ""
	}
	return base64.StdEncoding.EncodeToString([]byte(p)), wire.EncodingBase64
}

// decodeBytes decodes a content or output field by its encoding:
// "utf-8" (or none) is the text itself, "base64" standard base64.
func decodeBytes(s, encoding string) ([]byte, error) {
	switch encoding {
	case "", wire.EncodingUTF8:
		return []byte(s), nil
	case wire.EncodingBase64:
		return base64.StdEncoding.DecodeString(s)
	}
	return nil, fmt.Errorf("unknown encoding %q", encoding)
}
