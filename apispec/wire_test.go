package apispec

import (
	"encoding/json"
	"testing"

	"github.com/arker-ai/arkerfs/wire"
)

// The Go types of package wire and the document are the same contract:
// values of the types, with every field set, must validate.
func TestWireTypesAgreeWithDocument(t *testing.T) {
	str := func(s string) *string { return &s }
	i64 := func(n int64) *int64 { return &n }
	num := func(n int) *int { return &n }
	yes := func(b bool) *bool { return &b }
	j := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	hash := "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	session := wire.Session{SessionID: "s1", State: wire.SessionIdle, Cwd: "/home/user", SessionIdx: num(7300),
		Env: map[string]string{"A": "1"}, StartedAt: ts, VMID: "vm1", VMName: "box"}
	vm := wire.VM{VMID: "vm1", OwnerOrgID: "org_1", CreatedAt: ts, Description: str("d"), State: wire.VMIdle,
		Sessions: []wire.Session{session}, Resources: wire.VMResources{VCPU: 2, MemoryMiB: 4096, DiskMiB: 10240},
		Network: wire.VMNetwork{SSHPublicKeys: []wire.SSHKey{{PublicKey: "ssh-ed25519 AAAA", Fingerprint: "SHA256:x"}}},
		Name:    "box", Hostname: str("box.aws-us-west-2.arker.app"), Region: "us-west-2", Provider: "aws",
		LastActiveAt: ts, Platform: "x86_64", RootSourceVMID: "vm0", RootSourceVMName: "ubuntu-full"}
	chunk := wire.SyncChunkWrite{Path: "/home/user/a", Size: 3, UploadID: "01J9Z8Y7X6W5V4T3S2R1Q0P9N8",
		Content: "YWJj", Start: 0, End: 3, SHA256: str(hash), IsSecret: yes(false)}
	result := func(e *wire.EntryError) wire.SyncWriteResponse {
		return wire.SyncWriteResponse{OK: true, Op: wire.OpWrite, Results: []wire.SyncWriteResult{{
			Path: "/home/user/a", Size: 3, ReceivedBytes: 3, Ranges: []wire.ByteRange{{Start: 0, End: 3}},
			Complete: true, Written: e == nil, Error: e}}}
	}
	completed := wire.CompletedRunResponse{Stdout: "x", StdoutEncoding: wire.RunEncodingUTF8, Stderr: "eA==",
		StderrEncoding: wire.EncodingBase64, ExitCode: num(0), SessionID: "s1", RunID: "r1", State: wire.RunCompleted,
		Dispatch: "brush", MemoryRequestedMiB: i64(1024), MemoryAchievedMiB: i64(1024), MemoryPartial: yes(false),
		MemoryBackend: str("file")}
	run := wire.Run{RunID: "r1", State: wire.RunFailed, StartedAt: ts, ExitCode: num(-9), Stdout: "",
		StdoutEncoding: wire.RunEncodingUTF8, Stderr: "", StderrEncoding: wire.RunEncodingUTF8, SessionID: "s1",
		Command: "sleep 9", CompletedAt: str(ts), FailReason: str("timeout"), RetryCount: num(0), VMID: "vm1", VMName: "box"}
	runReq := wire.RunRequest{SessionID: str("s1"), SessionIdx: num(7300), Command: "true", Timeout: i64(30),
		TimeToBackground: i64(300), QueueingTimeout: i64(0), EndSymbol: str("auto"), VCPUCount: num(2),
		MemoryMiB: i64(1024), DiskMiB: i64(2048), MemoryBackend: str("uffd"),
		Policies: map[string]any{"policies": []any{map[string]any{"type": "outbound", "action": "allow"}},
			"secrets": map[string]any{"TOKEN": "x"}}}
	typed := func(code, op string, d *wire.ErrorDetails) string {
		return j(wire.ErrorEnvelope{Error: wire.ErrorBody{Code: code, Message: "m", Timestamp: ts, RequestID: "req-1",
			Request: &wire.RequestRef{Kind: wire.RequestMatched, OperationID: op}, RetryAfterSeconds: i64(1),
			Recovery: &wire.Recovery{Work: wire.WorkNotStarted, Context: &wire.RecoveryContext{VMID: "vm1", RunID: "r1"}},
			Details:  d}})
	}
	flat := j(wire.ErrorEnvelope{Error: wire.ErrorBody{Code: wire.CodeCapacityUnavailable, Message: "m", Timestamp: ts,
		RetryAfter: i64(2), Retryable: yes(true), Operation: "createRun", Runtime: "firecracker", Provider: "aws",
		Scope: "regional", Region: "us-west-2", Resource: "vcpus"}})

	runCases(t, []opCase{
		{name: "HealthResponse", lineages: bothLineages,
			call:   call{method: "GET", path: wire.PathHealth, noAuth: true},
			answer: answer{body: j(wire.HealthResponse{Status: "ok", Timestamp: ts})}},
		{name: "WhoamiResponse", lineages: bothLineages,
			call:   call{method: "GET", path: wire.PathWhoami},
			answer: answer{body: j(wire.WhoamiResponse{OrgID: "org_1", OrgName: "Org"})}},
		{name: "VM", lineages: bothLineages,
			call: call{method: "GET", path: wire.PathVMs + "vm1"}, answer: answer{body: j(vm)}},
		{name: "SyncReadRequest inline", lineages: bothLineages,
			call: call{method: "POST", path: wire.PathVMs + "vm1" + wire.SuffixSync,
				body: j(wire.SyncReadRequest{Op: wire.OpRead, Path: "/home/user/a"})},
			answer: answer{body: j(wire.SyncReadResponse{OK: true, Op: wire.OpRead, Path: "/home/user/a", Size: 3,
				Content: str("abc"), Encoding: wire.SyncEncodingUTF8})}},
		{name: "SyncReadRequest presigned", lineages: bothLineages,
			call: call{method: "POST", path: wire.PathVMs + "vm1" + wire.SuffixSync,
				body: j(wire.SyncReadRequest{Op: wire.OpRead, Path: "/home/user/a"})},
			answer: answer{body: j(wire.SyncReadResponse{OK: true, Op: wire.OpRead, Path: "/home/user/a", Size: 9 << 20,
				PresignedURL: "http://127.0.0.1/_emulator/presigned/t", ExpiresIn: i64(300), Method: "GET"})}},
		{name: "SyncWriteRequest", lineages: bothLineages,
			call: call{method: "POST", path: wire.PathVMs + "vm1" + wire.SuffixSync,
				body: j(wire.SyncWriteRequest{Op: wire.OpWrite, Writes: []wire.SyncChunkWrite{chunk}})},
			answer: answer{body: j(result(nil))}},
		{name: "EntryError typed", lineages: onlyA,
			call: call{method: "POST", path: wire.PathVMs + "vm1" + wire.SuffixSync,
				body: j(wire.SyncWriteRequest{Op: wire.OpWrite, Writes: []wire.SyncChunkWrite{chunk}})},
			answer: answer{body: j(result(&wire.EntryError{Code: wire.CodeConflict, Message: "m",
				Details: &wire.ErrorDetails{Resource: wire.ResourceUpload}}))}},
		{name: "EntryError flat", lineages: onlyB,
			call: call{method: "POST", path: wire.PathVMs + "vm1" + wire.SuffixSync,
				body: j(wire.SyncWriteRequest{Op: wire.OpWrite, Writes: []wire.SyncChunkWrite{chunk}})},
			answer: answer{body: j(result(&wire.EntryError{Code: wire.CodeConflict, Message: "m"}))}},
		{name: "SyncManifestRequest", lineages: bothLineages,
			call: call{method: "POST", path: wire.PathVMs + "vm1" + wire.SuffixSync,
				body: j(wire.SyncManifestRequest{Op: wire.OpManifest, Path: "/home/user/d"})},
			answer: answer{body: j(wire.SyncManifestResponse{Root: "/home/user/d", HashAlgo: wire.HashSHA256,
				Entries: []wire.ManifestEntry{{Path: "a", Size: 3, Mode: 0o100644, Hash: hash}}, Truncated: false})}},
		{name: "SyncStreamResponse", lineages: onlyB,
			call: call{method: "POST", path: wire.PathVMs + "vm1" + wire.SuffixSyncStream + "?" +
				wire.QueryPath + "=/home/user/d&" + wire.QuerySize + "=3&" + wire.QueryExtract + "=" + wire.ExtractTar,
				header: map[string]string{"Content-Type": "application/octet-stream"}, body: "abc"},
			answer: answer{body: j(wire.SyncStreamResponse{OK: true, Op: wire.OpExtractStream, Path: "/home/user/d",
				Size: 3, Complete: true, Extracted: yes(true)})}},
		{name: "RunRequest and CompletedRunResponse", lineages: bothLineages,
			call: call{method: "POST", path: wire.PathVMs + "vm1" + wire.SuffixRuns,
				header: map[string]string{wire.HeaderIdempotencyKey: "arkerfs-01J9Z8Y7X6W5V4T3S2R1Q0P9N8"}, body: j(runReq)},
			answer: answer{body: j(completed)}},
		{name: "BackgroundRunResponse", lineages: bothLineages,
			call: call{method: "POST", path: wire.PathVMs + "vm1" + wire.SuffixRuns,
				body: j(wire.RunRequest{Command: "sleep 9", Background: yes(true)})},
			answer: answer{status: 202, body: j(wire.BackgroundRunResponse{RunID: "r1", SessionID: "s1", State: wire.RunRunning})}},
		{name: "signal request", lineages: bothLineages,
			call: call{method: "POST", path: wire.PathVMs + "vm1" + wire.SuffixRuns,
				body: j(wire.RunRequest{SessionIdx: num(7300), Signal: str(wire.SignalKILL)})},
			answer: answer{body: j(wire.CompletedRunResponse{StdoutEncoding: wire.RunEncodingUTF8,
				StderrEncoding: wire.RunEncodingUTF8, State: wire.RunCompleted})}},
		{name: "Run", lineages: bothLineages,
			call: call{method: "GET", path: wire.PathVMs + "vm1" + wire.SuffixRuns + "/r1"}, answer: answer{body: j(run)}},
		{name: "ListRunsResponse", lineages: bothLineages,
			call: call{method: "GET", path: wire.PathVMs + "vm1" + wire.SuffixRuns},
			answer: answer{body: j(wire.ListRunsResponse{Runs: []wire.RunSummary{{RunID: "r1", State: wire.RunPending,
				StartedAt: ts}}, NextCursor: str("c2")})}},
		{name: "CancelRunResponse", lineages: bothLineages,
			call:   call{method: "DELETE", path: wire.PathVMs + "vm1" + wire.SuffixRuns + "/r1"},
			answer: answer{body: j(wire.CancelRunResponse{Cancelled: true})}},
		{name: "CreateSessionRequest and Session", lineages: bothLineages,
			call: call{method: "POST", path: wire.PathVMs + "vm1" + wire.SuffixSessions,
				body: j(wire.CreateSessionRequest{Env: map[string]string{"A": "1"}, Cwd: str("/tmp"), Pty: yes(false),
					Cols: num(80), Rows: num(24), Command: str("bash")})},
			answer: answer{body: j(session)}},
		{name: "ListSessionsResponse", lineages: bothLineages,
			call:   call{method: "GET", path: wire.PathVMs + "vm1" + wire.SuffixSessions},
			answer: answer{body: j(wire.ListSessionsResponse{Sessions: []wire.Session{session}})}},
		{name: "DeletedResponse", lineages: bothLineages,
			call:   call{method: "DELETE", path: wire.PathVMs + "vm1" + wire.SuffixSessions + "/s1"},
			answer: answer{body: j(wire.DeletedResponse{Deleted: true})}},
		{name: "ErrorEnvelope typed not_found", lineages: onlyA,
			call: call{method: "GET", path: wire.PathVMs + "nope"},
			answer: answer{status: wire.StatusOf(wire.CodeNotFound),
				body: typed(wire.CodeNotFound, "getVm", &wire.ErrorDetails{Resource: wire.ResourceVM})}},
		{name: "ErrorEnvelope typed bad_request", lineages: onlyA,
			call: call{method: "POST", path: wire.PathVMs + "vm1" + wire.SuffixRuns, body: `{"command":"true"}`},
			answer: answer{status: wire.StatusOf(wire.CodeBadRequest),
				body: typed(wire.CodeBadRequest, "createRun", &wire.ErrorDetails{
					Violations: []wire.Violation{{Field: "timeout", Message: "must be whole seconds"}}})}},
		{name: "ErrorEnvelope typed payload_too_large", lineages: onlyA,
			call: call{method: "POST", path: wire.PathVMs + "vm1" + wire.SuffixSync, body: readReq},
			answer: answer{status: wire.StatusOf(wire.CodePayloadTooLarge),
				body: typed(wire.CodePayloadTooLarge, "sync", &wire.ErrorDetails{MaximumBytes: i64(wire.MaxSyncRequestContent)})}},
		{name: "ErrorEnvelope typed rate_limited", lineages: onlyA,
			call: call{method: "GET", path: wire.PathWhoami},
			answer: answer{status: wire.StatusOf(wire.CodeRateLimited),
				body: typed(wire.CodeRateLimited, "whoami", &wire.ErrorDetails{Limiter: "arker"})}},
		{name: "ErrorEnvelope flat", lineages: onlyB,
			call:   call{method: "POST", path: wire.PathVMs + "vm1" + wire.SuffixRuns, body: `{"command":"true"}`},
			answer: answer{status: 503, body: flat}},
	})
}
