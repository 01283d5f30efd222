package agent

import (
	"net/http"
	"strconv"
	"time"

	"github.com/arker-ai/arkerfs/agent/proto"
)

// events answers GET /v1/events for mount m: the changes below its root
// numbered after the query's after, waiting up to its wait (seconds, at
// most proto.MaxWait) for one (proto.Events). The feed of a root starts
// with the first request for it.
func (h *handler) events(w http.ResponseWriter, r *http.Request, m *mount) {
	q := r.URL.Query()
	var after uint64
	hasAfter := q.Has("after")
	if hasAfter {
		var err error
		if after, err = strconv.ParseUint(q.Get("after"), 10, 64); err != nil {
			http.Error(w, "after is not a sequence number", http.StatusBadRequest)
			return
		}
	}
	wait := 0
	if q.Has("wait") {
		var err error
		if wait, err = strconv.Atoi(q.Get("wait")); err != nil || wait < 0 || wait > proto.MaxWait {
			http.Error(w, "wait must be 0.."+strconv.Itoa(proto.MaxWait)+" seconds", http.StatusBadRequest)
			return
		}
	}
	f, err := h.feeds.of(m.root)
	if err != nil {
		h.logf("change feed of %s: %v", m.root, err)
		http.Error(w, "no change feed: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, f.since(r.Context(), after, hasAfter, time.Duration(wait)*time.Second))
}
