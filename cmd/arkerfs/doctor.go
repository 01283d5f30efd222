package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"path"
	"time"

	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/wire"
)

// doctorProbeSize is the size of the file doctor writes when it is given
// none to try a presigned read on: large enough that a service answers it
// by presigned URL rather than inline (the threshold is not published).
const doctorProbeSize = 8 << 20

// runDoctor tells a user, in a few lines, what the service offers and
// what arkerfs will use: the API lineage, /sync-stream, sessions, Range on
// presigned reads, and how long an API call and a run take.
func runDoctor(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var a apiFlags
	a.register(fl)
	file := fl.String("file", "", "a file on the VM of several MiB to try a presigned read on (default: write one in /tmp and remove it)")
	pos, err := parseInterleaved(fl, args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "usage: arkerfs doctor [flags] VM")
		return 2
	}
	cfg, sets, err := a.resolve(pos[0])
	if err != nil {
		return fail(stderr, "%v", err)
	}
	client, err := a.client(cfg, stderr)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	start := time.Now()
	vm, err := client.DescribeVM(ctx)
	if err != nil {
		return fail(stderr, "%v", sets.explainErr(err, pos[0]))
	}
	apiTime := time.Since(start)
	endpoint, _ := cfg.Endpoint()
	fmt.Fprintf(stdout, "VM:          %s (%s), %s, at %s\n", vm.ID, orNone(vm.Name), vm.State, endpoint)

	probe := *file
	if probe == "" {
		if probe, err = writeProbeFile(ctx, client); err != nil {
			fmt.Fprintf(stdout, "writes:      FAILED: %v\n", err)
		}
	}
	start = time.Now()
	caps, err := client.Probe(ctx, probe)
	if err != nil {
		return fail(stderr, "%v", sets.explainErr(err, pos[0]))
	}
	probeTime := time.Since(start)
	if *file == "" && probe != "" {
		if err := client.Unlink(ctx, probe); err != nil {
			fmt.Fprintf(stdout, "cleanup:     could not remove %s: %v\n", probe, err)
		}
	}
	printCapabilities(stdout, client.Config(), caps)
	fmt.Fprintf(stdout, "timing:      an API call %v; the probes %v\n", apiTime.Round(time.Millisecond), probeTime.Round(time.Millisecond))
	for _, p := range caps.Problems {
		fmt.Fprintf(stdout, "problem:     %s\n", p)
	}
	if len(caps.Problems) > 0 {
		return 1
	}
	return 0
}

// writeProbeFile uploads doctorProbeSize zero bytes to a fresh name in
// /tmp on the VM and returns that name.
func writeProbeFile(ctx context.Context, c *transport.Client) (string, error) {
	p := path.Join("/tmp", fmt.Sprintf(".arkerfs-doctor-%d", time.Now().UnixNano()))
	res := c.Upload(ctx, []transport.Upload{{Path: p, Size: doctorProbeSize, Source: bytes.NewReader(make([]byte, doctorProbeSize))}})
	if res[0].Err != nil {
		return "", res[0].Err
	}
	return p, nil
}

// printCapabilities says what the service offers and what arkerfs does
// with it, one line each. cfg is the client's, defaults filled in.
func printCapabilities(w io.Writer, cfg transport.Config, caps *transport.Capabilities) {
	switch caps.Lineage {
	case wire.LineageA:
		fmt.Fprintln(w, "API:         typed error envelopes (lineage A)")
	case wire.LineageB:
		fmt.Fprintln(w, "API:         flat error envelopes (lineage B)")
	default:
		fmt.Fprintln(w, "API:         error form not recognised; both forms are read")
	}
	if caps.SyncStream {
		fmt.Fprintln(w, "sync-stream: offered: large files go as raw uploads, trees as one tar extracted by the service")
	} else {
		fmt.Fprintln(w, "sync-stream: not offered: files go as 4 MiB chunk writes, trees as a chunked tar extracted by a run")
	}
	base, n := cfg.SessionBase, cfg.Sessions
	if caps.Sessions {
		fmt.Fprintf(w, "sessions:    arkerfs runs in its own sessions (session_idx %d–%d); the default session 0 is never used\n", base, base+n-1)
	} else {
		fmt.Fprintln(w, "sessions:    FAILED: a run in arkerfs's own session did not work (see the problem below)")
	}
	switch caps.Range {
	case transport.RangeHonoured:
		fmt.Fprintln(w, "range:       presigned reads honour Range: reads fetch only what is read")
	case transport.RangeIgnored:
		fmt.Fprintln(w, "range:       presigned reads ignore Range: a file read in part is fetched whole, once")
	default:
		fmt.Fprintln(w, "range:       not tried (no presigned file): arkerfs finds out on the first large read")
	}
}

// orNone is s, or "no name".
func orNone(s string) string {
	if s == "" {
		return "no name"
	}
	return s
}
