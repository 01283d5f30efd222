package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/arker-ai/arkerfs/emulator"
)

// rig is the bench's world: a scratch directory, the emulated VM whose
// home lives in it, and the mounts made of it.
type rig struct {
	cfg     config
	sz      sizes
	root    string // scratch directory, removed at close
	home    string // the VM's /home/user
	local   string // local-disk counterparts of the workloads
	token   string
	emuOpts emulator.Options // what the emulator was started with
	emu     *emulator.Server
	url     string
	mounts  []*mount // every mount made, unmounted at close
	nMount  int      // mounts made so far (names their directories)
	fx      fixtures
}

// newRig makes the scratch directory and starts the emulator on loopback.
func newRig(cfg config) (*rig, error) {
	root, err := os.MkdirTemp(cfg.tmpParent, "arkerfs-bench-")
	if err != nil {
		return nil, fmt.Errorf("scratch directory: %w", err)
	}
	r := &rig{cfg: cfg, sz: sizesFor(cfg.quick), root: root,
		home: filepath.Join(root, "home"), local: filepath.Join(root, "local")}
	for _, d := range []string{r.home, r.local} {
		if err := os.Mkdir(d, 0o755); err != nil {
			r.close()
			return nil, fmt.Errorf("scratch directory: %w", err)
		}
	}
	key := make([]byte, 12)
	_, _ = rand.Read(key)
	r.token = "ark_bench_" + hex.EncodeToString(key)
	r.emuOpts = emulator.Options{Home: r.home, Token: r.token, VMID: emulator.DefaultVMID,
		Lineage: cfg.api, RunLatency: cfg.runLatency, NoRange: cfg.noRange}
	if r.emu, err = emulator.New(r.emuOpts); err != nil {
		r.close()
		return nil, err
	}
	if r.url, err = r.emu.Start("127.0.0.1:0"); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

// close unmounts what is still mounted, stops the emulator and removes
// the scratch directory. Safe to call on a half-made rig.
func (r *rig) close() {
	for _, m := range r.mounts {
		m.unmount()
	}
	if r.emu != nil {
		r.emu.Close()
	}
	for _, m := range r.mounts {
		if isMounted(m.dir) {
			fmt.Fprintf(r.cfg.log, "warning: %s is still mounted; not removing the scratch directory %s\n", m.dir, r.root)
			return
		}
	}
	if err := os.RemoveAll(r.root); err != nil {
		fmt.Fprintf(r.cfg.log, "warning: removing %s: %v\n", r.root, err)
	}
}

// vmPath is the VM's path of rel, a path in its home.
func (r *rig) vmPath(rel string) string { return emulator.HomeDir + "/" + rel }

// vm is a path in the VM's home, seen from this machine.
func (r *rig) vm(rel string) string { return filepath.Join(r.home, rel) }

// loc is a path in the local-disk area.
func (r *rig) loc(rel string) string { return filepath.Join(r.local, rel) }

// counts is a snapshot of the emulator's counters.
type counts struct {
	requests map[string]int64
	bytesOut int64
	bytesIn  int64
}

// total is every request counted.
func (c counts) total() int64 {
	var n int64
	for _, v := range c.requests {
		n += v
	}
	return n
}

// reset zeroes the emulator's counters.
func (r *rig) reset() { r.emu.ResetStats() }

// snapshot reads the emulator's counters.
func (r *rig) snapshot() counts {
	st := r.emu.Stats()
	return counts{requests: st.Requests, bytesOut: st.BytesOut, bytesIn: st.BytesIn}
}

// mountOpts are the knobs of one mount.
type mountOpts struct {
	cacheMiB int // --cache-size; 0 = the binary's default
	// agent mounts with --agent and waits until metadata goes through
	// the agent; without it the mount has --agent=false: the rows that
	// do not name the agent measure the run path.
	agent bool
}

// mount mounts the VM with the real binary on a fresh directory and
// resets the counters once it is up, so that the mount's own start-up
// calls are not counted.
func (r *rig) mount(ctx context.Context, o mountOpts) (*mount, error) {
	r.nMount++
	dir := filepath.Join(r.root, fmt.Sprintf("mnt%02d", r.nMount))
	cacheDir := filepath.Join(r.root, fmt.Sprintf("cache%02d", r.nMount))
	for _, d := range []string{dir, cacheDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, fmt.Errorf("mount: %w", err)
		}
	}
	r.reset()
	args := []string{"mount", "--foreground", "--cache-dir", cacheDir}
	if o.cacheMiB > 0 {
		args = append(args, "--cache-size", fmt.Sprint(o.cacheMiB))
	}
	args = append(args, fmt.Sprintf("--agent=%t", o.agent))
	args = append(args, r.emuOpts.VMID, dir)
	m, err := startMount(ctx, r.cfg.bin, args, dir, r.mountEnv(), filepath.Join(r.root, fmt.Sprintf("mount%02d.log", r.nMount)))
	if m != nil {
		r.mounts = append(r.mounts, m)
	}
	if err != nil {
		return nil, err
	}
	if o.agent {
		if err := m.waitAgent(ctx); err != nil {
			return nil, err
		}
		if err := r.waitFeed(ctx, m); err != nil {
			return nil, err
		}
	}
	r.reset()
	return m, nil
}

// waitFeed waits until the mount's change feed is in its steady state:
// the agent's hello, the feed's first request (answered at once) and its
// long poll have reached the VM's ingress (counted since the mount
// started). The long poll is then outstanding, and the rows count only
// what their work makes.
func (r *rig) waitFeed(ctx context.Context, m *mount) error {
	ctx, cancel := context.WithTimeout(ctx, mountWait)
	defer cancel()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for r.emu.Stats().Requests[emulator.EndpointIngress] < 3 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("the mount's change feed did not start within %v: %s", mountWait, m.logTail())
		case <-m.done:
			return fmt.Errorf("arkerfs mount exited (%v): %s", m.err, m.logTail())
		case <-tick.C:
		}
	}
	return nil
}

// mountEnv is the environment of the mount process: ours with the
// emulator's endpoint and key.
func (r *rig) mountEnv() []string {
	env := []string{"ARKER_BASE_URL=" + r.url, "ARKER_API_KEY=" + r.token}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ARKER_") && !strings.HasPrefix(kv, "AUTH_KEY=") {
			env = append(env, kv)
		}
	}
	return env
}

// sh runs a shell script with dir as its working directory; args are
// its positional parameters ($1…), so that paths never become script
// text. It returns how long the script took and its output.
func sh(ctx context.Context, dir, script string, args []string, env ...string) (time.Duration, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", append([]string{"-c", script, "sh"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out := &tailBuffer{max: 16 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return d, out.String(), fmt.Errorf("%s %q (in %s): %w: %s", script, args, dir, err, out.String())
	}
	return d, out.String(), nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

// haveTools reports the first of names that is not installed.
func haveTools(names ...string) error {
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			return fmt.Errorf("%s is not installed (make deps installs it)", n)
		}
	}
	return nil
}

// errSkip marks a workload that could not run here, with the reason.
type errSkip struct{ why string }

func (e errSkip) Error() string { return "skipped: " + e.why }

func skip(err error) error { return errSkip{err.Error()} }

func isSkip(err error) (string, bool) {
	var s errSkip
	if errors.As(err, &s) {
		return s.why, true
	}
	return "", false
}
