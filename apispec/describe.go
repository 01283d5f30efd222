package apispec

import (
	"errors"
	"fmt"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

// maxProblem bounds the length of one recorded problem.
const maxProblem = 600

// problems turns a kin-openapi validation error into short readable
// problems, one per failed check.
func problems(err error) []string {
	var out []string
	for _, p := range describe(err) {
		out = append(out, clip(p))
	}
	return out
}

func describe(err error) []string {
	switch e := err.(type) {
	case nil:
		return nil
	case openapi3.MultiError:
		var out []string
		for _, x := range e {
			out = append(out, describe(x)...)
		}
		return out
	case *openapi3filter.RequestError:
		where := "body"
		if e.Parameter != nil {
			where = fmt.Sprintf("%s parameter %q", e.Parameter.In, e.Parameter.Name)
		}
		if isSchemaError(e.Err) {
			return under(where, "", e.Err)
		}
		return under(where, e.Reason, e.Err)
	case *openapi3filter.ResponseError:
		switch {
		case strings.HasPrefix(e.Reason, "response body doesn't match schema"):
			return under("body", "", e.Err)
		case e.Reason == "status is not supported":
			return []string{"status is not declared for this operation"}
		}
		return under("", e.Reason, e.Err)
	case *openapi3filter.SecurityRequirementsError:
		var why []string
		for _, x := range e.Errors {
			why = append(why, x.Error())
		}
		return []string{"authorization: " + strings.Join(why, "; ")}
	case *openapi3.SchemaError:
		return schemaProblems("", e)
	}
	return []string{err.Error()}
}

// under prefixes the problems of err with where and reason.
func under(where, reason string, err error) []string {
	head := strings.TrimSpace(strings.Join(nonEmpty(where, reason), ": "))
	inner := describe(err)
	if len(inner) == 0 {
		if head == "" {
			return []string{"invalid"}
		}
		return []string{head}
	}
	if head == "" {
		return inner
	}
	out := make([]string, len(inner))
	for i, p := range inner {
		out[i] = head + ": " + p
	}
	return out
}

// schemaProblems describes a schema error at the JSON pointer base. A
// failed allOf gives the reasons of its failed members. A failed oneOf
// gives the reasons of the nearest alternative (the one with the fewest
// problems), or of the only one a discriminator or the lineage left.
func schemaProblems(base string, e *openapi3.SchemaError) []string {
	at := base + pointer(e.JSONPointer())
	if e.SchemaField == "allOf" {
		var out []string
		for _, c := range causes(e) {
			out = append(out, nested(at, c)...)
		}
		if len(out) > 0 {
			return out
		}
	}
	if e.SchemaField == "oneOf" {
		if causes := causes(e); len(causes) > 0 {
			best, bestAt := []string(nil), -1
			for i, c := range causes {
				ps := nested(at, c)
				if bestAt < 0 || len(ps) < len(best) {
					best, bestAt = ps, i
				}
			}
			if len(causes) == 1 {
				return best
			}
			name := fmt.Sprintf("alternative %d", bestAt+1)
			if alts := e.Schema.OneOf; len(alts) == len(causes) && alts[bestAt].Ref != "" {
				name = refName(alts[bestAt].Ref)
			}
			return []string{fmt.Sprintf("%s: matches none of the %d alternatives; nearest %s: %s",
				atOrRoot(at), len(causes), name, strings.Join(best, "; "))}
		}
	}
	return []string{fmt.Sprintf("%s: %s", atOrRoot(at), e.Reason)}
}

// isSchemaError reports whether err is made of schema errors only.
func isSchemaError(err error) bool {
	switch e := err.(type) {
	case *openapi3.SchemaError:
		return true
	case openapi3.MultiError:
		for _, x := range e {
			if !isSchemaError(x) {
				return false
			}
		}
		return len(e) > 0
	}
	return false
}

// refName is the last element of a $ref.
func refName(ref string) string {
	return ref[strings.LastIndex(ref, "/")+1:]
}

// nested describes the error of a member of a combinator at base.
func nested(base string, err error) []string {
	if se, ok := err.(*openapi3.SchemaError); ok {
		return schemaProblems(base, se)
	}
	return describe(err)
}

// causes returns the errors of the members of a failed oneOf or allOf.
func causes(e *openapi3.SchemaError) []error {
	var me openapi3.MultiError
	for err := e.Origin; err != nil; err = errors.Unwrap(err) {
		if m, ok := err.(openapi3.MultiError); ok {
			me = m
			break
		}
	}
	return me
}

func pointer(parts []string) string {
	if len(parts) == 0 {
		return ""
	}
	return "/" + strings.Join(parts, "/")
}

func atOrRoot(at string) string {
	if at == "" {
		return "/"
	}
	return at
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// clip keeps one problem on one bounded line.
func clip(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxProblem {
		s = s[:maxProblem] + "…"
	}
	return s
}
