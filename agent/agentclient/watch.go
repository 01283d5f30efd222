package agentclient

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/arker-ai/arkerfs/agent/proto"
	"github.com/arker-ai/arkerfs/transport"
)

// watchWait is how long one request for changes waits on the agent; it
// stays below requestTimeout, and bounds how long a client that gave the
// agent up takes to see it answer again (Serve).
const watchWait = 10

// Watch follows the agent's change feed until ctx ends: changed hears the
// paths that changed on the VM, lost that changes may have been missed
// (the feed overflowed, or the agent could not be reached for a while,
// or it restarted), after which everything must be revalidated; answered
// hears every answer, after those, with the time its request was sent. A
// failed request is retried after a pause that grows to 10 s; the first
// success after a failure counts as lost changes.
func (c *Conn) Watch(ctx context.Context, changed func(paths []string), lost func(), answered func(sent time.Time)) {
	var seq uint64
	started, failed := false, false
	pause := time.Second
	for ctx.Err() == nil {
		path := proto.PathEvents
		if started {
			path += "?after=" + strconv.FormatUint(seq, 10) + "&wait=" + strconv.Itoa(watchWait)
		}
		var ev proto.Events
		sent := time.Now()
		if err := c.call(ctx, http.MethodGet, path, nil, &ev); err != nil {
			failed = true
			t := time.NewTimer(pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			pause = min(2*pause, 10*time.Second)
			continue
		}
		pause = time.Second
		switch {
		case failed || ev.Overflow:
			lost()
		case len(ev.Paths) > 0:
			paths := make([]string, len(ev.Paths))
			for i, p := range ev.Paths {
				paths[i] = string(p)
			}
			changed(paths)
		}
		seq, started, failed = ev.Seq, true, false
		answered(sent)
	}
}

// Changes is what follows the VM's changes: the mounted file system.
type Changes interface {
	VMChanged(paths []string)
	VMChangedAll()
}

// Serve makes client answer metadata through conn and target follow
// conn's change feed, until ctx ends. When the client gave the agent up
// (it failed) and a feed request sent since is answered, the client takes
// it back, whether or not a feed request failed meanwhile (a long poll
// may span the whole outage); logf hears both.
func Serve(ctx context.Context, client *transport.Client, conn *Conn, target Changes, logf func(format string, args ...any)) {
	var mu sync.Mutex // guards dropped
	var dropped time.Time
	onDrop := func(format string, args ...any) {
		mu.Lock()
		dropped = time.Now()
		mu.Unlock()
		logf(format, args...)
	}
	client.UseMetaServer(conn, onDrop)
	conn.Watch(ctx, target.VMChanged, target.VMChangedAll, func(sent time.Time) {
		mu.Lock()
		since := sent.After(dropped)
		mu.Unlock()
		if since && client.MetaServerInUse() == "" {
			target.VMChangedAll() // what went through runs meanwhile may not be all the VM did
			client.UseMetaServer(conn, onDrop)
			logf("%s answers again: metadata goes through it", conn.Describe())
		}
	})
}
