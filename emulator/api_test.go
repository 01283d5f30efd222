package emulator

import (
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/arker-ai/arkerfs/wire"
)

func TestRoutes(t *testing.T) {
	forEach(t, func(t *testing.T, l wire.Lineage) {
		e := newEnv(t, l)
		cases := []struct {
			method, path string
			status       int
			code         string
			allow        string
		}{
			{"GET", "/v1/nope", 404, wire.CodeNotFound, ""},
			{"GET", "/v1/regions", 404, wire.CodeNotFound, ""},
			{"POST", "/v1/fork", 404, wire.CodeNotFound, ""},
			{"GET", "/v1/vms", 404, wire.CodeNotFound, ""},
			{"POST", vm("/run"), 404, wire.CodeNotFound, ""},
			{"PUT", "/v1/blob/x", 404, wire.CodeNotFound, ""},
			{"GET", vm("/"), 404, wire.CodeNotFound, ""},
			{"GET", vm("/runs/"), 404, wire.CodeNotFound, ""},
			{"GET", vm("/sync/x"), 404, wire.CodeNotFound, ""},
			{"GET", vm("/sync"), 405, wire.CodeMethodNotAllowed, "POST"},
			{"POST", vm(""), 405, wire.CodeMethodNotAllowed, "GET, HEAD"},
			{"PUT", vm("/runs"), 405, wire.CodeMethodNotAllowed, "GET, HEAD, POST"},
			{"POST", vm("/runs/run_x"), 405, wire.CodeMethodNotAllowed, "GET, HEAD, DELETE"},
			{"PUT", vm("/sessions/s"), 405, wire.CodeMethodNotAllowed, "GET, HEAD, PATCH, DELETE"},
			{"POST", "/v1/health", 405, wire.CodeMethodNotAllowed, "GET, HEAD"},
			{"GET", "/v1/vms/other", 404, wire.CodeNotFound, ""},
		}
		for _, c := range cases {
			resp, b := e.do(c.method, c.path, nil, nil)
			obj := e.wantError(resp.StatusCode, b, c.status, c.code)
			if c.status == 405 {
				if l == wire.LineageA && resp.Header.Get("Allow") != c.allow {
					t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, resp.Header.Get("Allow"), c.allow)
				}
				if l == wire.LineageA {
					d, _ := obj["details"].(map[string]any)
					if am, _ := d["allowed_methods"].([]any); len(am) == 0 {
						t.Errorf("%s %s: no allowed_methods: %s", c.method, c.path, b)
					}
				}
			}
		}
		// The VM answers by id and by name.
		for _, p := range []string{vm(""), "/v1/vms/" + DefaultVMName} {
			status, b := e.call("GET", p, nil, nil)
			var v wire.VM
			mustJSON(t, b, &v)
			if status != 200 || v.VMID != DefaultVMID || v.Name != DefaultVMName || v.State != wire.VMIdle || len(v.Sessions) != 1 {
				t.Errorf("GET %s: %d %s", p, status, b)
			}
		}
	})
}

func TestSyncStreamRouteByLineage(t *testing.T) {
	forEach(t, func(t *testing.T, l wire.Lineage) {
		e := newEnv(t, l)
		status, b := e.call("POST", vm("/sync-stream"), "", nil)
		if l == wire.LineageA {
			obj := e.wantError(status, b, 404, wire.CodeNotFound)
			if req := obj["request"].(map[string]any); req["kind"] != wire.RequestUnmatched {
				t.Errorf("sync-stream in A: %s", b)
			}
		} else {
			e.wantError(status, b, 400, wire.CodeBadRequest) // present: the query is missing
		}
	})
}

