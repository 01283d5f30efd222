package emulator

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// FaultKind names what an injected fault does to a request.
type FaultKind string

// Fault kinds.
const (
	// FaultStatus answers Status with the error body {code: Code}.
	FaultStatus FaultKind = "status"
	// FaultDrop closes the connection without answering, before the
	// request is processed.
	FaultDrop FaultKind = "drop"
	// FaultDropAfter processes the request fully (a write lands, a run
	// runs), then closes the connection without answering.
	FaultDropAfter FaultKind = "drop_after"
	// FaultTruncate sends the headers (with the full Content-Length) and
	// about half the body, then closes the connection.
	FaultTruncate FaultKind = "truncate"
	// FaultExpire makes a blob endpoint treat its presigned token as
	// expired (403 forbidden). It matches blob requests only.
	FaultExpire FaultKind = "expire"
	// FaultDelay sleeps Delay before handling the request; a client that
	// gives up meanwhile cancels it.
	FaultDelay FaultKind = "delay"
)

// Fault is one injected failure. Faults are tried in the order they were
// injected; the first one that applies to a request hits it and the
// others do not see that request.
type Fault struct {
	Endpoint string        // endpoint name as in Stats; "" = any
	Kind     FaultKind     // what happens
	Status   int           // FaultStatus: HTTP status (default 503)
	Code     string        // FaultStatus: wire code (default "unavailable")
	Times    int           // matching requests it hits; 0 means 1; -1 = until ClearFaults
	After    int           // matching requests let through before it starts hitting
	Delay    time.Duration // FaultDelay: how long
}

func (f Fault) validate() error {
	switch f.Kind {
	case FaultStatus, FaultDrop, FaultDropAfter, FaultTruncate, FaultExpire, FaultDelay:
	default:
		return fmt.Errorf("unknown fault kind %q", f.Kind)
	}
	switch f.Endpoint {
	case "", EndpointVM, EndpointSyncRead, EndpointSyncWrite, EndpointRun, EndpointBlobGet, EndpointBlobPut:
	default:
		return fmt.Errorf("unknown endpoint %q", f.Endpoint)
	}
	if f.Times < -1 || f.After < 0 || f.Delay < 0 {
		return fmt.Errorf("fault has a negative count or delay")
	}
	if f.Kind == FaultStatus && f.Status != 0 && (f.Status < 100 || f.Status > 599) {
		return fmt.Errorf("fault status %d is not an HTTP status", f.Status)
	}
	return nil
}

// matches reports whether the fault concerns endpoint at all.
func (f Fault) matches(endpoint string) bool {
	if f.Kind == FaultExpire && !strings.HasPrefix(endpoint, "blob.") {
		return false
	}
	return f.Endpoint == "" || f.Endpoint == endpoint
}

// activeFault is an injected fault with its counters.
type activeFault struct {
	Fault
	seen int // matching requests so far
	hits int // requests it hit
}

// faultSet holds the injected faults.
type faultSet struct {
	mu     sync.Mutex // protects faults
	faults []*activeFault
}

func (fs *faultSet) add(f Fault) {
	if f.Times == 0 {
		f.Times = 1
	}
	if f.Kind == FaultStatus {
		if f.Status == 0 {
			f.Status = http.StatusServiceUnavailable
		}
		if f.Code == "" {
			f.Code = wire.CodeUnavailable
		}
	}
	fs.mu.Lock()
	fs.faults = append(fs.faults, &activeFault{Fault: f})
	fs.mu.Unlock()
}

func (fs *faultSet) clear() {
	fs.mu.Lock()
	fs.faults = nil
	fs.mu.Unlock()
}

// take returns the fault that hits a request to endpoint, if any, and
// forgets faults that are used up.
func (fs *faultSet) take(endpoint string) (Fault, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for i, f := range fs.faults {
		if !f.matches(endpoint) {
			continue
		}
		f.seen++
		if f.seen <= f.After {
			continue
		}
		f.hits++
		if f.Times != -1 && f.hits >= f.Times {
			fs.faults = append(fs.faults[:i:i], fs.faults[i+1:]...)
		}
		return f.Fault, true
	}
	return Fault{}, false
}
