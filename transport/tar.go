package transport

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/arker-ai/arkerfs/wire"
)

// tarTempDir and tarTempPrefix place the archive of a tar upload that
// goes through chunk writes (as the SDKs do).
const tarTempDir, tarTempPrefix = "/tmp", ".arker-sync-"

// UploadTar unpacks an uncompressed tar archive (size bytes of src) into
// the directory dir on the VM, creating dir and its parents; entries keep
// their modes and mtimes. dir must be absolute, clean and valid UTF-8.
//
// Where the server has /sync-stream, the archive goes there with
// extract=tar (unpacked before the answer). Otherwise (404, remembered),
// or when the server refuses the size (413) or fails in a transient way,
// it goes by chunk writes to /tmp/.arker-sync-<ULID>.tar and one run
// unpacks it with tar -xpf and removes it, also when unpacking fails (the
// run's stderr is in the error). Entries that escape dir ("..", absolute
// names) are refused by the server's extraction; GNU tar strips a leading
// "/" and refuses ".." itself.
//
// Unpacking is not atomic: on failure some entries may be in place. When
// the answer to the stream request is lost, one manifest of dir tells
// whether every regular file of the archive landed (then UploadTar
// succeeds); otherwise the failure is CodeUnknownOutcome: the archive may
// have been partly unpacked, and unpacking it again would overwrite
// whatever changed since, so the caller decides.
func (c *Client) UploadTar(ctx context.Context, dir string, src io.ReaderAt, size int64) error {
	if !path.IsAbs(dir) || path.Clean(dir) != dir || dir == "/" || !utf8.ValidString(dir) || strings.IndexByte(dir, 0) >= 0 {
		return &Error{Code: CodeInvalid, Op: "upload tar", Path: dir, Message: "want an absolute, clean, valid UTF-8 directory other than /"}
	}
	if size < 0 || src == nil && size > 0 {
		return &Error{Code: CodeInvalid, Op: "upload tar", Path: dir, Message: "bad archive size or source"}
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(src, 0, size)); err != nil {
		return &Error{Code: CodeIO, Op: "upload tar", Path: dir, Message: "reading the archive", Err: err}
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if c.mayStream(size) {
		_, err := c.stream(ctx, "upload tar", dir, src, size, sum, wire.ExtractTar)
		if CodeOf(err) == CodeUnknownOutcome && c.tarLanded(ctx, dir, src, size) {
			c.debugf("upload tar %q: the answer was lost, but the manifest shows every file in place", dir)
			return nil
		}
		if err == nil || !fallBack(err) || CodeOf(err) == CodeUnknownOutcome {
			return err
		}
		c.debugf("upload tar %q: unpacking with a run instead of a stream: %v", dir, err)
	}
	return c.untarByRun(ctx, dir, src, size, sum)
}

// untarByRun uploads the archive by chunk writes and unpacks it with a run.
func (c *Client) untarByRun(ctx context.Context, dir string, src io.ReaderAt, size int64, sum string) error {
	id := newULID()
	f := &upload{Upload: Upload{Path: dir, Size: size, Source: src}, uploadID: id, sum: sum,
		tmp: tarTempDir + "/" + tarTempPrefix + id + ".tar"}
	c.writeChunks(ctx, []*upload{f})
	if f.err != nil {
		return f.err
	}
	cmd := fmt.Sprintf("mkdir -p -- %[1]s && tar -xpf %[2]s -C %[1]s; s=$?; rm -f -- %[2]s; exit $s",
		shellQuote(dir), shellQuote(f.tmp))
	r, err := c.Run(ctx, cmd, RunOptions{Timeout: untarTimeout(size)})
	if err != nil {
		return err
	}
	if r.ExitCode != 0 {
		return &Error{Code: CodeIO, Op: "upload tar", Path: dir,
			Message: fmt.Sprintf("tar extract failed (exit %d): %s", r.ExitCode, excerpt(r.Stderr))}
	}
	return nil
}

// untarTimeout is the time limit of unpacking size bytes: a minute, and
// a second for every 8 MiB.
func untarTimeout(size int64) time.Duration {
	return time.Minute + time.Duration(size/(8<<20))*time.Second
}

// shellQuote is s as one single-quoted POSIX shell word: each single
// quote in s ends the quoted string, is escaped, and starts a new one.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
