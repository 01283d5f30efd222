package wire

// RunRequest is the body of POST /v1/vms/{id}/runs. Every field is
// optional; the service rejects fields it does not know. Times are whole
// seconds.
type RunRequest struct {
	SessionID        *string `json:"session_id,omitempty"`
	SessionIdx       *int    `json:"session_idx,omitempty"`
	Command          string  `json:"command,omitempty"`
	Timeout          *int64  `json:"timeout,omitempty"`            // kill bound; 0 or absent = none
	TimeToBackground *int64  `json:"time_to_background,omitempty"` // synchronous wait; default 300, 0 = 202 at once
	Background       *bool   `json:"background,omitempty"`         // deprecated alias of time_to_background 0
	QueueingTimeout  *int64  `json:"queueing_timeout,omitempty"`
	EndSymbol        *string `json:"end_symbol,omitempty"`
	VCPUCount        *int    `json:"vcpu_count,omitempty"`
	MemoryMiB        *int64  `json:"memory_mib,omitempty"`
	DiskMiB          *int64  `json:"disk_mib,omitempty"`
	MemoryBackend    *string `json:"memory_backend,omitempty"` // file | uffd
	Signal           *string `json:"signal,omitempty"`         // SIGINT | SIGTERM | SIGKILL | SIGHUP
	Policies         []any   `json:"policies,omitempty"`
}

// Run states. Only completed, failed and cancelled are terminal; an
// unknown state is taken as not terminal.
const (
	RunPending   = "pending"
	RunRunning   = "running"
	RunCompleted = "completed"
	RunFailed    = "failed"
	RunCancelled = "cancelled"
)

// Signals a run request may carry.
const (
	SignalINT  = "SIGINT"
	SignalTERM = "SIGTERM"
	SignalKILL = "SIGKILL"
	SignalHUP  = "SIGHUP"
)

// CompletedRunResponse is a 200 answer: the run finished (or a signal was
// delivered: then RunID is absent). ExitCode null means a prompt ended
// the run before its completion marker; a negative one means it was
// killed or its compute was lost.
type CompletedRunResponse struct {
	Stdout             string  `json:"stdout"`
	StdoutEncoding     string  `json:"stdout_encoding"`
	Stderr             string  `json:"stderr"`
	StderrEncoding     string  `json:"stderr_encoding"`
	ExitCode           *int    `json:"exit_code"`
	SessionID          string  `json:"session_id,omitempty"`
	RunID              string  `json:"run_id,omitempty"`
	State              string  `json:"state,omitempty"`
	Dispatch           any     `json:"dispatch,omitempty"`
	MemoryRequestedMiB *int64  `json:"memory_requested_mib,omitempty"`
	MemoryAchievedMiB  *int64  `json:"memory_achieved_mib,omitempty"`
	MemoryPartial      *bool   `json:"memory_partial,omitempty"`
	MemoryBackend      *string `json:"memory_backend,omitempty"`
}

// BackgroundRunResponse is a 202 answer: the run goes on; poll
// GET …/runs/{run_id}.
type BackgroundRunResponse struct {
	RunID     string `json:"run_id"`
	SessionID string `json:"session_id,omitempty"`
	State     string `json:"state,omitempty"`
}

// Run is GET …/runs/{run_id}. Stdout grows while the run executes.
type Run struct {
	RunID          string  `json:"run_id"`
	State          string  `json:"state"`
	StartedAt      string  `json:"started_at"`
	ExitCode       *int    `json:"exit_code"`
	Stdout         string  `json:"stdout"`
	StdoutEncoding string  `json:"stdout_encoding"`
	Stderr         string  `json:"stderr"`
	StderrEncoding string  `json:"stderr_encoding"`
	SessionID      string  `json:"session_id,omitempty"`
	Command        string  `json:"command,omitempty"`
	CompletedAt    *string `json:"completed_at,omitempty"`
	FailReason     *string `json:"fail_reason,omitempty"`
	RetryCount     *int    `json:"retry_count,omitempty"`
	VMID           string  `json:"vm_id,omitempty"`
	VMName         string  `json:"vm_name,omitempty"`
}

// RunSummary is one row of GET …/runs.
type RunSummary struct {
	RunID     string `json:"run_id"`
	State     string `json:"state"`
	StartedAt string `json:"started_at"`
	ExitCode  *int   `json:"exit_code"`
}

// ListRunsResponse is GET …/runs.
type ListRunsResponse struct {
	Runs       []RunSummary `json:"runs"`
	NextCursor *string      `json:"next_cursor"`
}

// CancelRunResponse is DELETE …/runs/{run_id}: the record is marked
// cancelled; the process is not killed.
type CancelRunResponse struct {
	Cancelled bool `json:"cancelled"`
}

// Session states.
const (
	SessionIdle    = "idle"
	SessionRunning = "running"
)

// Session is a shell on the VM in which runs queue behind each other.
// Index 0 is the VM's default session.
type Session struct {
	SessionID  string            `json:"session_id"`
	State      string            `json:"state"`
	Cwd        string            `json:"cwd"`
	SessionIdx *int              `json:"session_idx,omitempty"`
	Env        map[string]string `json:"env,omitempty"`
	StartedAt  string            `json:"started_at,omitempty"`
	VMID       string            `json:"vm_id,omitempty"`
	VMName     string            `json:"vm_name,omitempty"`
}

// CreateSessionRequest is POST …/sessions; every field is optional.
type CreateSessionRequest struct {
	Env     map[string]string `json:"env,omitempty"`
	Cwd     *string           `json:"cwd,omitempty"`
	Pty     *bool             `json:"pty,omitempty"`
	Cols    *int              `json:"cols,omitempty"`
	Rows    *int              `json:"rows,omitempty"`
	Command *string           `json:"command,omitempty"`
}

// ListSessionsResponse is GET …/sessions.
type ListSessionsResponse struct {
	Sessions   []Session `json:"sessions"`
	NextCursor *string   `json:"next_cursor"`
}

// DeletedResponse answers the DELETEs of sessions (and VMs).
type DeletedResponse struct {
	Deleted bool `json:"deleted"`
}

// PatchSessionRequest is PATCH …/sessions/{sid} (body optional): a PTY
// resize (Cols and Rows together, 1–1000) and the PTY idle limit, from the
// next attach.
type PatchSessionRequest struct {
	Cols        *int   `json:"cols,omitempty"`
	Rows        *int   `json:"rows,omitempty"`
	TimeoutSecs *int64 `json:"timeout_secs,omitempty"`
}

// PatchSessionResponse answers PATCH …/sessions/{sid}.
type PatchSessionResponse struct {
	OK        bool   `json:"ok"`
	SessionID string `json:"session_id"`
}
