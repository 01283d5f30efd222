package emulator

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/arker-ai/arkerfs/wire"
)

// FaultKind names what an injected fault does to a request.
type FaultKind string

// Fault kinds.
const (
	// FaultStatus answers an error envelope of the lineage with Code
	// (default "unavailable") and Status (default: the code's status),
	// without processing the request.
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
	// FaultExpire makes a presigned GET treat its URL as expired (403).
	// It matches presigned.get only.
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
	Status   int           // FaultStatus: HTTP status (default: the code's)
	Code     string        // FaultStatus: error code (default "unavailable")
	Times    int           // matching requests it hits; 0 means 1; -1 = until ClearFaults
	After    int           // matching requests let through before it starts hitting
	Delay    time.Duration // FaultDelay: how long
	// FaultStatus: a retry hint in seconds (retry_after_seconds in
	// lineage A, retry_after in B, and the Retry-After header).
	RetryAfter *int64
	// FaultStatus, lineage B: the body's retryable flag.
	Retryable *bool
	// FaultStatus, lineage A: recovery.work (not_started, stopped,
	// continuing, unknown); "" = no recovery object.
	Work string
}

func (f Fault) validate() error {
	switch f.Kind {
	case FaultStatus, FaultDrop, FaultDropAfter, FaultTruncate, FaultExpire, FaultDelay:
	default:
		return fmt.Errorf("unknown fault kind %q", f.Kind)
	}
	if f.Endpoint != "" && !slices.Contains(endpoints, f.Endpoint) {
		return fmt.Errorf("unknown endpoint %q", f.Endpoint)
	}
	if f.Times < -1 || f.After < 0 || f.Delay < 0 || (f.RetryAfter != nil && *f.RetryAfter < 0) {
		return fmt.Errorf("fault has a negative count, delay or retry hint")
	}
	if f.Kind == FaultStatus && f.Status != 0 && (f.Status < 100 || f.Status > 599) {
		return fmt.Errorf("fault status %d is not an HTTP status", f.Status)
	}
	switch f.Work {
	case "", wire.WorkNotStarted, wire.WorkStopped, wire.WorkContinuing, wire.WorkUnknown:
	default:
		return fmt.Errorf("unknown recovery work %q", f.Work)
	}
	return nil
}

// apiError is the refusal a FaultStatus answers.
func (f Fault) apiError() *apiError {
	e := newError(f.Code, "injected fault")
	e.status, e.retryAfter, e.retryable, e.work = f.Status, f.RetryAfter, f.Retryable, f.Work
	return e
}

// matches reports whether the fault concerns endpoint at all.
func (f Fault) matches(endpoint string) bool {
	if f.Kind == FaultExpire && endpoint != EndpointPresignedGet {
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
	if f.Kind == FaultStatus && f.Code == "" {
		f.Code = wire.CodeUnavailable
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
