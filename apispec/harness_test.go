package apispec

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/arker-ai/arkerfs/wire"
)

// loaded caches one Spec per lineage; specFor gives each test its own
// record of violations over the shared, read-only document.
var loaded = struct {
	sync.Mutex
	specs map[wire.Lineage]*Spec
}{specs: map[wire.Lineage]*Spec{}}

func specFor(t *testing.T, l wire.Lineage) *Spec {
	t.Helper()
	loaded.Lock()
	defer loaded.Unlock()
	s, ok := loaded.specs[l]
	if !ok {
		var err error
		if s, err = Load(l); err != nil {
			t.Fatalf("Load(%s): %v", l, err)
		}
		loaded.specs[l] = s
	}
	return s.Clone()
}

// call is a request a test sends. Authorization: Bearer is added unless
// noAuth; Content-Type application/json is added to a body unless the
// header map sets one.
type call struct {
	method, path string
	header       map[string]string
	body         string
	noAuth       bool
}

// answer is what the test handler writes back, whatever the request.
type answer struct {
	status int
	header map[string]string // Content-Type application/json unless set
	body   string
}

// exchangeOnce sends c through the middleware of a fresh Spec of lineage
// l to a handler answering a, and returns the violations recorded.
func exchangeOnce(t *testing.T, l wire.Lineage, c call, a answer) []string {
	t.Helper()
	s := specFor(t, l)
	srv := httptest.NewServer(s.Middleware(cannedHandler(a)))
	defer srv.Close()
	send(t, srv.URL, c)
	return s.Violations()
}

func cannedHandler(a answer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if _, ok := a.header["Content-Type"]; !ok && a.body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		status := a.status
		if status == 0 {
			status = http.StatusOK
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, a.body)
	})
}

// send performs c against base and returns the status and body received.
func send(t *testing.T, base string, c call) (int, []byte) {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, base+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if !c.noAuth {
		req.Header.Set("Authorization", "Bearer test-key")
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, got
}

// expect fails t unless every violation contains one of want and every
// want is found in some violation. No want means no violation at all.
func expect(t *testing.T, got []string, want ...string) {
	t.Helper()
	for _, v := range got {
		if !containsAny(v, want) {
			t.Errorf("unexpected violation: %s", v)
		}
	}
	for _, w := range want {
		if !anyContains(got, w) {
			t.Errorf("no violation mentions %q; got:\n  %s", w, strings.Join(got, "\n  "))
		}
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func anyContains(ss []string, sub string) bool {
	for _, s := range ss {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

var bothLineages = []wire.Lineage{wire.LineageA, wire.LineageB}
