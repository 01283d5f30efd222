package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/apispec"
	"github.com/arker-ai/arkerfs/wire"
)

func TestClassifyHost(t *testing.T) {
	names := []string{DefaultVMID, DefaultVMName} // "local", "emulator"
	cases := []struct {
		host string
		port int
		kind hostKind
	}{
		{"emulator.local-emu.arker.app", IngressDefaultPort, hostIngress},
		{"emulator.local-emu.arker.app:7070", IngressDefaultPort, hostIngress},
		{"EMULATOR.Local-Emu.Arker.App", IngressDefaultPort, hostIngress},
		{"emulator.local-emu.arker.app.", IngressDefaultPort, hostIngress},
		{"local.local-emu.arker.app", IngressDefaultPort, hostIngress},
		{"emulator-8080.local-emu.arker.app", 8080, hostIngress},
		{"emulator-3000.local-emu.arker.app:1234", 3000, hostIngress},
		{"local-1.local-emu.arker.app", 1, hostIngress},
		{"emulator-65535.local-emu.arker.app", 65535, hostIngress},
		{"emulator-0.local-emu.arker.app", 0, hostUnknown},
		{"emulator-65536.local-emu.arker.app", 0, hostUnknown},
		{"emulator-080.local-emu.arker.app", 0, hostUnknown},
		{"emulator-+80.local-emu.arker.app", 0, hostUnknown},
		{"emulator--80.local-emu.arker.app", 0, hostUnknown},
		{"emulator-8o.local-emu.arker.app", 0, hostUnknown},
		{"emulator-.local-emu.arker.app", 0, hostUnknown},
		{"emulator-1000000.local-emu.arker.app", 0, hostUnknown},
		{"emulator-0x50.local-emu.arker.app", 0, hostUnknown},
		{"other.local-emu.arker.app", 0, hostUnknown},
		{"other-3000.local-emu.arker.app", 0, hostUnknown},
		{"a.emulator.local-emu.arker.app", 0, hostUnknown},
		{".local-emu.arker.app", 0, hostUnknown},
		{"127.0.0.1:7070", 0, hostAPI},
		{"[::1]:7070", 0, hostAPI},
		{"localhost", 0, hostAPI},
		{"", 0, hostAPI},
		{"emulator.aws-us-west-2.arker.app", 0, hostAPI},
		{"local-emu.arker.app", 0, hostAPI},
		{"aws-us-west-2.arker.ai", 0, hostAPI},
	}
	for _, c := range cases {
		port, kind := classifyHost(c.host, names...)
		if port != c.port || kind != c.kind {
			t.Errorf("classifyHost(%q) = %d, %d; want %d, %d", c.host, port, kind, c.port, c.kind)
		}
	}
	// A name that extends the other's: the port form of the longer one.
	if port, kind := classifyHost("box-dev-3000"+HostnameSuffix, "box", "box-dev"); port != 3000 || kind != hostIngress {
		t.Errorf("box-dev-3000: %d, %d", port, kind)
	}
	if port, kind := classifyHost("box-dev"+HostnameSuffix, "box", "box-dev"); port != IngressDefaultPort || kind != hostIngress {
		t.Errorf("box-dev: %d, %d", port, kind)
	}
	// The bare hostname goes to 127.0.0.1:8080.
	if got := ingressTarget(IngressDefaultPort).String(); got != "http://127.0.0.1:8080" {
		t.Errorf("target of the bare hostname: %s", got)
	}
}

func TestIngressHostNames(t *testing.T) {
	e := newEnv(t, wire.LineageA)
	if got := e.s.IngressHost(0); got != "emulator.local-emu.arker.app" {
		t.Errorf("IngressHost(0) = %q", got)
	}
	if got := e.s.IngressHost(IngressDefaultPort); got != "emulator.local-emu.arker.app" {
		t.Errorf("IngressHost(8080) = %q", got)
	}
	if got := e.s.IngressHost(3000); got != "emulator-3000.local-emu.arker.app" {
		t.Errorf("IngressHost(3000) = %q", got)
	}
	// A name that is no DNS label: the id names the host; neither: none.
	e2 := newEnv(t, wire.LineageA, func(o *Options) { o.VMName = "My_Box" })
	if got := e2.s.IngressHost(0); got != DefaultVMID+HostnameSuffix {
		t.Errorf("with name My_Box: %q", got)
	}
	e3 := newEnv(t, wire.LineageA, func(o *Options) { o.VMName, o.VMID = "a.b", "c_d" })
	if got, h := e3.s.IngressHost(0), e3.s.hostname(); got != "" || h != nil {
		t.Errorf("with no label: %q, %v", got, h)
	}
}

