package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/arker-ai/arkerfs/wire"
)

// Strict decoding. A JSON body must be one object, with nothing after it;
// its keys must be exactly the schema's (case-sensitive: encoding/json
// would match "Command" to "command"), required ones present, null only
// where the schema allows it, and every value of its field's type.
// Whatever fails is a bad_request listing the violations.

// errTooLarge is returned by readBody when the body exceeds its limit.
var errTooLarge = errors.New("request body too large")

// readBody reads a request body of at most maxBytes. A larger body is
// drained (up to a bound, so that the client reads the answer rather than
// a reset) and reported as errTooLarge.
func readBody(r *http.Request, maxBytes int64) ([]byte, error) {
	if r.ContentLength > maxBytes {
		_, _ = io.CopyN(io.Discard, r.Body, 2*maxBytes)
		return nil, errTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the request body: %w", err)
	}
	if int64(len(body)) > maxBytes {
		_, _ = io.CopyN(io.Discard, r.Body, 2*maxBytes)
		return nil, errTooLarge
	}
	return body, nil
}

// bodyError answers a failed readBody.
func bodyError(err error, maxBytes int64) *apiError {
	if errors.Is(err, errTooLarge) {
		return tooLarge(maxBytes, "request body over %d bytes", maxBytes)
	}
	return badRequest("%v", err)
}

// checkJSONType refuses a request whose Content-Type is present and not
// JSON, or whose body is content-encoded.
func checkJSONType(r *http.Request) *apiError {
	if ce := r.Header.Get("Content-Encoding"); ce != "" && ce != "identity" {
		return badRequest("Content-Encoding %q is not accepted", ce)
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return badRequest("Content-Type must be application/json, not %q", ct)
	}
	return nil
}

// parseObject decodes data as one JSON object and nothing after it.
func parseObject(data []byte, field string) (map[string]json.RawMessage, *apiError) {
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, invalidField(fieldName(field), "must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		return nil, invalidField(fieldName(field), "is not valid JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, invalidField(fieldName(field), "has data after the JSON object")
	}
	return obj, nil
}

func fieldName(f string) string {
	if f == "" {
		return "body"
	}
	return f
}

// shape is the schema of one object: its required fields and those that
// may be null. The allowed fields are v's json tags.
type shape struct {
	required []string
	nullable []string
}

// decodeStrict decodes the object data into v (a pointer to a struct)
// under shape sh; prefix names the object in violations ("" for the body,
// "writes[2]" for an entry).
func decodeStrict(data []byte, v any, sh shape, prefix string) *apiError {
	obj, aerr := parseObject(data, prefix)
	if aerr != nil {
		return aerr
	}
	return decodeObject(obj, data, v, sh, prefix)
}

// decodeObject is decodeStrict for an object already parsed into obj.
func decodeObject(obj map[string]json.RawMessage, data []byte, v any, sh shape, prefix string) *apiError {
	allowed := jsonFields(reflect.TypeOf(v).Elem())
	var vs []wire.Violation
	add := func(field, msg string) {
		if prefix != "" {
			field = prefix + "." + field
		}
		vs = append(vs, wire.Violation{Field: field, Message: msg})
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch {
		case !slices.Contains(allowed, k):
			add(k, "unknown field")
		case string(bytes.TrimSpace(obj[k])) == "null" && !slices.Contains(sh.nullable, k):
			add(k, "must not be null")
		}
	}
	for _, k := range sh.required {
		if _, ok := obj[k]; !ok {
			add(k, "is required")
		}
	}
	if len(vs) > 0 {
		return invalid(vs)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			add(te.Field, "must be "+typeName(te.Type)+", not "+te.Value)
			return invalid(vs)
		}
		return invalidField(fieldName(prefix), "is not valid: %v", err)
	}
	return nil
}

// typeName names a Go type as the schema does.
func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}

// fieldCache maps a struct type to its JSON field names.
var fieldCache sync.Map // reflect.Type -> []string

// jsonFields returns the JSON names of t's fields.
func jsonFields(t reflect.Type) []string {
	if v, ok := fieldCache.Load(t); ok {
		return v.([]string)
	}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
	}
	fieldCache.Store(t, names)
	return names
}

// checkRange adds a violation when *p is set and outside [lo, hi].
func checkRange[T int | int64](vs *[]wire.Violation, field string, p *T, lo, hi T) {
	if p != nil && (*p < lo || *p > hi) {
		*vs = append(*vs, wire.Violation{Field: field, Message: fmt.Sprintf("must be from %d to %d", lo, hi)})
	}
}

// checkEnum adds a violation when *p is set and not one of values.
func checkEnum(vs *[]wire.Violation, field string, p *string, values ...string) {
	if p != nil && !slices.Contains(values, *p) {
		*vs = append(*vs, wire.Violation{Field: field, Message: "must be one of " + strings.Join(values, ", ")})
	}
}
