package agentclient

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/arker-ai/arkerfs/agent/proto"
	"github.com/arker-ai/arkerfs/transport"
)

// Options configure Install.
type Options struct {
	// Root is the mounted VM directory; the agent serves the mount only
	// paths in it.
	Root string
	// Version is this binary's version: the agent on the VM must be the
	// same build (its path on the VM is versioned).
	Version string
	// Binary returns the path of a local static build of arkerfs for
	// linux/arch ("amd64", "arm64"); nil means DefaultBinary.
	Binary func(arch string) (string, error)
	// Listen is the agent's listen address on the VM. Default ":0": any
	// free port, on every interface the VM's ingress may come from.
	Listen string
	// Dial, when set, is the address connected to for the VM's hostname
	// (the emulator serves ingress on its own listen address); else DNS.
	Dial string
	// StartTimeout bounds the wait for a started agent to say its port.
	// Default 30s.
	StartTimeout time.Duration
	// StateDir is the agent's directory on the VM, absolute; "" means
	// ~/.cache/arkerfs/agent, the VM user's cache directory.
	StateDir string
}

// DefaultBinary is this executable when it runs on linux/arch, else a
// build for linux/arch beside it: "arkerfs-VERSION-linux-ARCH" as a
// release names it (version is this build's), or "arkerfs-linux-ARCH" as
// make build names it.
func DefaultBinary(version, arch string) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("locating this executable: %w", err)
	}
	if runtime.GOOS == "linux" && runtime.GOARCH == arch {
		return exe, nil
	}
	var tried []string
	for _, name := range []string{"arkerfs-" + version + "-linux-" + arch, "arkerfs-linux-" + arch} {
		p := filepath.Join(filepath.Dir(exe), name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
		tried = append(tried, p)
	}
	return "", fmt.Errorf("no agent build for linux/%s (looked for %s)", arch, strings.Join(tried, " and "))
}

// stateDir is the agent's directory below the VM user's home.
const stateDir = ".cache/arkerfs/agent"

// safeVersion is what a version may look like to name a directory.
var safeVersion = regexp.MustCompile(`^[A-Za-z0-9._+-]{1,64}$`)

// Install makes the agent serve this mount: it learns the VM's arch and
// home and whether an agent of this version runs there (one run), uploads
// the matching build when the VM lacks it, writes the mount's id and
// secret through the sync API, starts the agent in a session of its own
// unless one runs already, and connects to it through the VM's inbound
// hostname. Any failure is returned; the mount then keeps to runs.
func Install(ctx context.Context, c *transport.Client, o Options) (*Conn, error) {
	if o.Binary == nil {
		o.Binary = func(arch string) (string, error) { return DefaultBinary(o.Version, arch) }
	}
	if o.Listen == "" {
		o.Listen = ":0"
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 30 * time.Second
	}
	if !safeVersion.MatchString(o.Version) {
		return nil, fmt.Errorf("agent: version %q cannot name its directory", o.Version)
	}
	vm, err := c.DescribeVM(ctx)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if vm.Hostname == "" {
		return nil, errors.New("agent: the VM has no inbound hostname")
	}
	if o.StateDir != "" && !strings.HasPrefix(o.StateDir, "/") {
		return nil, fmt.Errorf("agent: state directory %q is not absolute", o.StateDir)
	}
	p, err := probe(ctx, c, o.Version, o.StateDir)
	if err != nil {
		return nil, err
	}
	dir := o.StateDir
	if dir == "" {
		dir = p.home + "/" + stateDir
	}
	bin := dir + "/" + o.Version + "/arkerfs"
	if !p.present {
		if err := upload(ctx, c, o, p.arch, bin); err != nil {
			return nil, err
		}
	}
	mount, secret, err := writeMountFile(ctx, c, dir, o.Root)
	if err != nil {
		return nil, err
	}
	base, _ := url.Parse(c.Config().BaseURL)
	scheme := "https"
	if base != nil && base.Scheme == "http" {
		scheme = "http"
	}
	connect := func(port int) (*Conn, error) {
		conn := newConn(scheme+"://"+portHost(vm.Hostname, port), o.Dial, c.Config().APIKey, mount, secret)
		h, err := conn.Hello(ctx)
		if err != nil {
			return nil, err
		}
		if h.Version != o.Version || h.Protocol != proto.Version || string(h.Root) != o.Root {
			return nil, fmt.Errorf("agent: %s serves version %s, protocol %d, root %q", conn.base, h.Version, h.Protocol, h.Root)
		}
		return conn, nil
	}
	if p.state != nil && p.state.Version == o.Version {
		if conn, err := connect(p.state.Port); err == nil {
			return conn, nil // an agent of this build runs already
		}
	}
	st, err := start(ctx, c, o, bin, dir)
	if err != nil {
		return nil, err
	}
	return connect(st.Port)
}

// probed is what the first run learnt.
type probed struct {
	arch, home string
	present    bool         // the build of this version is there
	state      *proto.State // the running agent's state file, if any
}

