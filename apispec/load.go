package apispec

import (
	"context"
	"fmt"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/arker-ai/arkerfs/docs"
	"github.com/arker-ai/arkerfs/wire"
)

// Names in the document that the validator relies on.
const (
	lineageKey    = "x-arker-lineage"    // marks a part of one lineage only
	httpStatusKey = "x-http-status"      // the one status of a typed error code (A)
	typedBodyName = "TypedErrorBody"     // lineage A: oneOf every typed error body
	typedEnvelope = "TypedErrorResponse" // lineage A: {"error": TypedErrorBody}
	flatEnvelope  = "FlatErrorResponse"  // lineage B: {"error": FlatErrorBody}
)

// Spec is the contract of one lineage, ready to validate traffic. It is
// safe for concurrent use.
type Spec struct {
	lineage wire.Lineage
	doc     *openapi3.T
	router  routers.Router
	// otherRouter routes the other lineage's operations: a request for one
	// of them is a client's capability probe, which is correct when the
	// server answers it as a missing route (404).
	otherRouter routers.Router
	// envelope is the lineage's error envelope for any code: the check of
	// an error answer to a request no operation matches.
	envelope *openapi3.Schema
	// codeStatus is lineage A's one HTTP status per typed error code; nil
	// in lineage B, which has none.
	codeStatus map[string]int

	mu         sync.Mutex
	violations []string // guarded by mu
}

// Load reads docs/arker-api.yaml for lineage l: it drops the parts marked
// for the other lineage and validates what is left as an OpenAPI 3.0
// document.
func Load(l wire.Lineage) (*Spec, error) {
	if l != wire.LineageA && l != wire.LineageB {
		return nil, fmt.Errorf("apispec: unknown lineage %q", l)
	}
	doc, router, err := loadLineage(l)
	if err != nil {
		return nil, err
	}
	_, other, err := loadLineage(otherLineage(l))
	if err != nil {
		return nil, err
	}
	s := &Spec{lineage: l, doc: doc, router: router, otherRouter: other}
	name := flatEnvelope
	if l == wire.LineageA {
		name = typedEnvelope
		if s.codeStatus, err = codeStatuses(doc); err != nil {
			return nil, fmt.Errorf("apispec: arker-api.yaml: %w", err)
		}
	}
	ref := doc.Components.Schemas[name]
	if ref == nil || ref.Value == nil {
		return nil, fmt.Errorf("apispec: arker-api.yaml has no schema %s", name)
	}
	s.envelope = ref.Value
	return s, nil
}

// loadLineage reads the document for lineage l, validates it, and routes
// on paths alone: the servers of the document are the real hosts, with an
// /api prefix; the traffic checked here is /v1/… on whatever host serves it.
func loadLineage(l wire.Lineage) (*openapi3.T, routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromData(docs.ArkerAPI)
	if err != nil {
		return nil, nil, fmt.Errorf("apispec: load arker-api.yaml: %w", err)
	}
	if err := keepLineage(doc, l); err != nil {
		return nil, nil, fmt.Errorf("apispec: arker-api.yaml: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, nil, fmt.Errorf("apispec: arker-api.yaml, lineage %s: %w", l, err)
	}
	doc.Servers = nil
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, nil, fmt.Errorf("apispec: route arker-api.yaml: %w", err)
	}
	return doc, router, nil
}

// otherLineage is the lineage that is not l.
func otherLineage(l wire.Lineage) wire.Lineage {
	if l == wire.LineageA {
		return wire.LineageB
	}
	return wire.LineageA
}

// Clone returns a Spec that checks against the same loaded document and
// records its own violations, none yet. Loading is slow; cloning is not.
func (s *Spec) Clone() *Spec {
	return &Spec{lineage: s.lineage, doc: s.doc, router: s.router, otherRouter: s.otherRouter,
		envelope: s.envelope, codeStatus: s.codeStatus}
}

// Lineage returns the lineage the Spec checks.
func (s *Spec) Lineage() wire.Lineage { return s.lineage }

// codeStatuses reads the code and the x-http-status of every typed error
// body.
func codeStatuses(doc *openapi3.T) (map[string]int, error) {
	body := doc.Components.Schemas[typedBodyName]
	if body == nil || body.Value == nil || len(body.Value.OneOf) == 0 {
		return nil, fmt.Errorf("schema %s is not a oneOf", typedBodyName)
	}
	out := make(map[string]int)
	for _, alt := range body.Value.OneOf {
		v := alt.Value
		if v == nil || v.Properties["code"] == nil || v.Properties["code"].Value == nil ||
			len(v.Properties["code"].Value.Enum) != 1 {
			return nil, fmt.Errorf("%s: %s does not fix one code", typedBodyName, alt.Ref)
		}
		code, ok := v.Properties["code"].Value.Enum[0].(string)
		status, ok2 := intExtension(v.Extensions[httpStatusKey])
		if !ok || !ok2 {
			return nil, fmt.Errorf("%s: %s has no string code or no integer %s", typedBodyName, alt.Ref, httpStatusKey)
		}
		out[code] = status
	}
	return out, nil
}

// intExtension reads a whole number from a decoded extension value.
func intExtension(v any) (int, bool) {
	switch n := v.(type) {
	case float64:
		if n == float64(int(n)) {
			return int(n), true
		}
	case int:
		return n, true
	case int64:
		return int(n), true
	}
	return 0, false
}
