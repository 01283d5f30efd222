package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/arker-ai/arkerfs/wire"
)

// The limits: the same bytes moved over the same link by plain curl,
// against the same emulator, at the same latency, as the published API
// allows them (docs/PROTOCOL.md): a download is one GET of the presigned
// URL a sync read hands out; an upload is one raw POST to /sync-stream
// where the lineage has it (B), otherwise the chunk-write requests the
// client sends (A). The key goes in a header file, never on a command
// line.

// curlTries is how many times each limit is measured; the best counts.
const curlTries = 2

// vmURL is the URL of the VM's endpoint suffix (wire.SuffixSync, …).
func (r *rig) vmURL(suffix string) string {
	return r.url + wire.PathVMs + url.PathEscape(r.emuOpts.VMID) + suffix
}

// syncPost posts body as JSON to the sync endpoint and decodes the answer
// into out.
func (r *rig) syncPost(ctx context.Context, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.vmURL(wire.SuffixSync), bytes.NewReader(b))
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
		return fmt.Errorf("sync request: %s", apiError(resp))
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// apiError describes an error answer, in either envelope form.
func apiError(resp *http.Response) string {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	var env wire.ErrorEnvelope
	if err := json.Unmarshal(b, &env); err == nil && env.Error.Code != "" {
		return fmt.Sprintf("HTTP %d: %s: %s", resp.StatusCode, env.Error.Code, env.Error.Message)
	}
	return fmt.Sprintf("HTTP %d: %s", resp.StatusCode, oneLine(string(b)))
}

