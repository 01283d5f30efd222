package apispec

import "testing"

func TestMoreOperationFailures(t *testing.T) {
	runCases(t, []opCase{
		{name: "cancel answered with a string", lineages: bothLineages,
			call:   call{method: "DELETE", path: "/v1/vms/vm1/runs/r1"},
			answer: answer{body: `{"cancelled":"yes"}`},
			want:   []string{"response: body: /cancelled: value must be a boolean"}},
		{name: "cancel 404", lineages: onlyA,
			call:   call{method: "DELETE", path: "/v1/vms/vm1/runs/nope"},
			answer: answer{status: 404, body: typedErr("not_found", "cancelRun", `{"resource":"run"}`)}},
		{name: "list sessions with a bad state filter", lineages: bothLineages,
			call:   call{method: "GET", path: "/v1/vms/vm1/sessions?state=busy"},
			answer: answer{body: `{"sessions":[]}`},
			want:   []string{`request: query parameter "state"`}},
		{name: "list sessions without the list", lineages: bothLineages,
			call:   call{method: "GET", path: "/v1/vms/vm1/sessions"},
			answer: answer{body: `{"next_cursor":null}`},
			want:   []string{`/sessions: property "sessions" is missing`}},
		{name: "get session 404", lineages: onlyA,
			call:   call{method: "GET", path: "/v1/vms/vm1/sessions/nope"},
			answer: answer{status: 404, body: typedErr("not_found", "getSession", `{"resource":"session"}`)}},
		{name: "get session 404 with an unknown resource kind", lineages: onlyA,
			call:   call{method: "GET", path: "/v1/vms/vm1/sessions/nope"},
			answer: answer{status: 404, body: typedErr("not_found", "getSession", `{"resource":"shell"}`)},
			want:   []string{"/error/details/resource: value is not one of the allowed values"}},
		{name: "typed error for an unknown operation id", lineages: onlyA,
			call:   call{method: "GET", path: "/v1/vms/vm1/sessions/nope"},
			answer: answer{status: 404, body: typedErr("not_found", "getShell", `{"resource":"session"}`)},
			want:   []string{"/error/request/operation_id: value is not one of the allowed values"}},
		{name: "patch session with rows out of range", lineages: bothLineages,
			call:   call{method: "PATCH", path: "/v1/vms/vm1/sessions/s1", body: `{"cols":80,"rows":0}`},
			answer: answer{body: `{"ok":true,"session_id":"s1"}`},
			want:   []string{"request: body: /rows: number must be at least 1"}},
		{name: "delete session 409 invalid_state", lineages: onlyA,
			call: call{method: "DELETE", path: "/v1/vms/vm1/sessions/s1"},
			answer: answer{status: 409, body: typedErr("invalid_state", "deleteSession",
				`{"resource":{"kind":"session"},"requirement":"mutable"}`)}},
		{name: "delete session 409 resource_busy is not declared", lineages: onlyA,
			call:   call{method: "DELETE", path: "/v1/vms/vm1/sessions/s1"},
			answer: answer{status: 409, body: typedErr("resource_busy", "deleteSession", `{"resource":"session"}`)},
			want: []string{`/error/code: value is not one of the allowed values ["invalid_state"]`,
				"/error/details/resource: value must be an object", `/error/details/requirement: property "requirement" is missing`}},
		{name: "whoami missing org_name", lineages: bothLineages,
			call:   call{method: "GET", path: "/v1/whoami"},
			answer: answer{body: `{"org_id":"org_1"}`},
			want:   []string{`/org_name: property "org_name" is missing`}},
	})
}

func TestMediaTypeParameters(t *testing.T) {
	runCases(t, []opCase{
		{name: "JSON with a charset both ways", lineages: bothLineages,
			call: call{method: "POST", path: "/v1/vms/vm1/sync", body: readReq,
				header: map[string]string{"Content-Type": "application/json; charset=utf-8"}},
			answer: answer{body: readInline, header: map[string]string{"Content-Type": "application/json; charset=utf-8"}}},
		{name: "a JSON answer labelled text", lineages: bothLineages,
			call:   call{method: "POST", path: "/v1/vms/vm1/sync", body: readReq},
			answer: answer{body: readInline, header: map[string]string{"Content-Type": "text/plain"}},
			want:   []string{`response: response header Content-Type has unexpected value: "text/plain"`}},
		{name: "a JSON request labelled text", lineages: bothLineages,
			call: call{method: "POST", path: "/v1/vms/vm1/sync", body: readReq,
				header: map[string]string{"Content-Type": "text/plain"}},
			answer: answer{body: readInline},
			want:   []string{`request: body: header Content-Type has unexpected value "text/plain"`}},
	})
}