// probe learns the VM's arch and home, makes the agent's directories (in
// dir, "" for the default below the home), and reads whether this
// version's build is there and an agent's state.
func probe(ctx context.Context, c *transport.Client, version, dir string) (*probed, error) {
	d := `"$HOME/` + stateDir + `"`
	if dir != "" {
		d = shellQuote(dir)
	}
	cmd := `set -e
d=` + d + `
mkdir -p "$d/mounts" "$d/` + version + `"
chmod 700 "$d" "$d/mounts"
printf 'arch=%s\n' "$(uname -m)"
printf 'home=%s\n' "$HOME"
if [ -x "$d/` + version + `/arkerfs" ]; then echo present=1; fi
if [ -f "$d/agent.json" ]; then printf 'state=%s\n' "$(head -c 4096 "$d/agent.json" | tr -d '\n')"; fi
`
	r, err := c.Run(ctx, cmd, transport.RunOptions{Timeout: 30 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("agent: probing the VM: %w", err)
	}
	if r.ExitCode != 0 {
		return nil, fmt.Errorf("agent: probing the VM: exit status %d: %s", r.ExitCode, bytes.TrimSpace(r.Stderr))
	}
	p := &probed{}
	sc := bufio.NewScanner(bytes.NewReader(r.Stdout))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case "arch":
			p.arch = goArch(v)
		case "home":
			p.home = v
		case "present":
			p.present = true
		case "state":
			var st proto.State
			if json.Unmarshal([]byte(v), &st) == nil && st.Port > 0 {
				p.state = &st
			}
		}
	}
	switch {
	case p.arch == "":
		return nil, errors.New("agent: the VM's machine type is not one arkerfs builds for")
	case !strings.HasPrefix(p.home, "/"):
		return nil, fmt.Errorf("agent: the VM user's home %q is not an absolute path", p.home)
	}
	return p, nil
}

// goArch maps uname -m to Go's architecture names; "" for others.
func goArch(m string) string {
	switch m {
	case "x86_64", "amd64":
		return "amd64"
	case "aarch64", "arm64":
		return "arm64"
	}
	return ""
}

// upload puts the build for arch at bin on the VM, executable.
func upload(ctx context.Context, c *transport.Client, o Options, arch, bin string) error {
	local, err := o.Binary(arch)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	f, err := os.Open(local)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	mode := uint32(0o700)
	res := c.Upload(ctx, []transport.Upload{{Path: bin, Size: fi.Size(), Mode: &mode, Source: f}})
	if err := res[0].Err; err != nil {
		return fmt.Errorf("agent: uploading %s: %w", local, err)
	}
	return nil
}

// writeMountFile writes a new id and secret for this mount in the agent's
// directory, readable by the VM user alone, through the sync API (never
// on a command line).
func writeMountFile(ctx context.Context, c *transport.Client, dir, root string) (mount, secret string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("agent: %w", err)
	}
	mount, secret = ulid.Make().String(), hex.EncodeToString(b)
	body, err := json.Marshal(proto.MountFile{Secret: secret, Root: []byte(root)})
	if err != nil {
		return "", "", fmt.Errorf("agent: %w", err)
	}
	mode := uint32(0o600)
	res := c.Upload(ctx, []transport.Upload{{Path: dir + "/mounts/" + mount, Size: int64(len(body)), Mode: &mode, Source: bytes.NewReader(body)}})
	if err := res[0].Err; err != nil {
		return "", "", fmt.Errorf("agent: writing the mount's secret: %w", err)
	}
	return mount, secret, nil
}

// start runs the agent in a session of its own and waits for the line
// with its state (or, when another agent of the directory runs, that
// one's).
func start(ctx context.Context, c *transport.Client, o Options, bin, dir string) (*proto.State, error) {
	cmd := "exec " + shellQuote(bin) + " agent --state " + shellQuote(dir) + " --listen " + shellQuote(o.Listen)
	id, err := c.StartBackground(ctx, cmd)
	if err != nil {
		return nil, fmt.Errorf("agent: starting it: %w", err)
	}
	deadline := time.Now().Add(o.StartTimeout)
	wait := 20 * time.Millisecond
	for {
		out, errOut, running, err := c.RunOutput(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("agent: following its start: %w", err)
		}
		if st := stateLine(out); st != nil {
			return st, nil
		}
		if !running {
			return nil, fmt.Errorf("agent: it ended at start: %s", bytes.TrimSpace(errOut[:min(len(errOut), 300)]))
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("agent: no port after %v", o.StartTimeout)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("agent: %w", ctx.Err())
		case <-t.C:
		}
		wait = min(wait*2, 500*time.Millisecond)
	}
}

// stateLine finds the agent's state line in its output.
func stateLine(out []byte) *proto.State {
	for _, line := range bytes.Split(out, []byte("\n")) {
		var st proto.State
		if json.Unmarshal(bytes.TrimSpace(line), &st) == nil && st.Port > 0 {
			return &st
		}
	}
	return nil
}

// portHost is the VM's inbound hostname for port: "-PORT" before the
// first dot (ARKER-API.md §2.8).
func portHost(hostname string, port int) string {
	name, rest, _ := strings.Cut(hostname, ".")
	if rest == "" {
		return name + "-" + strconv.Itoa(port)
	}
	return name + "-" + strconv.Itoa(port) + "." + rest
}

// shellQuote quotes s as one sh word.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
