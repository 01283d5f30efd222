package emulator

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// Admin endpoints (emulator only, same bearer token).
const (
	adminPrefix  = "/_emulator/"
	adminStats   = "stats"
	adminReset   = "reset"
	adminFaults  = "faults"
	adminLatency = "latency"
)

// endpointSync is a sync request before its body says read or write.
const endpointSync = "sync"

// route is what a request's method and path ask for.
type route struct {
	endpoint string // Stats name (endpointSync until the body is read); "" for admin
	admin    string // admin action, when endpoint is ""
	vmID     string // VM endpoints
	token    string // blob endpoints
}

// parseRoute maps a request to a route: unknown paths are 404 and known
// paths with another method 405, both with a JSON error body.
func parseRoute(r *http.Request) (route, *apiError) {
	path := r.URL.EscapedPath()
	var rt route
	var allow []string
	switch {
	case strings.HasPrefix(path, wire.PathVM):
		segs := strings.Split(path[len(wire.PathVM):], "/")
		id, err := url.PathUnescape(segs[0])
		if err != nil || id == "" || len(segs) > 2 {
			return rt, notFound(path)
		}
		rt.vmID = id
		switch {
		case len(segs) == 1:
			rt.endpoint, allow = EndpointVM, []string{http.MethodGet, http.MethodHead}
		case "/"+segs[1] == wire.SuffixSync:
			rt.endpoint, allow = endpointSync, []string{http.MethodPost}
		case "/"+segs[1] == wire.SuffixRun:
			rt.endpoint, allow = EndpointRun, []string{http.MethodPost}
		default:
			return rt, notFound(path)
		}
	case strings.HasPrefix(path, wire.PathBlob):
		rt.token = path[len(wire.PathBlob):]
		if rt.token == "" || strings.Contains(rt.token, "/") {
			return rt, notFound(path)
		}
		allow = []string{http.MethodGet, http.MethodHead, http.MethodPut}
		rt.endpoint = EndpointBlobGet
		if r.Method == http.MethodPut {
			rt.endpoint = EndpointBlobPut
		}
	case strings.HasPrefix(path, adminPrefix):
		rt.admin = path[len(adminPrefix):]
		switch rt.admin {
		case adminStats:
			allow = []string{http.MethodGet}
		case adminReset, adminLatency:
			allow = []string{http.MethodPost}
		case adminFaults:
			allow = []string{http.MethodPost, http.MethodDelete}
		default:
			return rt, notFound(path)
		}
	default:
		return rt, notFound(path)
	}
	for _, m := range allow {
		if r.Method == m {
			return rt, nil
		}
	}
	e := errorf(http.StatusMethodNotAllowed, wire.CodeBadRequest, "", "%s is not allowed on %s", r.Method, path)
	e.allow = strings.Join(allow, ", ")
	return rt, e
}

func notFound(path string) *apiError {
	return errorf(http.StatusNotFound, wire.CodeNotFound, "", "no such endpoint: %s", path)
}

// authorized checks the bearer token in constant time.
func (s *Server) authorized(r *http.Request) bool {
	key, ok := strings.CutPrefix(r.Header.Get(wire.HeaderAuthorization), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(key), []byte(s.opts.Token)) == 1
}

// serveHTTP is the whole server: routing, counting, latency, faults, auth,
// then the endpoint.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rt, aerr := parseRoute(r)
	if aerr != nil {
		writeError(w, aerr)
		s.logf("emulator: %s %s: %d", r.Method, r.URL.EscapedPath(), aerr.status)
		return
	}
	if rt.admin != "" {
		if !s.authorized(r) {
			writeError(w, errorf(http.StatusUnauthorized, wire.CodeUnauthorized, "", "missing or wrong API key"))
			return
		}
		s.serveAdmin(w, r, rt.admin)
		return
	}
	r.Body = countingReader{r.Body, &s.stats.bytesIn}
	rw := &respWriter{ResponseWriter: w, s: s, ctx: r.Context()}
	defer func() {
		s.logf("emulator: %s %s: %d, %d bytes out, %s", r.Method, rt.endpoint, rw.status, rw.written, time.Since(start).Round(time.Microsecond))
	}()
	if !sleepCtx(r.Context(), time.Duration(s.latency.Load())) {
		return
	}
	var sreq *syncRequest
	if rt.endpoint == endpointSync {
		sreq, rt.endpoint, aerr = readSync(r)
	}
	s.stats.count(rt.endpoint)
	f, hit := s.faults.take(rt.endpoint)
	forceExpired := false
	if hit {
		s.logf("emulator: fault %s hits %s", f.Kind, rt.endpoint)
		switch f.Kind {
		case FaultStatus:
			writeError(rw, errorf(f.Status, f.Code, "", "injected fault"))
			return
		case FaultDrop:
			panic(http.ErrAbortHandler)
		case FaultDelay:
			if !sleepCtx(r.Context(), f.Delay) {
				return
			}
		case FaultExpire:
			forceExpired = true
		case FaultDropAfter:
			rw.discard = true
		case FaultTruncate:
			rw.truncate = true
		}
	}
	if rt.token == "" {
		if vmErr := s.checkVM(r, rt.vmID); vmErr != nil {
			aerr = vmErr // a bad key or VM outranks a bad body
		}
	}
	if aerr != nil {
		writeError(rw, aerr)
	} else {
		s.dispatch(rw, r, rt, sreq, forceExpired)
	}
	if rw.discard || rw.truncate {
		rw.cut()
	}
}

// checkVM authenticates an API request and checks its VM id.
func (s *Server) checkVM(r *http.Request, id string) *apiError {
	if !s.authorized(r) {
		return errorf(http.StatusUnauthorized, wire.CodeUnauthorized, "", "missing or wrong API key")
	}
	if id != s.opts.VMID {
		return errorf(http.StatusNotFound, wire.CodeNotFound, "", "no such VM: %q", id)
	}
	return nil
}

func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, rt route, sreq *syncRequest, forceExpired bool) {
	switch rt.endpoint {
	case EndpointVM:
		writeJSON(w, http.StatusOK, wire.VM{
			VMID: s.opts.VMID, OwnerOrgID: "org_local", CreatedAt: "2026-01-01T00:00:00Z",
			Name: "arkerfs emulator", State: "idle", Sessions: []any{},
		})
	case EndpointSyncRead:
		s.syncRead(w, r, sreq.SyncReadRequest)
	case EndpointSyncWrite:
		s.syncWrite(w, r, sreq.SyncWriteRequest)
	case EndpointRun:
		s.handleRun(w, r)
	case EndpointBlobGet:
		s.blobGet(w, r, rt.token, forceExpired)
	case EndpointBlobPut:
		s.blobPut(w, r, rt.token, forceExpired)
	}
}
