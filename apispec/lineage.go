package apispec

import (
	"fmt"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/arker-ai/arkerfs/wire"
)

// keepLineage removes from doc every part marked x-arker-lineage with a
// lineage other than keep: path items, operations, response headers, and
// oneOf alternatives. A response whose schema is left as a oneOf without
// alternatives accepts nothing in this lineage and is removed too.
func keepLineage(doc *openapi3.T, keep wire.Lineage) error {
	p := pruner{
		keep:    keep,
		seen:    map[*openapi3.Schema]bool{},
		emptied: map[*openapi3.Schema]bool{},
		gone:    map[*openapi3.Response]bool{},
	}
	for path, item := range doc.Paths.Map() {
		if p.drop(item.Extensions, "path "+path) {
			doc.Paths.Delete(path)
			continue
		}
		for method, op := range item.Operations() {
			if p.drop(op.Extensions, method+" "+path) {
				item.SetOperation(method, nil)
			}
		}
		if len(item.Operations()) == 0 {
			doc.Paths.Delete(path)
		}
	}
	c := doc.Components
	for _, name := range sortedKeys(c.Schemas) {
		p.schema(c.Schemas[name])
	}
	for _, name := range sortedKeys(c.Parameters) {
		if v := c.Parameters[name].Value; v != nil {
			p.schema(v.Schema)
		}
	}
	for _, name := range sortedKeys(c.Responses) {
		p.response(c.Responses[name])
	}
	for path, item := range doc.Paths.Map() {
		for _, prm := range item.Parameters {
			if prm.Value != nil {
				p.schema(prm.Value.Schema)
			}
		}
		for method, op := range item.Operations() {
			for _, prm := range op.Parameters {
				if prm.Value != nil {
					p.schema(prm.Value.Schema)
				}
			}
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				for _, mt := range op.RequestBody.Value.Content {
					p.schema(mt.Schema)
				}
			}
			if op.Responses == nil {
				continue
			}
			for status, resp := range op.Responses.Map() {
				p.response(resp)
				if p.empty(resp) {
					op.Responses.Delete(status)
				}
			}
			if op.Responses.Len() == 0 {
				return fmt.Errorf("%s %s has no response left in lineage %s", method, path, keep)
			}
		}
	}
	for _, name := range sortedKeys(c.Responses) {
		if p.empty(c.Responses[name]) {
			delete(c.Responses, name)
		}
	}
	return p.err
}

// pruner walks the document once, removing the other lineage's parts.
type pruner struct {
	keep    wire.Lineage
	seen    map[*openapi3.Schema]bool   // schemas already walked
	emptied map[*openapi3.Schema]bool   // oneOfs left without alternatives
	gone    map[*openapi3.Response]bool // responses that accept nothing left
	err     error                       // the first malformed mark
}

// drop reports whether ext marks its owner for the other lineage.
func (p *pruner) drop(ext map[string]any, where string) bool {
	v, ok := ext[lineageKey]
	if !ok {
		return false
	}
	s, _ := v.(string)
	switch l := wire.Lineage(s); l {
	case wire.LineageA, wire.LineageB:
		return l != p.keep
	}
	if p.err == nil {
		p.err = fmt.Errorf("%s: %s %v is neither %q nor %q", where, lineageKey, v, wire.LineageA, wire.LineageB)
	}
	return false
}

// schema removes marked oneOf alternatives in ref and every schema below it.
func (p *pruner) schema(ref *openapi3.SchemaRef) {
	if ref == nil || ref.Value == nil || p.seen[ref.Value] {
		return
	}
	s := ref.Value
	p.seen[s] = true
	if len(s.OneOf) > 0 {
		kept := s.OneOf[:0:0]
		for _, alt := range s.OneOf {
			if alt.Value != nil && p.drop(alt.Value.Extensions, "schema "+alt.Ref) {
				continue
			}
			kept = append(kept, alt)
		}
		s.OneOf = kept
		if len(kept) == 0 {
			p.emptied[s] = true
		}
	}
	for _, list := range []openapi3.SchemaRefs{s.OneOf, s.AnyOf, s.AllOf} {
		for _, r := range list {
			p.schema(r)
		}
	}
	p.schema(s.Not)
	p.schema(s.Items)
	p.schema(s.AdditionalProperties.Schema)
	for _, name := range sortedKeys(s.Properties) {
		p.schema(s.Properties[name])
	}
}

// response prunes the headers and the schemas of a response.
func (p *pruner) response(ref *openapi3.ResponseRef) {
	if ref == nil || ref.Value == nil {
		return
	}
	r := ref.Value
	for name, h := range r.Headers {
		if h.Value != nil && p.drop(h.Value.Extensions, "header "+name) {
			delete(r.Headers, name)
		}
	}
	for _, mt := range r.Content {
		p.schema(mt.Schema)
	}
}

// empty reports whether a response had content and accepts none of it in
// this lineage; its emptied media types are removed on the way.
func (p *pruner) empty(ref *openapi3.ResponseRef) bool {
	if ref == nil || ref.Value == nil {
		return false
	}
	r := ref.Value
	if p.gone[r] {
		return true
	}
	if len(r.Content) == 0 {
		return false
	}
	for name, mt := range r.Content {
		if mt.Schema != nil && mt.Schema.Value != nil && p.emptied[mt.Schema.Value] {
			delete(r.Content, name)
		}
	}
	p.gone[r] = len(r.Content) == 0
	return p.gone[r]
}