func TestGetVMReportsHostname(t *testing.T) {
	forEach(t, func(t *testing.T, l wire.Lineage) {
		spec, err := apispec.Load(l)
		if err != nil {
			t.Fatalf("loading the contract: %v", err)
		}
		e := newEnv(t, l, func(o *Options) { o.Wrap = spec.Middleware })
		status, b := e.call(http.MethodGet, vm(""), nil, nil)
		var v wire.VM
		mustJSON(t, b, &v)
		if status != http.StatusOK || v.Hostname == nil || *v.Hostname != "emulator.local-emu.arker.app" ||
			v.Region != VMRegion || v.Provider != VMProvider {
			t.Errorf("GET vm: %d %s", status, b)
		}
		if vs := spec.Violations(); len(vs) > 0 {
			t.Errorf("contract violations:\n%s", strings.Join(vs, "\n"))
		}
	})
}

// seen is what the VM's server got.
type seen struct {
	method, uri, host, auth, custom, fwdHost string
	body                                     []byte
}

// guestServer starts a plain HTTP server on 127.0.0.1:0, the VM's port,
// that answers the body it got with a header, and records each request.
func guestServer(t *testing.T) (int, func() []seen) {
	t.Helper()
	var mu sync.Mutex
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, seen{method: r.Method, uri: r.RequestURI, host: r.Host, auth: r.Header.Get("Authorization"),
			custom: r.Header.Get("X-Custom"), fwdHost: r.Header.Get("X-Forwarded-Host"), body: body})
		mu.Unlock()
		w.Header().Set("X-Guest", "yes")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	return port, func() []seen {
		mu.Lock()
		defer mu.Unlock()
		return append([]seen(nil), got...)
	}
}

// closedPort returns a loopback port nothing listens on (just closed).
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// ingress sends a request to the emulator's address with Host host and
// the bearer token (unless hdr sets Authorization; "" deletes a header).
func (e *env) ingress(host, method, uri string, body []byte, hdr map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, e.url+uri, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Host = host
	req.Header.Set(wire.HeaderAuthorization, "Bearer "+testToken)
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s%s: %v", method, host, uri, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s%s: reading: %v", method, host, uri, err)
	}
	return resp, b
}

func TestIngressProxies(t *testing.T) {
	forEach(t, func(t *testing.T, l wire.Lineage) {
		wrapped := 0
		var mu sync.Mutex
		e := newEnv(t, l, func(o *Options) {
			o.Wrap = func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					wrapped++
					mu.Unlock()
					h.ServeHTTP(w, r)
				})
			}
		})
		port, got := guestServer(t)
		host := "emulator-" + strconv.Itoa(port) + ".local-emu.arker.app"
		body := []byte(`{"hello":"vm"}`)
		resp, b := e.ingress(host, http.MethodPut, "/v1/whoami/x?q=1&r=%2F", body, map[string]string{"X-Custom": "kept"})
		if resp.StatusCode != http.StatusCreated || !bytes.Equal(b, body) || resp.Header.Get("X-Guest") != "yes" {
			t.Fatalf("through ingress: %d %q %v", resp.StatusCode, b, resp.Header)
		}
		// By id, upper case, with a large body.
		big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
		resp, b = e.ingress(strings.ToUpper("local-"+strconv.Itoa(port)+HostnameSuffix), http.MethodPost, "/", big, nil)
		if resp.StatusCode != http.StatusCreated || !bytes.Equal(b, big) {
			t.Fatalf("large body by id: %d, %d bytes", resp.StatusCode, len(b))
		}
		reqs := got()
		if len(reqs) != 2 {
			t.Fatalf("guest saw %d requests", len(reqs))
		}
		r := reqs[0]
		if r.method != http.MethodPut || r.uri != "/v1/whoami/x?q=1&r=%2F" || r.auth != "" || r.custom != "kept" ||
			r.host != host || r.fwdHost != host || !bytes.Equal(r.body, body) {
			t.Errorf("guest saw %+v", r)
		}
		if reqs[1].auth != "" || len(reqs[1].body) != len(big) {
			t.Errorf("guest saw a large request with auth %q, %d bytes", reqs[1].auth, len(reqs[1].body))
		}
		st := e.s.Stats()
		if st.Requests[EndpointIngress] != 2 || st.Requests[EndpointWhoami] != 0 {
			t.Errorf("stats %v", st.Requests)
		}
		if want := map[string]int64{"/v1/whoami/x": 1, "/": 1}; !reflect.DeepEqual(st.Ingress, want) {
			t.Errorf("ingress by path %v, want %v", st.Ingress, want)
		}
		// An unrelated Host is an API call.
		resp, b = e.ingress("example.com", http.MethodGet, wire.PathWhoami, nil, nil)
		var w wire.WhoamiResponse
		mustJSON(t, b, &w)
		if resp.StatusCode != http.StatusOK || w.OrgID != DefaultOrgID {
			t.Errorf("API call with Host example.com: %d %s", resp.StatusCode, b)
		}
		mu.Lock()
		defer mu.Unlock()
		if wrapped != 1 {
			t.Errorf("Options.Wrap saw %d requests, want the API call only", wrapped)
		}
		if len(got()) != 2 {
			t.Errorf("the API call reached the guest")
		}
	})
}

