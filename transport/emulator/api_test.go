package emulator

import (
	"net/http"
	"strings"
	"testing"

	"github.com/arker-ai/arkerfs/transport/wire"
)

func TestNewChecksOptions(t *testing.T) {
	home := t.TempDir()
	for name, o := range map[string]Options{
		"no home":      {Token: "k"},
		"no token":     {Home: home},
		"missing home": {Home: home + "/nope", Token: "k"},
		"home not dir": {Home: "/dev/null", Token: "k"},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func TestDescribeVM(t *testing.T) {
	e := newEnv(t)
	status, b := e.call(http.MethodGet, wire.PathVM+"local", nil, nil)
	if status != http.StatusOK {
		t.Fatalf("GET vm: %d %s", status, b)
	}
	var vm wire.VM
	mustUnmarshal(t, b, &vm)
	if vm.VMID != "local" || vm.State != "idle" || vm.Sessions == nil {
		t.Errorf("vm = %+v", vm)
	}
}

func TestAuthAndRouting(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.VMID = "vm_1" })
	for _, tc := range []struct {
		name, method, path string
		hdr                map[string]string
		status             int
		code               string
	}{
		{"no key", "GET", "/v1/vms/vm_1", map[string]string{"Authorization": ""}, 401, wire.CodeUnauthorized},
		{"wrong key", "GET", "/v1/vms/vm_1", map[string]string{"Authorization": "Bearer nope"}, 401, wire.CodeUnauthorized},
		{"not bearer", "GET", "/v1/vms/vm_1", map[string]string{"Authorization": "Basic " + testToken}, 401, wire.CodeUnauthorized},
		{"key prefix", "GET", "/v1/vms/vm_1", map[string]string{"Authorization": "Bearer " + testToken[:5]}, 401, wire.CodeUnauthorized},
		{"unknown vm", "GET", "/v1/vms/other", nil, 404, wire.CodeNotFound},
		{"unknown vm sync", "POST", "/v1/vms/other/sync", nil, 404, wire.CodeNotFound},
		{"unknown route", "GET", "/v2/nothing", nil, 404, wire.CodeNotFound},
		{"unknown vm suffix", "POST", "/v1/vms/vm_1/exec", nil, 404, wire.CodeNotFound},
		{"wrong method vm", "DELETE", "/v1/vms/vm_1", nil, 405, wire.CodeBadRequest},
		{"wrong method sync", "GET", "/v1/vms/vm_1/sync", nil, 405, wire.CodeBadRequest},
		{"wrong method run", "PUT", "/v1/vms/vm_1/run", nil, 405, wire.CodeBadRequest},
		{"wrong method blob", "POST", "/v1/blobs/abc.def", nil, 405, wire.CodeBadRequest},
		{"admin no key", "GET", "/_emulator/stats", map[string]string{"Authorization": ""}, 401, wire.CodeUnauthorized},
		{"escaped vm id", "GET", "/v1/vms/vm%5F1", nil, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(`{"path":"/home/user/x"}`)
			resp, b, err := e.request(tc.method, tc.path, body, tc.hdr)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if tc.code != "" {
				if eb := errorOf(t, b); eb.Code != tc.code || eb.Message == "" {
					t.Errorf("error %+v, want code %s", eb, tc.code)
				}
			}
			if tc.status == 405 && resp.Header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}
