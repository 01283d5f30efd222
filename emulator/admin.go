package emulator

import (
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/arker-ai/arkerfs/wire"
)

// The emulator's own endpoints, outside the Arker API. Presigned URLs live
// here too: clients treat them as opaque.
const (
	emulatorPrefix = "/_emulator/"
	presignedDir   = "presigned/"
	adminStats     = "stats"
	adminReset     = "reset"
	adminFaults    = "faults"
	adminLatency   = "latency"
)

// top sends a request to one of the VM's inbound hostnames to the VM
// (whatever its path), /_emulator/… to the emulator's own endpoints and
// everything else to the API handler.
func (s *Server) top(api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if port, kind := classifyHost(r.Host, s.opts.VMID, s.opts.VMName); kind != hostAPI {
			s.serveIngress(w, r, port, kind)
			return
		}
		rest, ok := strings.CutPrefix(r.URL.EscapedPath(), emulatorPrefix)
		switch {
		case !ok:
			api.ServeHTTP(w, r)
		case strings.HasPrefix(rest, presignedDir):
			s.servePresigned(w, r, rest[len(presignedDir):])
		default:
			s.serveAdmin(w, r, rest)
		}
	})
}

// faultJSON is a Fault as the admin endpoint takes it.
type faultJSON struct {
	Endpoint   string    `json:"endpoint"`
	Kind       FaultKind `json:"kind"`
	Status     int       `json:"status"`
	Code       string    `json:"code"`
	Times      int       `json:"times"`
	After      int       `json:"after"`
	DelayMs    float64   `json:"delay_ms"`
	RetryAfter *int64    `json:"retry_after"`
	Retryable  *bool     `json:"retryable"`
	Work       string    `json:"work"`
}

// latencyJSON is the body of POST /_emulator/latency.
type latencyJSON struct {
	LatencyMs float64 `json:"latency_ms"`
}

// maxAdminBody bounds admin request bodies.
const maxAdminBody = 64 << 10

// serveAdmin answers the emulator's admin endpoints (not on the live
// service), under the same bearer token: stats, reset, faults and latency.
// They are neither counted, nor delayed, nor hit by faults.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request, action string) {
	l := s.opts.Lineage
	var allow []string
	switch action {
	case adminStats:
		allow = []string{http.MethodGet}
	case adminReset, adminLatency:
		allow = []string{http.MethodPost}
	case adminFaults:
		allow = []string{http.MethodPost, http.MethodDelete}
	default:
		writeError(w, r, l, "", notFound(wire.ResourceRoute, "no such emulator endpoint: %s", action), nil)
		return
	}
	if !slices.Contains(allow, r.Method) {
		e := newError(wire.CodeMethodNotAllowed, "%s is not allowed on %s", r.Method, r.URL.Path)
		writeError(w, r, l, "", e, allow)
		return
	}
	if aerr := s.authorize(r); aerr != nil {
		writeError(w, r, l, "", aerr, nil)
		return
	}
	switch {
	case action == adminStats:
		writeJSON(w, http.StatusOK, s.Stats())
		return
	case action == adminReset:
		s.ResetStats()
	case action == adminFaults && r.Method == http.MethodDelete:
		s.ClearFaults()
	case action == adminFaults:
		var fj faultJSON
		if aerr := decodeAdmin(r, &fj); aerr != nil {
			writeError(w, r, l, "", aerr, nil)
			return
		}
		f := Fault{Endpoint: fj.Endpoint, Kind: fj.Kind, Status: fj.Status, Code: fj.Code,
			Times: fj.Times, After: fj.After, Delay: msDuration(fj.DelayMs),
			RetryAfter: fj.RetryAfter, Retryable: fj.Retryable, Work: fj.Work}
		if err := f.validate(); err != nil {
			writeError(w, r, l, "", badRequest("%v", err), nil)
			return
		}
		s.faults.add(f)
	case action == adminLatency:
		var lj latencyJSON
		if aerr := decodeAdmin(r, &lj); aerr != nil {
			writeError(w, r, l, "", aerr, nil)
			return
		}
		if lj.LatencyMs < 0 || math.IsNaN(lj.LatencyMs) {
			writeError(w, r, l, "", badRequest("latency_ms must be a number ≥ 0"), nil)
			return
		}
		s.SetLatency(msDuration(lj.LatencyMs))
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func decodeAdmin(r *http.Request, v any) *apiError {
	body, err := readBody(r, maxAdminBody)
	if err != nil {
		return bodyError(err, maxAdminBody)
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("admin body: %v", err)
	}
	return nil
}

func msDuration(ms float64) time.Duration {
	if ms <= 0 || math.IsNaN(ms) {
		return 0
	}
	return time.Duration(ms * float64(time.Millisecond))
}