func TestIngressRefusals(t *testing.T) {
	forEach(t, func(t *testing.T, l wire.Lineage) {
		e := newEnv(t, l)
		port, got := guestServer(t)
		host := e.s.IngressHost(port)

		// A missing or wrong key: 401, as on the API.
		for _, h := range []string{"", "Bearer nope"} {
			resp, b := e.ingress(host, http.MethodGet, "/", nil, map[string]string{"Authorization": h})
			code := wire.CodeUnauthorized
			if l == wire.LineageB {
				code = wire.CodeInvalidAPIKey
				if h == "" {
					code = wire.CodeAPIKeyRequired
				}
			}
			e.wantError(resp.StatusCode, b, http.StatusUnauthorized, code)
			if got := resp.Header.Get("WWW-Authenticate"); l == wire.LineageA && got != `Bearer realm="arker"` {
				t.Errorf("WWW-Authenticate %q", got)
			}
		}

		// Denied: 403, key or not; lifted again at run time.
		e.s.SetDenyIngress(true)
		for _, h := range []string{"Bearer " + testToken, ""} {
			resp, b := e.ingress(host, http.MethodGet, "/", nil, map[string]string{"Authorization": h})
			e.wantError(resp.StatusCode, b, http.StatusForbidden, wire.CodeForbidden)
		}
		e.s.SetDenyIngress(false)
		if resp, b := e.ingress(host, http.MethodGet, "/", nil, nil); resp.StatusCode != http.StatusCreated {
			t.Errorf("after SetDenyIngress(false): %d %s", resp.StatusCode, b)
		}

		// Nothing listening: 502.
		resp, b := e.ingress(e.s.IngressHost(closedPort(t)), http.MethodGet, "/", nil, nil)
		code := wire.CodeBadGateway
		if l == wire.LineageA {
			code = wire.CodeUnavailable
		}
		wantEnvelope(t, resp.StatusCode, b, http.StatusBadGateway, code)

		// A malformed port or another VM: 404 like an unknown route, not
		// counted.
		before := e.s.Stats().Requests[EndpointIngress]
		for _, h := range []string{"emulator-0" + HostnameSuffix, "emulator-08080" + HostnameSuffix,
			"emulator-99999" + HostnameSuffix, "emulator-x" + HostnameSuffix, "other" + HostnameSuffix} {
			resp, b := e.ingress(h, http.MethodGet, "/", nil, nil)
			obj := e.wantError(resp.StatusCode, b, http.StatusNotFound, wire.CodeNotFound)
			if req, _ := obj["request"].(map[string]any); l == wire.LineageA && req["kind"] != wire.RequestUnmatched {
				t.Errorf("%s: %s", h, b)
			}
		}
		if n := e.s.Stats().Requests[EndpointIngress]; n != before {
			t.Errorf("unknown hostnames counted: %d, was %d", n, before)
		}
		if n := len(got()); n != 1 {
			t.Errorf("guest saw %d requests, want 1", n)
		}
	})
}

func TestIngressDenyOption(t *testing.T) {
	e := newEnv(t, wire.LineageA, func(o *Options) { o.DenyIngress = true })
	port, got := guestServer(t)
	resp, b := e.ingress(e.s.IngressHost(port), http.MethodPost, "/", []byte("x"), nil)
	e.wantError(resp.StatusCode, b, http.StatusForbidden, wire.CodeForbidden)
	if len(got()) != 0 || e.s.Stats().Requests[EndpointIngress] != 1 {
		t.Errorf("guest saw %d requests; stats %v", len(got()), e.s.Stats().Requests)
	}
}

func TestIngressLatencyAndFaults(t *testing.T) {
	const latency = 20 * time.Millisecond
	e := newEnv(t, wire.LineageA, func(o *Options) { o.Latency = latency })
	port, _ := guestServer(t)
	start := time.Now()
	if resp, b := e.ingress(e.s.IngressHost(port), http.MethodGet, "/", nil, nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	if d := time.Since(start); d < 2*latency {
		t.Errorf("round trip %v, want at least %v", d, 2*latency)
	}
	e.s.InjectFault(Fault{Endpoint: EndpointIngress, Kind: FaultStatus, Code: wire.CodeRateLimited})
	resp, b := e.ingress(e.s.IngressHost(port), http.MethodGet, "/", nil, nil)
	e.wantError(resp.StatusCode, b, http.StatusTooManyRequests, wire.CodeRateLimited)
}

// wantEnvelope checks an error answer's status and code only: a 502 has
// no code of its own in lineage A.
func wantEnvelope(t *testing.T, status int, body []byte, wantStatus int, wantCode string) {
	t.Helper()
	var env struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil || status != wantStatus || env.Error.Code != wantCode || env.Error.Message == "" {
		t.Errorf("got %d %s, want %d %s", status, body, wantStatus, wantCode)
	}
}
