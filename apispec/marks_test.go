package apispec

import (
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/arker-ai/arkerfs/docs"
)

// The document allows x-arker-lineage on path items, operations, response
// headers and oneOf alternatives only (see its header); a mark anywhere
// else would be silently ignored by Load, so it is refused here.
func TestLineageMarksOnlyWhereAllowed(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(docs.ArkerAPI)
	if err != nil {
		t.Fatal(err)
	}
	alternatives := map[*openapi3.Schema]bool{}
	seen := map[*openapi3.Schema]bool{}
	var walk func(*openapi3.SchemaRef)
	walk = func(ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		for _, alt := range s.OneOf {
			if alt.Value != nil {
				alternatives[alt.Value] = true
			}
		}
		for _, list := range []openapi3.SchemaRefs{s.OneOf, s.AnyOf, s.AllOf} {
			for _, r := range list {
				walk(r)
			}
		}
		walk(s.Not)
		walk(s.Items)
		walk(s.AdditionalProperties.Schema)
		for _, p := range s.Properties {
			walk(p)
		}
	}
	for _, r := range doc.Components.Schemas {
		walk(r)
	}
	for _, r := range doc.Components.Responses {
		for _, mt := range r.Value.Content {
			walk(mt.Schema)
		}
	}
	for s := range seen {
		if _, marked := s.Extensions[lineageKey]; marked && !alternatives[s] {
			t.Errorf("schema %q carries %s but is no oneOf alternative", s.Description, lineageKey)
		}
	}
	for name, r := range doc.Components.Responses {
		if _, marked := r.Value.Extensions[lineageKey]; marked {
			t.Errorf("response %s carries %s", name, lineageKey)
		}
	}
	for name, p := range doc.Components.Parameters {
		if _, marked := p.Value.Extensions[lineageKey]; marked {
			t.Errorf("parameter %s carries %s", name, lineageKey)
		}
	}
	marks := 0
	for s := range alternatives {
		if _, ok := s.Extensions[lineageKey]; ok {
			marks++
		}
	}
	if marks == 0 {
		t.Error("no oneOf alternative is marked: the walk found nothing")
	}
}
