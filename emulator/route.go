package emulator

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/arker-ai/arkerfs/wire"
)

// Operation ids of the published API, as typed errors name them.
const (
	opHealth        = "health"
	opWhoami        = "whoami"
	opGetVM         = "getVm"
	opSync          = "sync"
	opSyncStream    = "syncStream"
	opCreateRun     = "createRun"
	opListRuns      = "listRuns"
	opGetRun        = "getRun"
	opCancelRun     = "cancelRun"
	opListSessions  = "listSessions"
	opCreateSession = "createSession"
	opGetSession    = "getSession"
	opPatchSession  = "patchSession"
	opDeleteSession = "deleteSession"
)

// route is what a request's method and path ask for.
type route struct {
	op       string // operation id
	endpoint string // Stats name; for sync, set once the body named its op
	vm       string // VM id or name (VM routes)
	sub      string // run or session id
}

// routeSpec is one path of the API: its operation per method.
type routeSpec struct {
	methods map[string]string // method → operation id
	lineage wire.Lineage      // "" = both
}

var (
	specHealth   = routeSpec{methods: map[string]string{http.MethodGet: opHealth}}
	specWhoami   = routeSpec{methods: map[string]string{http.MethodGet: opWhoami}}
	specVM       = routeSpec{methods: map[string]string{http.MethodGet: opGetVM}}
	specSync     = routeSpec{methods: map[string]string{http.MethodPost: opSync}}
	specStream   = routeSpec{methods: map[string]string{http.MethodPost: opSyncStream}, lineage: wire.LineageB}
	specRuns     = routeSpec{methods: map[string]string{http.MethodGet: opListRuns, http.MethodPost: opCreateRun}}
	specRun      = routeSpec{methods: map[string]string{http.MethodGet: opGetRun, http.MethodDelete: opCancelRun}}
	specSessions = routeSpec{methods: map[string]string{http.MethodGet: opListSessions, http.MethodPost: opCreateSession}}
	specSession  = routeSpec{methods: map[string]string{http.MethodGet: opGetSession, http.MethodPatch: opPatchSession, http.MethodDelete: opDeleteSession}}
)

// allowOrder is the order methods are listed in Allow.
var allowOrder = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPatch, http.MethodDelete}

// endpointOf is the Stats name of each operation (sync: decided by op).
var endpointOf = map[string]string{
	opHealth: EndpointHealth, opWhoami: EndpointWhoami, opGetVM: EndpointVM,
	opSyncStream: EndpointSyncStream, opCreateRun: EndpointRunsCreate,
	opListRuns: EndpointRunsGet, opGetRun: EndpointRunsGet, opCancelRun: EndpointRunsCancel,
	opListSessions: EndpointSessions, opCreateSession: EndpointSessions, opGetSession: EndpointSessions,
	opPatchSession: EndpointSessions, opDeleteSession: EndpointSessions,
}

// routeError is a request that matched no operation: 404, or 405 with the
// methods the path allows.
type routeError struct {
	err   *apiError
	allow []string
}

// parseRoute maps a request to an operation of lineage l.
func parseRoute(r *http.Request, l wire.Lineage) (route, *routeError) {
	p := r.URL.EscapedPath()
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	var rt route
	var spec routeSpec
	switch {
	case p == wire.PathHealth:
		spec = specHealth
	case p == wire.PathWhoami:
		spec = specWhoami
	case len(segs) >= 3 && segs[0] == "v1" && segs[1] == "vms" && len(segs) <= 5:
		vm, ok := unescapeSeg(segs[2])
		if !ok {
			return rt, unknownRoute(p)
		}
		rt.vm = vm
		switch {
		case len(segs) == 3:
			spec = specVM
		case len(segs) == 4 && "/"+segs[3] == wire.SuffixSync:
			spec = specSync
		case len(segs) == 4 && "/"+segs[3] == wire.SuffixSyncStream:
			spec = specStream
		case "/"+segs[3] == wire.SuffixRuns:
			spec = specRuns
			if len(segs) == 5 {
				spec = specRun
			}
		case "/"+segs[3] == wire.SuffixSessions:
			spec = specSessions
			if len(segs) == 5 {
				spec = specSession
			}
		default:
			return rt, unknownRoute(p)
		}
		if len(segs) == 5 {
			sub, ok := unescapeSeg(segs[4])
			if !ok {
				return rt, unknownRoute(p)
			}
			rt.sub = sub
		}
	default:
		return rt, unknownRoute(p)
	}
	if spec.lineage != "" && spec.lineage != l {
		return rt, unknownRoute(p)
	}
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	op, ok := spec.methods[method]
	if !ok {
		var allow []string
		for _, m := range allowOrder {
			if _, ok := spec.methods[m]; ok || (m == http.MethodHead && spec.methods[http.MethodGet] != "") {
				allow = append(allow, m)
			}
		}
		e := newError(wire.CodeMethodNotAllowed, "%s is not allowed on %s", r.Method, p)
		e.details = &wire.ErrorDetails{AllowedMethods: allow}
		return rt, &routeError{err: e, allow: allow}
	}
	rt.op, rt.endpoint = op, endpointOf[op]
	return rt, nil
}

