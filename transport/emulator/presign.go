package emulator

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// Presigned operations.
const (
	opGet = "get"
	opPut = "put"
)

// claims is the signed content of a presigned URL's token. The client
// treats the token as opaque; these names are the emulator's own.
type claims struct {
	VM      string `json:"vm"`
	Path    []byte `json:"path"`              // path bytes (base64 in JSON)
	Op      string `json:"op"`                // opGet or opPut
	Version string `json:"version,omitempty"` // get: the file version the URL serves
	Upload  string `json:"upload,omitempty"`  // put: upload id
	Part    int    `json:"part,omitempty"`    // put: part number, from 1
	Offset  int64  `json:"offset,omitempty"`  // put: first byte of the part
	Length  int64  `json:"length,omitempty"`  // put: bytes in the part
	Expires int64  `json:"expires"`           // Unix seconds; invalid from then on
}

var b64url = base64.RawURLEncoding

// sign makes a token: base64url(claims) "." base64url(HMAC-SHA256(secret, claims)).
func (s *Server) sign(c claims) string {
	payload, _ := json.Marshal(c) // claims has no unencodable field
	mac := hmac.New(sha256.New, s.secret)
	mac.Write(payload)
	return b64url.EncodeToString(payload) + "." + b64url.EncodeToString(mac.Sum(nil))
}

// verify checks a token's signature, operation and expiry and returns its
// claims. forceExpired (a fault) treats a valid token as expired.
func (s *Server) verify(token, op string, forceExpired bool) (claims, *apiError) {
	var c claims
	forbidden := func(msg string) (claims, *apiError) {
		return c, errorf(http.StatusForbidden, wire.CodeForbidden, "", "%s", msg)
	}
	enc, sig, ok := strings.Cut(token, ".")
	if !ok {
		return forbidden("malformed presigned URL")
	}
	payload, err1 := b64url.DecodeString(enc)
	got, err2 := b64url.DecodeString(sig)
	if err1 != nil || err2 != nil {
		return forbidden("malformed presigned URL")
	}
	mac := hmac.New(sha256.New, s.secret)
	mac.Write(payload)
	if !hmac.Equal(mac.Sum(nil), got) {
		return forbidden("bad presigned URL signature")
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return forbidden("malformed presigned URL")
	}
	if c.Op != op {
		return forbidden("presigned URL is for " + strings.ToUpper(c.Op))
	}
	if forceExpired || !s.now().Before(time.Unix(c.Expires, 0)) {
		return forbidden("presigned URL expired")
	}
	return c, nil
}

// expiry returns the expiry of a URL signed now, as Unix seconds and as
// the RFC 3339 string answers carry.
func (s *Server) expiry() (int64, string) {
	t := s.now().Add(s.opts.PresignTTL).Truncate(time.Second)
	return t.Unix(), t.UTC().Format(time.RFC3339)
}

// blobURL is the presigned URL of token for a request that came in on r:
// the same scheme and host the client used.
func (s *Server) blobURL(r *http.Request, token string) string {
	host := r.Host
	if host == "" {
		return s.URL() + wire.PathBlob + token
	}
	return "http://" + host + wire.PathBlob + token
}
