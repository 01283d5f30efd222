package emulator

import (
	"encoding/json"
	"math"
	"net/http"
	"time"
)

// faultJSON is a Fault as the admin endpoint takes it.
type faultJSON struct {
	Endpoint string    `json:"endpoint"`
	Kind     FaultKind `json:"kind"`
	Status   int       `json:"status"`
	Code     string    `json:"code"`
	Times    int       `json:"times"`
	After    int       `json:"after"`
	DelayMs  float64   `json:"delay_ms"`
}

// latencyJSON is the body of POST /_emulator/latency.
type latencyJSON struct {
	LatencyMs float64 `json:"latency_ms"`
}

// maxAdminBody bounds admin request bodies.
const maxAdminBody = 64 << 10

// serveAdmin answers the emulator's own endpoints (not on the live
// service): stats, reset, faults and latency.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request, action string) {
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
			writeError(w, aerr)
			return
		}
		f := Fault{Endpoint: fj.Endpoint, Kind: fj.Kind, Status: fj.Status, Code: fj.Code,
			Times: fj.Times, After: fj.After, Delay: msDuration(fj.DelayMs)}
		if err := f.validate(); err != nil {
			writeError(w, badRequest("%v", err))
			return
		}
		s.faults.add(f)
	case action == adminLatency:
		var lj latencyJSON
		if aerr := decodeAdmin(r, &lj); aerr != nil {
			writeError(w, aerr)
			return
		}
		if lj.LatencyMs < 0 {
			writeError(w, badRequest("negative latency"))
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
	if err := json.Unmarshal(body, v); err != nil {
		return badRequest("admin body is not valid JSON: %v", err)
	}
	return nil
}

func msDuration(ms float64) time.Duration {
	if ms <= 0 || math.IsNaN(ms) {
		return 0
	}
	return time.Duration(ms * float64(time.Millisecond))
}