func unescapeSeg(seg string) (string, bool) {
	s, err := url.PathUnescape(seg)
	return s, err == nil && s != ""
}

func unknownRoute(p string) *routeError {
	return &routeError{err: notFound(wire.ResourceRoute, "no such route: %s", p)}
}

// call is one API request being answered.
type call struct {
	s  *Server
	w  http.ResponseWriter
	r  *http.Request
	rt route
}

// fail answers e.
func (c *call) fail(e *apiError) { writeError(c.w, c.r, c.s.opts.Lineage, c.rt.op, e, nil) }

// reply answers v with status.
func (c *call) reply(status int, v any) { writeJSON(c.w, status, v) }

// authorized checks the bearer token in constant time; it returns the
// refusal, or nil.
func (s *Server) authorize(r *http.Request) *apiError {
	h := r.Header.Get(wire.HeaderAuthorization)
	key, ok := strings.CutPrefix(h, "Bearer ")
	if ok && subtle.ConstantTimeCompare([]byte(key), []byte(s.opts.Token)) == 1 {
		return nil
	}
	code := wire.CodeUnauthorized
	if s.opts.Lineage == wire.LineageB {
		code = wire.CodeInvalidAPIKey
		if h == "" {
			code = wire.CodeAPIKeyRequired
		}
	}
	return newError(code, "missing or wrong API key")
}

// serveAPI answers the Arker API: routing, latency, counting, faults,
// auth, then the operation.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	l := s.opts.Lineage
	rt, rerr := parseRoute(r, l)
	if rerr != nil {
		if sleepCtx(r.Context(), time.Duration(s.latency.Load())) {
			writeError(w, r, l, "", rerr.err, rerr.allow)
		}
		s.logf("emulator: %s %s: unmatched", r.Method, r.URL.EscapedPath())
		return
	}
	r.Body = countingReader{r.Body, &s.stats.bytesIn}
	rw := &respWriter{ResponseWriter: w, s: s, ctx: r.Context()}
	c := &call{s: s, w: rw, r: r, rt: rt}
	defer func() {
		s.logf("emulator: %s %s (%s): %d, %d bytes out, %s", r.Method, r.URL.EscapedPath(), c.rt.endpoint,
			rw.status, rw.written, time.Since(start).Round(time.Microsecond))
	}()
	if !sleepCtx(r.Context(), time.Duration(s.latency.Load())) {
		return
	}
	var sb *syncBody
	var bodyErr *apiError
	if rt.op == opSync {
		sb, c.rt.endpoint, bodyErr = s.readSync(r)
	}
	s.stats.count(c.rt.endpoint)
	if _, stop := s.applyFault(c.rt.endpoint, rw, r, c.fail); stop {
		return
	}
	if rt.op != opHealth {
		if aerr := s.authorize(r); aerr != nil {
			c.fail(aerr) // a bad key outranks a bad body
			return
		}
	}
	if rt.vm != "" && rt.vm != s.opts.VMID && rt.vm != s.opts.VMName {
		c.fail(notFound(wire.ResourceVM, "no such VM: %q", rt.vm))
	} else if bodyErr != nil {
		c.fail(bodyErr)
	} else {
		s.dispatch(c, sb)
	}
	if rw.discard || rw.truncate {
		rw.cut()
	}
}

// applyFault takes the fault that hits a request to endpoint, if any, and
// carries out what acts before the request is handled; rw remembers what
// acts on the answer. stop says the request is answered (or dropped);
// expired says a presigned URL is to be taken as expired.
func (s *Server) applyFault(endpoint string, rw *respWriter, r *http.Request, fail func(*apiError)) (expired, stop bool) {
	f, hit := s.faults.take(endpoint)
	if !hit {
		return false, false
	}
	s.logf("emulator: fault %s hits %s", f.Kind, endpoint)
	switch f.Kind {
	case FaultStatus:
		fail(f.apiError())
		return false, true
	case FaultDrop:
		panic(http.ErrAbortHandler)
	case FaultDelay:
		return false, !sleepCtx(r.Context(), f.Delay)
	case FaultExpire:
		return true, false
	case FaultDropAfter:
		rw.discard = true
	case FaultTruncate:
		rw.truncate = true
	}
	return false, false
}

func (s *Server) dispatch(c *call, sb *syncBody) {
	switch c.rt.op {
	case opHealth:
		s.health(c)
	case opWhoami:
		s.whoami(c)
	case opGetVM:
		s.getVM(c)
	case opSync:
		s.sync(c, sb)
	case opSyncStream:
		s.syncStream(c)
	case opCreateRun:
		s.createRun(c)
	case opListRuns:
		s.listRuns(c)
	case opGetRun:
		s.getRun(c)
	case opCancelRun:
		s.cancelRun(c)
	case opListSessions:
		s.listSessions(c)
	case opCreateSession:
		s.createSession(c)
	case opGetSession:
		s.getSession(c)
	case opPatchSession:
		s.patchSession(c)
	case opDeleteSession:
		s.deleteSession(c)
	}
}
