package emulator

import (
	"context"
	"errors"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/arker-ai/arkerfs/wire"
)

// Placement of the emulated VM, as GET /v1/vms/{id} reports it.
const (
	VMProvider = "local"
	VMRegion   = "emu"
)

// HostnameSuffix ends every inbound hostname of the emulated VM: the VM's
// label, then "." VMProvider "-" VMRegion ".arker.app".
const HostnameSuffix = "." + VMProvider + "-" + VMRegion + ".arker.app"

// IngressDefaultPort is the guest port of the bare hostname.
const IngressDefaultPort = 8080

// ingressTargetHost is the host of the emulated VM's ports.
const ingressTargetHost = "127.0.0.1"

// hostKind is what a request's Host header says about it.
type hostKind int

const (
	hostAPI     hostKind = iota // not an inbound hostname: an API call
	hostUnknown                 // under HostnameSuffix, but no port of this VM: 404
	hostIngress                 // an inbound hostname of this VM, with its port
)

// classifyHost decides where a request with Host header host goes, for a
// VM known by names (its id and name). The port of host, if any, is
// ignored; the comparison ignores case. For hostIngress it returns the
// guest port: IngressDefaultPort for the bare "<vm>" label, p for
// "<vm>-<p>".
func classifyHost(host string, names ...string) (int, hostKind) {
	h := strings.ToLower(stripPort(host))
	h = strings.TrimSuffix(h, ".")
	label, ok := strings.CutSuffix(h, HostnameSuffix)
	if !ok {
		return 0, hostAPI
	}
	if label == "" || strings.Contains(label, ".") {
		return 0, hostUnknown
	}
	for _, n := range names {
		if n != "" && label == strings.ToLower(n) {
			return IngressDefaultPort, hostIngress
		}
	}
	for _, n := range names {
		rest, ok := strings.CutPrefix(label, strings.ToLower(n)+"-")
		if !ok || n == "" {
			continue
		}
		if port, ok := parsePort(rest); ok {
			return port, hostIngress
		}
	}
	return 0, hostUnknown
}

// stripPort removes a ":port" from a Host header value.
func stripPort(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return host
}

// parsePort parses a guest port: 1..65535 in decimal, no sign, no leading
// zero.
func parsePort(s string) (int, bool) {
	if s == "" || len(s) > 5 || s[0] == '0' {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n <= 65535
}

// dnsLabel reports whether s is a lowercase DNS label.
func dnsLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// vmLabel is the label that names the VM in its hostnames: its name,
// lowercased, or its id when the name is no DNS label; "" when neither is.
func (s *Server) vmLabel() string {
	for _, n := range []string{s.opts.VMName, s.opts.VMID} {
		if l := strings.ToLower(n); dnsLabel(l) {
			return l
		}
	}
	return ""
}

// IngressHost returns the inbound hostname of the VM's guest port: the
// bare "<vm>" HostnameSuffix for IngressDefaultPort (or 0), else
// "<vm>-<port>" HostnameSuffix. It is "" when the VM's name and id are no
// DNS labels.
func (s *Server) IngressHost(port int) string {
	l := s.vmLabel()
	if l == "" {
		return ""
	}
	if port != 0 && port != IngressDefaultPort {
		l += "-" + strconv.Itoa(port)
	}
	return l + HostnameSuffix
}

// hostname is Vm.hostname: the bare inbound hostname, nil when there is
// none.
func (s *Server) hostname() *string {
	h := s.IngressHost(IngressDefaultPort)
	if h == "" {
		return nil
	}
	return &h
}

// SetDenyIngress changes Options.DenyIngress.
func (s *Server) SetDenyIngress(deny bool) { s.denyIngress.Store(deny) }

// ingressTarget is the address of guest port port: the emulated VM's
// processes share this machine's loopback.
func ingressTarget(port int) *url.URL {
	return &url.URL{Scheme: "http", Host: net.JoinHostPort(ingressTargetHost, strconv.Itoa(port))}
}

// ingressPortKey is the context key of an inbound request's guest port.
type ingressPortKey struct{}

// newIngressProxy returns the reverse proxy of inbound requests and its
// transport. The guest port travels in the request's context under
// ingressPortKey. The original Host header is kept, Authorization is
// removed, X-Forwarded-For, -Host and -Proto are set; everything else
// passes (hop-by-hop headers aside). Bodies stream both ways and every
// write of the answer is flushed at once.
func (s *Server) newIngressProxy() (*httputil.ReverseProxy, *http.Transport) {
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			port, _ := pr.In.Context().Value(ingressPortKey{}).(int)
			pr.SetURL(ingressTarget(port))
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
			pr.Out.Header.Del(wire.HeaderAuthorization)
		},
		Transport:     tr,
		FlushInterval: -1,
		ErrorLog:      log.New(logWriter{s}, "emulator: ingress: ", 0),
		ErrorHandler:  s.ingressError,
	}
	return rp, tr
}