// curlDownload times `curl -o /dev/null` of the presigned URL a sync read
// of rel hands out, best of curlTries; the read itself is not timed.
func (r *rig) curlDownload(ctx context.Context, rel string) (time.Duration, string, error) {
	if err := haveTools("curl"); err != nil {
		return 0, "", err
	}
	var best time.Duration
	for try := 0; try < curlTries; try++ {
		var rd wire.SyncReadResponse
		if err := r.syncPost(ctx, wire.SyncReadRequest{Op: wire.OpRead, Path: r.vmPath(rel)}, &rd); err != nil {
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
	return best, fmt.Sprintf("curl -o /dev/null of the presigned URL a sync read hands out (one GET, one stream), best of %d", curlTries), nil
}

// uploadLimit is the curl upload limit and how it was reached.
type uploadLimit struct {
	best     time.Duration
	runs     []time.Duration // every timed upload, in order
	requests int             // HTTP requests of one upload
	how      string
}

// curlUpload uploads the write benchmark's bytes (the same as the
// seq-write row writes) to rel on the VM, curlTries times, each time with
// one curl invocation, and checks the VM's copy. Lineage B: one POST of
// the file to /sync-stream (`-T file -X POST`: curl streams the file;
// `--data-binary @file` would read it whole into memory first, and curl
// refuses files of 1 GiB or more that way). Lineage A: the chunk-write
// requests the client sends (requests of at most
// wire.ClientSyncRequestContent decoded bytes in chunks of
// wire.ChunkSize, one ULID upload_id), prepared beforehand as files
// (untimed) and sent one after the other on one connection (`--next`).
// Both carry the file's sha256, as the client's do, so the server checks
// it as it does for the client. What curl sends ends on the VM at rel;
// the client's install run (a rename) is not part of the limit.
func (r *rig) curlUpload(ctx context.Context, rel string) (uploadLimit, error) {
	var lim uploadLimit
	if err := haveTools("curl"); err != nil {
		return lim, err
	}
	src, sum, err := r.writeSource(ctx)
	if err != nil {
		return lim, err
	}
	size := r.sz.BigFile
	for try := 0; try < curlTries; try++ {
		var d time.Duration
		if r.cfg.api == wire.LineageB {
			d, err = r.curlStreamOnce(ctx, rel, src, sum)
			lim.requests = 1
		} else {
			d, lim.requests, err = r.curlChunksOnce(ctx, rel, src, sum)
		}
		if err != nil {
			return lim, err
		}
		fi, err := os.Stat(r.vm(rel))
		if err != nil || fi.Size() != size {
			return lim, fmt.Errorf("after curl's upload the VM has %s: %v (want %d bytes)", rel, err, size)
		}
		if err := os.Remove(r.vm(rel)); err != nil {
			return lim, err
		}
		lim.runs = append(lim.runs, d)
		if lim.best == 0 || d < lim.best {
			lim.best = d
		}
	}
	var runs []string
	for _, d := range lim.runs {
		runs = append(runs, secs(d.Seconds()))
	}
	if r.cfg.api == wire.LineageB {
		lim.how = fmt.Sprintf("one `curl -T file -X POST` of the %s to `%s?path=…&size=…&sha256=…` "+
			"(lineage B's raw upload, streamed from the file), best of %d: %s", mib(size), wire.SuffixSyncStream, curlTries, strings.Join(runs, ", "))
	} else {
		lim.how = fmt.Sprintf("one curl sending the %d `%s` chunk-write requests of the %s one after the other on one "+
			"connection (`--next`): each at most %s of content in %s chunks, base64 in JSON, one upload_id, the "+
			"requests prepared beforehand as files (lineage A has no raw upload), best of %d: %s",
			lim.requests, wire.SuffixSync, mib(size), mib(wire.ClientSyncRequestContent), mib(wire.ChunkSize),
			curlTries, strings.Join(runs, ", "))
	}
	return lim, nil
}

// curlStreamOnce times one curl POST of src to /sync-stream and checks
// the answer.
func (r *rig) curlStreamOnce(ctx context.Context, rel, src, sum string) (time.Duration, error) {
	size := r.sz.BigFile
	hdr, err := r.curlHeaders("application/octet-stream")
	if err != nil {
		return 0, err
	}
	q := url.Values{wire.QueryPath: {r.vmPath(rel)}, wire.QuerySize: {strconv.FormatInt(size, 10)}, wire.QuerySHA256: {sum}}
	resp := filepath.Join(r.root, "curl-stream-answer.json")
	d, out, err := timeCmd(ctx, "curl", "-sS", "-H", "@"+hdr, "-T", src, "-X", http.MethodPost,
		"-o", resp, "-w", "%{http_code}", r.vmURL(wire.SuffixSyncStream)+"?"+q.Encode())
	if err != nil {
		return 0, err
	}
	b, err := os.ReadFile(resp)
	if err != nil {
		return 0, err
	}
	_ = os.Remove(resp)
	var res wire.SyncStreamResponse
	if strings.TrimSpace(out) != "200" || json.Unmarshal(b, &res) != nil ||
		!res.OK || !res.Complete || res.Written == nil || !*res.Written || res.Size != size {
		return 0, fmt.Errorf("curl's POST to %s answered HTTP %s: %s", wire.SuffixSyncStream, strings.TrimSpace(out), oneLine(string(b)))
	}
	return d, nil
}

// curlChunksOnce writes the chunk-write requests of src to rel as files
// (untimed), times one curl sending them all, checks every answer and
// removes the files. It returns the time and the number of requests.
func (r *rig) curlChunksOnce(ctx context.Context, rel, src, sum string) (time.Duration, int, error) {
	hdr, err := r.curlHeaders("application/json")
	if err != nil {
		return 0, 0, err
	}
	dir, err := os.MkdirTemp(r.root, "curl-chunks-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	reqs, err := r.chunkRequests(ctx, dir, rel, src, sum)
	if err != nil {
		return 0, 0, err
	}
	var args []string
	for i, rq := range reqs {
		if i > 0 {
			args = append(args, "--next")
		}
		args = append(args, "-sS", "-H", "@"+hdr, "--data-binary", "@"+rq.body,
			"-o", rq.answer, "-w", "%{http_code}\\n", r.vmURL(wire.SuffixSync))
	}
	d, out, err := timeCmd(ctx, "curl", args...)
	if err != nil {
		return 0, 0, err
	}
	codes := strings.Fields(out)
	if len(codes) != len(reqs) {
		return 0, 0, fmt.Errorf("curl made %d of the %d chunk-write requests: %q", len(codes), len(reqs), out)
	}
	for i, rq := range reqs {
		if err := rq.check(codes[i], i == len(reqs)-1); err != nil {
			return 0, 0, err
		}
	}
	return d, len(reqs), nil
}

// chunkRequest is one prepared chunk-write request: its body file, the
// file its answer goes to, and the chunks it carries.
type chunkRequest struct {
	body, answer string
	chunks       []wire.ByteRange
	size         int64
}

// chunkRequests cuts src (r.sz.BigFile bytes) into chunks of
// wire.ChunkSize under one fresh ULID upload_id and writes them, as the
// client packs them, into request files of at most
// wire.ClientSyncRequestContent decoded bytes in dir.
func (r *rig) chunkRequests(ctx context.Context, dir, rel, src, sum string) ([]chunkRequest, error) {
	f, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size, id := r.sz.BigFile, ulid.Make().String()
	perReq := int64(wire.ClientSyncRequestContent / wire.ChunkSize)
	var reqs []chunkRequest
	buf := make([]byte, wire.ChunkSize)
	for off := int64(0); off < size; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := len(reqs)
		rq := chunkRequest{body: filepath.Join(dir, fmt.Sprintf("req%05d.json", n)),
			answer: filepath.Join(dir, fmt.Sprintf("answer%05d.json", n)), size: size}
		body := wire.SyncWriteRequest{Op: wire.OpWrite}
		for k := int64(0); k < perReq && off < size; k++ {
			end := min(off+wire.ChunkSize, size)
			if _, err := f.ReadAt(buf[:end-off], off); err != nil {
				return nil, fmt.Errorf("reading %s: %w", src, err)
			}
			body.Writes = append(body.Writes, wire.SyncChunkWrite{Path: r.vmPath(rel), Size: size, UploadID: id,
				Content: base64.StdEncoding.EncodeToString(buf[:end-off]), Start: off, End: end, SHA256: &sum})
			rq.chunks = append(rq.chunks, wire.ByteRange{Start: off, End: end})
			off = end
		}
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(rq.body, b, 0o600); err != nil {
			return nil, err
		}
		reqs = append(reqs, rq)
	}
	return reqs, nil
}

// check reads the request's answer, whose HTTP status curl printed as
// code: every chunk accepted, and when last, the file complete and
// written.
func (rq chunkRequest) check(code string, last bool) error {
	b, err := os.ReadFile(rq.answer)
	if err != nil {
		return err
	}
	if code != "200" {
		return fmt.Errorf("curl's chunk write %s answered HTTP %s: %s", filepath.Base(rq.body), code, oneLine(string(b)))
	}
	var res wire.SyncWriteResponse
	if err := json.Unmarshal(b, &res); err != nil || !res.OK || len(res.Results) != len(rq.chunks) {
		return fmt.Errorf("curl's chunk write %s: unexpected answer (%v): %s", filepath.Base(rq.body), err, oneLine(string(b)))
	}
	for k, e := range res.Results {
		if e.Error != nil {
			return fmt.Errorf("curl's chunk write [%d, %d): %s: %s", rq.chunks[k].Start, rq.chunks[k].End, e.Error.Code, e.Error.Message)
		}
		if e.Size != rq.size {
			return fmt.Errorf("curl's chunk write [%d, %d): a result for %d bytes, not %d", rq.chunks[k].Start, rq.chunks[k].End, e.Size, rq.size)
		}
	}
	if l := res.Results[len(res.Results)-1]; last && !(l.Complete && l.Written) {
		return fmt.Errorf("curl's chunk writes did not complete the file: %d of %d bytes received, complete %v, written %v",
			l.ReceivedBytes, l.Size, l.Complete, l.Written)
	}
	return nil
}

// curlHeaders writes the headers curl sends to the API, with the given
// Content-Type, to a file of the rig and returns its path: the key stays
// off the command line. "Expect:" keeps curl from waiting for a
// 100 Continue before a large body, which the client does not do either.
func (r *rig) curlHeaders(contentType string) (string, error) {
	path := filepath.Join(r.root, "curl-headers-"+strings.ReplaceAll(contentType, "/", "-"))
	h := wire.HeaderAuthorization + ": Bearer " + r.token + "\nContent-Type: " + contentType + "\nExpect:\n"
	return path, os.WriteFile(path, []byte(h), 0o600)
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
