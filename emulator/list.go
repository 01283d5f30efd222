package emulator

import (
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/arker-ai/arkerfs/wire"
)

// Pagination of list operations.
const (
	defaultPageLimit = 100
	maxPageLimit     = 1000
)

// listQuery is a parsed list request: the page and the filters.
type listQuery struct {
	offset int
	limit  int
	q      url.Values
}

// parseList checks the query of a list operation: cursor and limit, and
// the filters named in allowed; any other parameter is refused.
func parseList(q url.Values, allowed ...string) (listQuery, *apiError) {
	lq := listQuery{limit: defaultPageLimit, q: q}
	var vs []wire.Violation
	for k, v := range q {
		switch {
		case k != "cursor" && k != "limit" && !slices.Contains(allowed, k):
			vs = append(vs, wire.Violation{Field: k, Message: "unknown query parameter"})
		case len(v) != 1:
			vs = append(vs, wire.Violation{Field: k, Message: "must be given once"})
		}
	}
	if c := q.Get("cursor"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 0 {
			vs = append(vs, wire.Violation{Field: "cursor", Message: "is not a cursor this server gave"})
		}
		lq.offset = n
	}
	if l := q.Get("limit"); l != "" || q.Has("limit") {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxPageLimit {
			vs = append(vs, wire.Violation{Field: "limit", Message: "must be an integer from 1 to 1000"})
		}
		lq.limit = n
	}
	if len(vs) > 0 {
		return lq, invalid(vs)
	}
	return lq, nil
}

// page cuts items to the page and returns its next cursor (nil at the end).
func page[T any](items []T, lq listQuery) ([]T, *string) {
	if lq.offset >= len(items) {
		return []T{}, nil
	}
	end := min(lq.offset+lq.limit, len(items))
	var next *string
	if end < len(items) {
		c := strconv.Itoa(end)
		next = &c
	}
	return items[lq.offset:end], next
}

// timeParam parses an RFC 3339 filter; the zero time when absent.
func timeParam(q url.Values, name string, vs *[]wire.Violation) time.Time {
	s := q.Get(name)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		*vs = append(*vs, wire.Violation{Field: name, Message: "must be an RFC 3339 time"})
	}
	return t
}

// listRuns answers GET …/runs: newest first, filtered by state and times.
func (s *Server) listRuns(c *call) {
	lq, aerr := parseList(c.r.URL.Query(), "state", "started_after", "started_before", "completed_after")
	if aerr != nil {
		c.fail(aerr)
		return
	}
	var vs []wire.Violation
	state := lq.q.Get("state")
	if lq.q.Has("state") {
		checkEnum(&vs, "state", &state, wire.RunPending, wire.RunRunning, wire.RunCompleted, wire.RunFailed, wire.RunCancelled)
	}
	startedAfter := timeParam(lq.q, "started_after", &vs)
	startedBefore := timeParam(lq.q, "started_before", &vs)
	completedAfter := timeParam(lq.q, "completed_after", &vs)
	if len(vs) > 0 {
		c.fail(invalid(vs))
		return
	}
	rs := s.runs
	rs.mu.Lock()
	var rows []wire.RunSummary
	for _, r := range slices.Backward(rs.order) {
		started := r.started
		if started.IsZero() {
			started = r.created
		}
		switch {
		case state != "" && r.state != state,
			!startedAfter.IsZero() && !started.After(startedAfter),
			!startedBefore.IsZero() && !started.Before(startedBefore),
			!completedAfter.IsZero() && !r.completed.After(completedAfter):
			continue
		}
		rows = append(rows, wire.RunSummary{RunID: r.id, State: r.state, StartedAt: rfc3339(started), ExitCode: r.exitCode})
	}
	rs.mu.Unlock()
	out, next := page(rows, lq)
	c.reply(200, wire.ListRunsResponse{Runs: out, NextCursor: next})
}
