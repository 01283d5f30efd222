package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// The limits: the same bytes moved over the same link by plain curl,
// against the same emulator, at the same latency.

// syncURL is the VM's sync endpoint.
func (r *rig) syncURL() string { return r.url + wire.PathVM + "local" + wire.SuffixSync }

// syncPost posts body as JSON to the sync endpoint and decodes the answer
// into out.
func (r *rig) syncPost(ctx context.Context, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.syncURL(), bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set(wire.HeaderAuthorization, "Bearer "+r.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("sync request: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e wire.ErrorBody
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return fmt.Errorf("sync request: HTTP %d: %s: %s", resp.StatusCode, e.Code, e.Message)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// curlDownload times `curl -o /dev/null` of the presigned URL a sync read
// of rel hands out, best of two.
func (r *rig) curlDownload(ctx context.Context, rel string) (time.Duration, string, error) {
	if err := haveTools("curl"); err != nil {
		return 0, "", err
	}
	var best time.Duration
	for try := 0; try < 2; try++ {
		var rd wire.SyncReadResponse
		if err := r.syncPost(ctx, wire.SyncReadRequest{Path: wire.HomeDir + "/" + rel}, &rd); err != nil {
			return 0, "", err
		}
		if rd.PresignedURL == "" {
			return 0, "", fmt.Errorf("sync read of %s answered inline, not with a presigned URL", rel)
		}
		d, out, err := timeCmd(ctx, "curl", "-sS", "-f", "-o", "/dev/null", "-w", "%{size_download}", rd.PresignedURL)
		if err != nil {
			return 0, "", err
		}
		if strings.TrimSpace(out) != fmt.Sprint(rd.Size) {
			return 0, "", fmt.Errorf("curl fetched %s bytes of %d", out, rd.Size)
		}
		if best == 0 || d < best {
			best = d
		}
	}
	return best, "curl -o /dev/null of the presigned URL (one GET, one stream), best of 2", nil
}

// uploadLimit is the curl upload limit and how it was reached.
type uploadLimit struct {
	best        time.Duration
	how         string
	seq, par    time.Duration // transfer + commit
	seqXfer     time.Duration // transfer only
	parXfer     time.Duration
	parts       int
	partSize    int64
	parallelism int
}

// curlUpload uploads the write benchmark's data to rel by presigned PUT
// of wire.PartSize parts, twice: one curl sending the parts one after
// another on one connection, and one curl sending them in parallel (as
// many at once as the client does). Each is followed by the commit, also
// sent by curl. The limit is the faster of the two.
func (r *rig) curlUpload(ctx context.Context, rel string) (uploadLimit, error) {
	lim := uploadLimit{partSize: wire.PartSize, parallelism: r.sz.PartParallel}
	if err := haveTools("curl"); err != nil {
		return lim, err
	}
	parts, sum, err := r.writeParts(ctx, wire.PartSize)
	if err != nil {
		return lim, err
	}
	lim.parts = len(parts)
	for _, parallel := range []bool{false, true} {
		xfer, total, err := r.curlUploadOnce(ctx, rel, parts, sum, parallel)
		if err != nil {
			return lim, err
		}
		if parallel {
			lim.par, lim.parXfer = total, xfer
		} else {
			lim.seq, lim.seqXfer = total, xfer
		}
		_ = os.Remove(r.vm(rel))
	}
	lim.best, lim.how = lim.seq, "curl -T, parts one after another"
	if lim.par < lim.best {
		lim.best, lim.how = lim.par, fmt.Sprintf("curl -Z -T, %d parts at once", lim.parallelism)
	}
	lim.how = fmt.Sprintf("%s (%d × %s parts, then the commit; the faster of sequential %.2fs and parallel %.2fs)",
		lim.how, lim.parts, mib(lim.partSize), lim.seq.Seconds(), lim.par.Seconds())
	return lim, nil
}

// curlUploadOnce presigns (untimed), then times the part PUTs and the
// commit.
func (r *rig) curlUploadOnce(ctx context.Context, rel string, parts []string, sum string, parallel bool) (xfer, total time.Duration, err error) {
	size := r.sz.BigFile
	id := fmt.Sprintf("bench-curl-%d", time.Now().UnixNano())
	path := wire.HomeDir + "/" + rel
	var pre wire.SyncWriteResponse
	err = r.syncPost(ctx, wire.SyncWriteRequest{Writes: []wire.SyncWriteEntry{{
		Type: wire.WritePresign, Path: path, UploadID: id, Size: &size, PartSize: wire.PartSize}}}, &pre)
	if err != nil {
		return 0, 0, err
	}
	if len(pre.Results) != 1 || pre.Results[0].Error != nil || len(pre.Results[0].Parts) != len(parts) {
		return 0, 0, fmt.Errorf("presign: unexpected answer %+v", pre.Results)
	}
	args := []string{"-sS", "-f", "-w", "%{http_code}\\n"}
	if parallel {
		args = append(args, "-Z", "--parallel-max", fmt.Sprint(r.sz.PartParallel))
	}
	for i, p := range pre.Results[0].Parts {
		args = append(args, "-T", parts[i], p.URL)
	}
	commit, hdr, err := r.commitFiles(path, id, size, sum)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	_, out, err := timeCmd(ctx, "curl", args...)
	if err != nil {
		return 0, 0, err
	}
	if codes := strings.Fields(out); len(codes) != len(parts) || strings.Count(out, "200") != len(parts) {
		return 0, 0, fmt.Errorf("curl part PUTs answered %q", out)
	}
	xfer = time.Since(start)
	_, out, err = timeCmd(ctx, "curl", "-sS", "-f", "-H", "@"+hdr, "--data-binary", "@"+commit, r.syncURL())
	total = time.Since(start)
	if err != nil {
		return 0, 0, err
	}
	var res wire.SyncWriteResponse
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Results) != 1 || !res.Results[0].Committed {
		return 0, 0, fmt.Errorf("commit by curl: %v: %s", err, out)
	}
	return xfer, total, nil
}

// commitFiles writes the commit request and the headers curl sends with
// it (the key stays off the command line).
func (r *rig) commitFiles(path, id string, size int64, sum string) (body, headers string, err error) {
	b, err := json.Marshal(wire.SyncWriteRequest{Writes: []wire.SyncWriteEntry{{
		Type: wire.WriteCommit, Path: path, UploadID: id, Size: &size, SHA256: sum}}})
	if err != nil {
		return "", "", err
	}
	body, headers = filepath.Join(r.root, "commit.json"), filepath.Join(r.root, "curl-headers")
	h := wire.HeaderAuthorization + ": Bearer " + r.token + "\nContent-Type: application/json\n"
	if err := os.WriteFile(body, b, 0o600); err != nil {
		return "", "", err
	}
	return body, headers, os.WriteFile(headers, []byte(h), 0o600)
}

// timeCmd runs a command and returns how long it took and its stdout.
func timeCmd(ctx context.Context, name string, args ...string) (time.Duration, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return d, out.String(), fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(errb.String()))
	}
	return d, out.String(), nil
}