func TestAuth(t *testing.T) {
	forEach(t, func(t *testing.T, l wire.Lineage) {
		e := newEnv(t, l)
		for _, h := range []string{"", "Bearer nope", "Basic " + testToken, testToken} {
			hdr := map[string]string{"Authorization": h}
			resp, b := e.do("GET", vm(""), nil, hdr)
			code := wire.CodeUnauthorized
			if l == wire.LineageB {
				code = wire.CodeInvalidAPIKey
				if h == "" {
					code = wire.CodeAPIKeyRequired
				}
			}
			e.wantError(resp.StatusCode, b, 401, code)
			if got := resp.Header.Get("WWW-Authenticate"); l == wire.LineageA && got != `Bearer realm="arker"` {
				t.Errorf("WWW-Authenticate %q", got)
			}
		}
		// Health needs none; whoami does.
		resp, b := e.do("GET", "/v1/health", nil, map[string]string{"Authorization": ""})
		var h wire.HealthResponse
		mustJSON(t, b, &h)
		if resp.StatusCode != 200 || h.Status != "ok" || h.Timestamp == "" {
			t.Errorf("health: %d %s", resp.StatusCode, b)
		}
		status, b := e.call("GET", "/v1/whoami", nil, nil)
		var w wire.WhoamiResponse
		mustJSON(t, b, &w)
		if status != 200 || w.OrgID != DefaultOrgID || w.OrgName != DefaultOrgName {
			t.Errorf("whoami: %d %s", status, b)
		}
		resp, b = e.do("GET", "/v1/whoami", nil, map[string]string{"Authorization": ""})
		if resp.StatusCode != 401 {
			t.Errorf("whoami without a key: %d %s", resp.StatusCode, b)
		}
	})
}

func TestStatsNames(t *testing.T) {
	e := newEnv(t, wire.LineageA)
	e.put("f", []byte("x"))
	e.call("GET", "/v1/health", nil, nil)
	e.call("GET", "/v1/whoami", nil, nil)
	e.call("GET", vm(""), nil, nil)
	e.call("POST", vm("/sync"), `{"op":"read","path":"/home/user/f"}`, nil)
	e.call("POST", vm("/sync"), `{"op":"manifest","path":"/home/user"}`, nil)
	e.call("POST", vm("/sync"), `{"op":"write","writes":[]}`, nil)
	e.call("GET", vm("/sessions"), nil, nil)
	e.call("GET", vm("/runs"), nil, nil)
	e.call("GET", "/v1/nope", nil, nil)
	st := e.s.Stats()
	for _, n := range []string{EndpointHealth, EndpointWhoami, EndpointVM, EndpointSyncRead, EndpointSyncManifest, EndpointSyncWrite, EndpointSessions, EndpointRunsGet} {
		if st.Requests[n] != 1 {
			t.Errorf("%s counted %d times: %v", n, st.Requests[n], st.Requests)
		}
	}
	var keys []string
	for k := range st.Requests {
		keys = append(keys, k)
	}
	for _, k := range keys {
		if !slices.Contains(endpoints, k) {
			t.Errorf("unknown stats name %q", k)
		}
	}
	if st.BytesIn == 0 || st.BytesOut == 0 {
		t.Errorf("bytes %+v", st)
	}
	e.s.ResetStats()
	if st := e.s.Stats(); len(st.Requests) != 0 || st.BytesIn != 0 {
		t.Errorf("after reset: %+v", st)
	}
}

func TestWrapCoversTheAPIOnly(t *testing.T) {
	var seen []string
	var mu sync.Mutex
	e := newEnv(t, wire.LineageA, func(o *Options) {
		o.InlineReadMax = 1
		o.Wrap = func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				seen = append(seen, r.URL.Path)
				mu.Unlock()
				h.ServeHTTP(w, r)
			})
		}
	})
	e.put("f", []byte("abc"))
	r := e.read("/home/user/f")
	e.presigned(r.PresignedURL, "")
	e.call("GET", "/_emulator/stats", nil, nil)
	e.call("GET", "/v1/nope", nil, nil)
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(seen, []string{vm("/sync"), "/v1/nope"}) {
		t.Errorf("wrapped %v", seen)
	}
}
