package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/wire"
)

// TestUserSessionUndisturbed: a command the VM's user runs in the default
// session (index 0) survives everything the mount does. A run entering a
// session whose command is running interrupts that command, so arkerfs
// must never run in session 0.
func TestUserSessionUndisturbed(t *testing.T) {
	e := newEnv(t)
	// The user's command waits, in the foreground of session 0, until
	// the test lets it go.
	id := e.startUserRun(`while [ ! -e /home/user/.release ]; do sleep 0.05; done; echo survived`)

	e.write("a.txt", []byte("one\n"))
	e.sh(`mkdir -p src && echo 'package main' > src/main.go && mv a.txt b.txt && chmod 600 b.txt`)
	e.sh(`git init -q && git add . && git -c user.email=t@e -c user.name=t commit -qm first && echo x >> b.txt && git status --porcelain`)
	if got := e.userRun(id); got.State != wire.RunRunning {
		t.Fatalf("the user's command in session 0 is %s (%v) after the mount's work, want running", got.State, got.FailReason)
	}

	if err := os.WriteFile(e.vm(".release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var last wire.Run
	eventuallyWhy(t, 30*time.Second, "the user's command ends", func() (bool, string) {
		last = e.userRun(id)
		return last.State != wire.RunRunning && last.State != wire.RunPending, last.State
	})
	if last.State != wire.RunCompleted || last.ExitCode == nil || *last.ExitCode != 0 || last.Stdout != "survived\n" {
		t.Fatalf("the user's command ended %s, exit %v, stdout %q, reason %v", last.State, last.ExitCode, last.Stdout, last.FailReason)
	}
}

// startUserRun starts command as the VM's user would with the SDK's
// defaults: no session named (the default session), answered at once with
// a run id.
func (e *env) startUserRun(command string) string {
	e.t.Helper()
	zero := int64(0)
	body, _ := json.Marshal(wire.RunRequest{Command: command, TimeToBackground: &zero})
	var ack wire.BackgroundRunResponse
	if status := e.api(http.MethodPost, wire.SuffixRuns, body, &ack); status != http.StatusAccepted {
		e.t.Fatalf("starting the user's run: HTTP %d", status)
	}
	return ack.RunID
}

// userRun is the user's run as GET /runs/{id} reports it.
func (e *env) userRun(id string) wire.Run {
	e.t.Helper()
	var r wire.Run
	if status := e.api(http.MethodGet, wire.SuffixRuns+"/"+id, nil, &r); status != http.StatusOK {
		e.t.Fatalf("reading the user's run: HTTP %d", status)
	}
	return r
}

// api sends one request to the emulated VM's API and decodes a 2xx
// answer into out.
func (e *env) api(method, suffix string, body []byte, out any) int {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, e.url+wire.PathVMs+"local"+suffix, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set(wire.HeaderAuthorization, "Bearer "+testToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, suffix, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			e.t.Fatalf("%s %s: %v", method, suffix, fmt.Errorf("decoding the answer: %w", err))
		}
	}
	return resp.StatusCode
}
