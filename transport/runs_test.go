package transport_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/emulator"
	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/helper"
	"github.com/arker-ai/arkerfs/wire"
)

// api sends one raw API request to the emulator, as a user's own tool
// would, and decodes the answer.
func (e *emu) api(t *testing.T, method, suffix string, body any, out any) int {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequestWithContext(ctxT(t), method, e.url+wire.PathVMs+emulator.DefaultVMID+suffix, rd)
	req.Header.Set("Authorization", "Bearer "+testKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// TestSessionZeroUntouched: a user's foreground command in the VM's
// default session survives everything the client does, because the client
// never enters that session.
func TestSessionZeroUntouched(t *testing.T) {
	eachLineage(t, func(t *testing.T, lin wire.Lineage) {
		e := newEmu(t, lin)
		c := e.client(t)
		zero, ttb := 0, int64(0)
		var bg wire.BackgroundRunResponse
		if st := e.api(t, http.MethodPost, wire.SuffixRuns, wire.RunRequest{Command: "sleep 60", SessionIdx: &zero, TimeToBackground: &ttb}, &bg); st != http.StatusAccepted {
			t.Fatalf("starting the user's command: %d", st)
		}
		t.Cleanup(func() {
			sig := wire.SignalKILL
			e.api(t, http.MethodPost, wire.SuffixRuns, wire.RunRequest{SessionIdx: &zero, Signal: &sig}, nil)
		})
		mustUpload(t, c, up(vm("a"), []byte("a")), up(vm("b"), randBytes(5<<20)))
		if _, err := c.Meta(ctxT(t), metaOps(helper.OpStat, vm("a"), vm("b"))...); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Run(ctxT(t), "true", transport.RunOptions{}); err != nil {
			t.Fatal(err)
		}
		var run wire.Run
		e.api(t, http.MethodGet, wire.SuffixRuns+"/"+bg.RunID, nil, &run)
		if run.State != wire.RunRunning {
			t.Fatalf("the user's command in session 0 is %s (%v)", run.State, run.FailReason)
		}
		e.checkSessions(t, c)
	})
}

// TestRunBackgroundPolled: a run longer than time_to_background gets a
// 202 and is polled to its end.
func TestRunBackgroundPolled(t *testing.T) {
	eachLineage(t, func(t *testing.T, lin wire.Lineage) {
		e := newEmu(t, lin)
		c := e.client(t, func(c *transport.Config) { c.TimeToBackground = time.Second })
		r, err := c.Run(ctxT(t), "sleep 2; echo done", transport.RunOptions{})
		if err != nil || string(r.Stdout) != "done\n" || r.ExitCode != 0 || r.RunID == "" {
			t.Fatalf("run = %+v, %v", r, err)
		}
		if n := e.requests(emulator.EndpointRunsGet); n < 1 {
			t.Errorf("%d polls", n)
		}
		runs, _, _ := e.rec.snapshot()
		if len(runs) != 1 || runs[0].req.TimeToBackground == nil || *runs[0].req.TimeToBackground != 1 ||
			runs[0].req.Timeout == nil || *runs[0].req.Timeout != 60 {
			t.Errorf("run request %+v", runs)
		}
		e.checkSessions(t, c)
	})
}

// TestRunsDoNotShareSessions: with one session, a second run waits for
// the first instead of entering its session after it was backgrounded
// (which would interrupt it).
func TestRunsDoNotShareSessions(t *testing.T) {
	e := newEmu(t, wire.LineageA)
	c := e.client(t, func(c *transport.Config) { c.TimeToBackground = time.Second; c.Sessions = 1 })
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := c.Run(ctxT(t), fmt.Sprintf("sleep 1.5; echo %d", i), transport.RunOptions{})
			if err != nil || strings.TrimSpace(string(r.Stdout)) != fmt.Sprint(i) {
				errs <- fmt.Errorf("run %d: %+v, %v", i, r, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	runs, _, _ := e.rec.snapshot()
	for _, r := range runs {
		if *r.req.SessionIdx != transport.DefaultSessionBase {
			t.Errorf("session index %d", *r.req.SessionIdx)
		}
	}
}

// TestRunsSpreadOverSessions: independent runs go to different sessions.
func TestRunsSpreadOverSessions(t *testing.T) {
	e := newEmu(t, wire.LineageB)
	c := e.client(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Run(ctxT(t), "sleep 0.2", transport.RunOptions{}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	runs, _, _ := e.rec.snapshot()
	used := map[int]bool{}
	for _, r := range runs {
		used[*r.req.SessionIdx] = true
	}
	if len(used) != transport.DefaultSessions {
		t.Errorf("8 concurrent runs used sessions %v, want the %d of the pool", used, transport.DefaultSessions)
	}
	e.checkSessions(t, c)
}

// TestRunRetriedUnderItsKeyRunsOnce: the answer to a run that ran is
// lost; the retry carries the same key and body, and the command ran once.
func TestRunRetriedUnderItsKeyRunsOnce(t *testing.T) {
	eachLineage(t, func(t *testing.T, lin wire.Lineage) {
		for _, f := range []emulator.Fault{{Kind: emulator.FaultDropAfter}, {Kind: emulator.FaultStatus, Code: wire.CodeUnavailable},
			{Kind: emulator.FaultStatus, Code: wire.CodeRateLimited}} {
			t.Run(string(f.Kind)+f.Code, func(t *testing.T) {
				e := newEmu(t, lin)
				c := e.client(t)
				f.Endpoint = emulator.EndpointRunsCreate
				e.InjectFault(f)
				r, err := c.Run(ctxT(t), "echo x >> /home/user/count; wc -l < /home/user/count", transport.RunOptions{})
				if err != nil || string(r.Stdout) != "1\n" {
					t.Fatalf("run = %+v, %v", r, err)
				}
				if got := e.readLocal(t, vm("count")); string(got) != "x\n" {
					t.Fatalf("the command ran %d times", bytes.Count(got, []byte("x")))
				}
				runs, _, _ := e.rec.snapshot()
				if len(runs) != 2 || runs[0].key != runs[1].key {
					t.Fatalf("%d run requests, keys %+v", len(runs), runs)
				}
				e.checkSessions(t, c)
			})
		}
	})
}

// TestRunPollFailures: polls that keep failing end the wait with
// unavailable; the run's session is retired, so the next run goes to a
// fresh one (and cannot interrupt the run left behind).
func TestRunPollFailures(t *testing.T) {
	e := newEmu(t, wire.LineageB)
	c := e.client(t, func(c *transport.Config) { c.TimeToBackground = time.Second; c.Sessions = 1 })
	e.InjectFault(emulator.Fault{Endpoint: emulator.EndpointRunsGet, Kind: emulator.FaultStatus, Code: wire.CodeUnavailable, Times: -1})
	_, err := c.Run(ctxT(t), "sleep 3", transport.RunOptions{})
	if transport.CodeOf(err) != transport.CodeUnavailable {
		t.Fatalf("run with failing polls: %v", err)
	}
	if n := e.requests(emulator.EndpointRunsGet); n != 10 {
		t.Errorf("%d polls, want 10", n)
	}
	e.ClearFaults()
	if _, err := c.Run(ctxT(t), "true", transport.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	runs, _, _ := e.rec.snapshot()
	if len(runs) != 2 || *runs[0].req.SessionIdx == *runs[1].req.SessionIdx {
		t.Errorf("the run after an abandoned one went to session %d", *runs[1].req.SessionIdx)
	}
}

// TestRunPermanentErrors: a 4xx answer is not retried.
func TestRunPermanentErrors(t *testing.T) {
	e := newEmu(t, wire.LineageA)
	c := e.client(t)
	e.InjectFault(emulator.Fault{Endpoint: emulator.EndpointRunsCreate, Kind: emulator.FaultStatus, Code: wire.CodeForbidden})
	if _, err := c.Run(ctxT(t), "true", transport.RunOptions{}); transport.CodeOf(err) != transport.CodeForbidden {
		t.Fatalf("forbidden run: %v", err)
	}
	if n := e.requests(emulator.EndpointRunsCreate); n != 1 {
		t.Errorf("%d requests", n)
	}
}