// ingressError answers a request the guest port did not answer (nothing
// listens, or the connection broke before an answer): 502, as the
// service's gateway answers.
func (s *Server) ingressError(w http.ResponseWriter, r *http.Request, err error) {
	port, _ := r.Context().Value(ingressPortKey{}).(int)
	if r.Context().Err() != nil {
		s.logf("emulator: ingress to port %d: the client went away: %v", port, err)
		return
	}
	s.logf("emulator: ingress to port %d: %v", port, err)
	writeError(w, r, s.opts.Lineage, "", badGateway(s.opts.Lineage, "the VM's port %d did not answer", port), nil)
}

// badGateway is the refusal of an inbound request the VM's port did not
// answer: status 502, code bad_gateway in lineage B; lineage A has no
// 502 code, so there it is unavailable (a fault, not capacity) with the
// status kept at 502 and recovery.work unknown.
func badGateway(l wire.Lineage, format string, args ...any) *apiError {
	code := wire.CodeBadGateway
	if l == wire.LineageA {
		code = wire.CodeUnavailable
	}
	e := newError(code, format, args...)
	e.status = http.StatusBadGateway
	e.work = wire.WorkUnknown // the VM's server may have seen the request
	return e
}

// serveIngress answers a request sent to an inbound hostname of the VM
// (kind hostIngress or hostUnknown): latency, counting, faults, the deny
// knob, auth, then the reverse proxy to the guest port. It is no API call:
// Options.Wrap does not see it.
func (s *Server) serveIngress(w http.ResponseWriter, r *http.Request, port int, kind hostKind) {
	start := time.Now()
	l := s.opts.Lineage
	if kind != hostIngress {
		if sleepCtx(r.Context(), time.Duration(s.latency.Load())) {
			writeError(w, r, l, "", notFound(wire.ResourceRoute, "no such hostname: %s", r.Host), nil)
		}
		s.logf("emulator: %s %s%s: unknown hostname", r.Method, r.Host, r.URL.RequestURI())
		return
	}
	r.Body = countingReader{r.Body, &s.stats.bytesIn}
	rw := &respWriter{ResponseWriter: w, s: s, ctx: r.Context()}
	fail := func(e *apiError) { writeError(rw, r, l, "", e, nil) }
	defer func() {
		s.logf("emulator: %s %s%s (%s → port %d): %d, %d bytes out, %s", r.Method, r.Host, r.URL.RequestURI(),
			EndpointIngress, port, rw.status, rw.written, time.Since(start).Round(time.Microsecond))
	}()
	if !sleepCtx(r.Context(), time.Duration(s.latency.Load())) {
		return
	}
	s.stats.count(EndpointIngress)
	s.stats.countIngress(r.URL.Path)
	if _, stop := s.applyFault(EndpointIngress, rw, r, fail); stop {
		return
	}
	if s.denyIngress.Load() {
		fail(forbidden("inbound access to port %d is denied by the VM's policy", port))
		return
	}
	if aerr := s.authorize(r); aerr != nil {
		fail(aerr)
		return
	}
	// The guest may answer before the proxy has finished sending it the
	// request body (and the proxy's transport reads the body once more
	// after its declared length). An HTTP/1 server closes the inbound body
	// when the answer starts unless it is full duplex; closed, that last
	// read fails and the transport tears down the guest connection in the
	// middle of the answer (golang/go#40747).
	if err := http.NewResponseController(w).EnableFullDuplex(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		s.logf("emulator: ingress: full duplex: %v", err)
	}
	ctx := context.WithValue(r.Context(), ingressPortKey{}, port)
	s.ingress.ServeHTTP(rw, r.WithContext(ctx))
	if rw.discard || rw.truncate {
		rw.cut()
	}
}
