package transport

import (
	"encoding/base64"
	"fmt"

	"github.com/arker-ai/arkerfs/wire"
)

// decodeOutput decodes a run's stdout or stderr by its encoding: "utf-8"
// (or none) is the text itself, "base64" standard base64.
func decodeOutput(s, encoding string) ([]byte, error) {
	switch encoding {
	case "", wire.RunEncodingUTF8:
		return []byte(s), nil
	case wire.EncodingBase64:
		return base64.StdEncoding.DecodeString(s)
	}
	return nil, fmt.Errorf("unknown output encoding %q", encoding)
}

// decodeContent decodes an inline sync read's content by its encoding:
// "utf8" is the text itself, "base64" standard base64.
func decodeContent(s, encoding string) ([]byte, error) {
	switch encoding {
	case wire.SyncEncodingUTF8:
		return []byte(s), nil
	case wire.EncodingBase64:
		return base64.StdEncoding.DecodeString(s)
	}
	return nil, fmt.Errorf("unknown content encoding %q", encoding)
}
