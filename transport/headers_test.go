package transport_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/wire"
)

// What goes on the wire beside the bodies: the bearer key on API calls
// only, JSON bodies, the idempotency key of a run, the VM id escaped.
func TestRequestHeaders(t *testing.T) {
	var mu sync.Mutex // protects seen
	seen := map[string]http.Header{}
	var url string
	url = rawServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Method+" "+r.URL.EscapedPath()] = r.Header.Clone()
		mu.Unlock()
		switch {
		case r.URL.Path == "/blob":
			w.Header().Set("Content-Range", "bytes 0-9/2000000")
			w.WriteHeader(http.StatusPartialContent)
			_, _ = w.Write(make([]byte, 10))
		case strings.HasSuffix(r.URL.Path, "/run"):
			fmt.Fprint(w, `{"run_id":"r1","state":"completed","stdout":"","stdout_encoding":"utf-8","stderr":"","stderr_encoding":"utf-8","exit_code":0}`)
		default:
			fmt.Fprintf(w, `{"path":"/home/user/f","size":2000000,"presigned_url":"%s/blob","method":"GET","version":"v"}`, url)
		}
	})
	c := rawClient(t, url+"/pre", func(c *transport.Config) { c.VMID = "a b/c" })
	o, err := c.Open(ctxT(t), "/home/user/f")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadAt(ctxT(t), o, make([]byte, 10), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run(ctxT(t), "true", transport.RunOptions{IdempotencyKey: "key-1"}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	sync, run, blob := seen["POST /pre/v1/vms/a%20b%2Fc/sync"], seen["POST /pre/v1/vms/a%20b%2Fc/run"], seen["GET /blob"]
	if sync == nil || run == nil || blob == nil {
		t.Fatalf("requests seen: %v", keys(seen))
	}
	for name, h := range map[string]http.Header{"sync": sync, "run": run} {
		if h.Get(wire.HeaderAuthorization) != "Bearer "+testKey || h.Get("Content-Type") != "application/json" {
			t.Errorf("%s headers %v", name, h)
		}
	}
	if run.Get(wire.HeaderIdempotencyKey) != "key-1" || sync.Get(wire.HeaderIdempotencyKey) != "" {
		t.Errorf("idempotency keys: run %q sync %q", run.Get(wire.HeaderIdempotencyKey), sync.Get(wire.HeaderIdempotencyKey))
	}
	if blob.Get(wire.HeaderAuthorization) != "" || blob.Get("Range") != "bytes=0-9" || blob.Get("Accept-Encoding") != "" {
		t.Errorf("presigned GET headers %v", blob)
	}
}

func keys(m map[string]http.Header) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
