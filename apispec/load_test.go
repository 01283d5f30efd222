package apispec

import (
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/arker-ai/arkerfs/wire"
)

func TestLoadBothLineages(t *testing.T) {
	for _, l := range bothLineages {
		s, err := Load(l)
		if err != nil {
			t.Fatalf("Load(%s): %v", l, err)
		}
		if s.Lineage() != l {
			t.Errorf("Lineage() = %s, want %s", s.Lineage(), l)
		}
		if got := s.Violations(); len(got) != 0 {
			t.Errorf("a new Spec has violations: %v", got)
		}
	}
}

func TestLoadUnknownLineage(t *testing.T) {
	if _, err := Load(wire.Lineage("c")); err == nil {
		t.Fatal("Load(c) succeeded")
	}
}

// The lineage marks of the document land where the document says.
func TestLoadKeepsOneLineage(t *testing.T) {
	a, b := specFor(t, wire.LineageA), specFor(t, wire.LineageB)

	if a.doc.Paths.Value("/v1/vms/{id}/sync-stream") != nil {
		t.Error("lineage a has /sync-stream")
	}
	if b.doc.Paths.Value("/v1/vms/{id}/sync-stream") == nil {
		t.Error("lineage b lacks /sync-stream")
	}
	for _, p := range a.doc.Paths.Keys() {
		for m, op := range a.doc.Paths.Value(p).Operations() {
			if op.Responses.Default() != nil {
				t.Errorf("lineage a: %s %s declares a default response", m, p)
			}
		}
	}
	for _, p := range b.doc.Paths.Keys() {
		for m, op := range b.doc.Paths.Value(p).Operations() {
			if op.Responses.Default() == nil {
				t.Errorf("lineage b: %s %s lacks the default response", m, p)
			}
		}
	}
	if h := a.doc.Components.Responses["UnauthorizedError"].Value.Headers; h["WWW-Authenticate"] == nil {
		t.Error("lineage a: 401 lacks WWW-Authenticate")
	}
	if h := b.doc.Components.Responses["UnauthorizedError"].Value.Headers; h["WWW-Authenticate"] != nil {
		t.Error("lineage b: 401 declares WWW-Authenticate")
	}
	// Every error alternative left is of the lineage kept.
	for name, want := range map[string]string{"BadRequestError": "BadRequestErrorResponse", "HealthUnavailable": "HealthUnavailableResponse"} {
		alts := a.doc.Components.Responses[name].Value.Content.Get("application/json").Schema.Value.OneOf
		if len(alts) != 1 || refName(alts[0].Ref) != want {
			t.Errorf("lineage a: %s alternatives %v, want only %s", name, refs(alts), want)
		}
	}
	alts := b.doc.Components.Responses["NotFoundError"].Value.Content.Get("application/json").Schema.Value.OneOf
	if len(alts) != 1 || refName(alts[0].Ref) != flatEnvelope {
		t.Errorf("lineage b: NotFoundError alternatives %v, want only %s", refs(alts), flatEnvelope)
	}
	if len(a.codeStatus) != 24 {
		t.Errorf("lineage a: %d typed codes, want 24", len(a.codeStatus))
	}
	for code, status := range a.codeStatus {
		if want := wire.StatusOf(code); want != status {
			t.Errorf("code %s: document says %d, wire.StatusOf %d", code, status, want)
		}
	}
}

func refs(list openapi3.SchemaRefs) []string {
	var out []string
	for _, r := range list {
		out = append(out, r.Ref)
	}
	return out
}
