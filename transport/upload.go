package transport

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"path"
	"strconv"
	"unicode/utf8"

	"github.com/arker-ai/arkerfs/transport/helper"
	"github.com/arker-ai/arkerfs/wire"
)

// Upload is one file to write whole on the VM: Size bytes read from Source
// at offsets 0..Size. Mode nil keeps an existing file's mode (0644 for a
// new one). Source must hold the same bytes until Upload returns.
type Upload struct {
	Path   string // absolute, clean, any bytes but NUL
	Size   int64
	Mode   *uint32 // permission bits (07777 at most), or nil
	Source io.ReaderAt
	// KeepXattrs carries the user xattrs of the file replaced over to the
	// new content (the upload puts a new file in its place).
	KeepXattrs bool
	// Spans, when not nil, are the only parts of Source that may hold
	// other bytes than zeros ({offset, length}, in order): an upload
	// through the agent sends them alone (a sparse file's holes do not
	// travel). The sync API is sent every byte.
	Spans [][2]int64
}

// UploadResult is the outcome of one Upload; Err is nil on success. Size,
// MtimeNs, Ino and Attr are the target's attributes right after it was put
// in place.
type UploadResult struct {
	Path    string
	Size    int64
	SHA256  string // lowercase hex of the content written
	MtimeNs int64
	Ino     uint64
	Attr    *Attr
	Err     error
}

// tempPrefix and tempSuffix frame the temporary name of an upload.
const tempPrefix, tempSuffix = ".arkerfs-", ".tmp"

// TempPrefix begins the name of every temporary file the client makes on
// the VM next to the file it is for.
const TempPrefix = tempPrefix

// upload is one file on its way: the Upload, its temporary name and
// upload_id, and its digest.
type upload struct {
	Upload
	i        int    // index in the caller's slice
	tmp      string // the temporary VM path the bytes go to
	uploadID string // a ULID, for the chunk writes of tmp
	sum      string // sha256 of the content, lowercase hex
	err      error  // the first failure; the file goes no further
}

// Upload writes files whole and returns one result per file, in order; a
// file's failure does not fail the others. Each file goes to a temporary
// name beside its target (".arkerfs-<ULID>.tmp", valid UTF-8 whatever the
// target's name; in the nearest ancestor directory with a UTF-8 path when
// the target's own is not), then one run of the helper's install op for
// every file that arrived renames each over its target with its mode, and
// answers the target's attributes: VM readers see the old file or the new
// one, never a mix.
//
// The bytes go as chunk writes (at most wire.ChunkSize a chunk, one ULID
// upload_id per file, the file's sha256 on each chunk), packed several
// chunks and files to a request up to wire.ClientSyncRequestContent
// decoded bytes; chunk writes are safe to repeat and are retried. A file
// larger than a chunk goes through /sync-stream (exact size and sha256)
// when the server has the route; a 404 (remembered: the route is absent),
// a 413 (remembered: bodies this large are refused), a transient failure
// or an unknown outcome sends it as chunks instead.
//
// Upload does not leave a temporary file behind when the install runs;
// it may when a failure stops it before (the name says what it is). A
// repeated Upload of the same file is harmless: it writes a new
// temporary file and installs it again.
func (c *Client) Upload(ctx context.Context, ups []Upload) []UploadResult {
	res := make([]UploadResult, len(ups))
	var files []*upload
	for i, u := range ups {
		res[i].Path = u.Path
		f, err := c.prepare(u, i)
		if err != nil {
			res[i].Err = err
			continue
		}
		files = append(files, f)
	}
	var chunked []*upload
	for _, f := range files {
		if f.Size > wire.ChunkSize && c.mayStream(f.Size) {
			if c.streamFile(ctx, f) {
				continue
			}
		}
		if f.err == nil {
			chunked = append(chunked, f)
		}
	}
	c.writeChunks(ctx, chunked)
	c.install(ctx, files, res)
	return res
}

// prepare checks u, hashes its content and names its temporary file.
func (c *Client) prepare(u Upload, i int) (*upload, error) {
	fail := func(msg string, err error) error {
		return &Error{Code: CodeInvalid, Op: "upload", Path: u.Path, Message: msg, Err: err}
	}
	switch {
	case u.Size < 0:
		return nil, fail("negative size", nil)
	case u.Source == nil && u.Size > 0:
		return nil, fail("no source", nil)
	case u.Mode != nil && *u.Mode&^07777 != 0:
		return nil, fail("mode has bits beyond 07777", nil)
	}
	id := newULID()
	f := &upload{Upload: u, i: i, uploadID: id, tmp: path.Join(utf8Dir(path.Dir(u.Path)), tempPrefix+id+tempSuffix)}
	if err := helper.Validate(installOp(f)); err != nil {
		return nil, opError(MetaOp{Kind: helper.OpInstall, Path: u.Path}, err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(u.Source, 0, u.Size)); err != nil {
		return nil, &Error{Code: CodeIO, Op: "upload", Path: u.Path, Message: "reading the source", Err: err}
	}
	f.sum = hex.EncodeToString(h.Sum(nil))
	return f, nil
}

// utf8Dir is dir, or its nearest ancestor whose path is valid UTF-8.
func utf8Dir(dir string) string {
	for !utf8.ValidString(dir) {
		dir = path.Dir(dir)
	}
	return dir
}

// installOp is the helper op that puts f in place.
func installOp(f *upload) MetaOp {
	op := MetaOp{Kind: helper.OpInstall, Path: f.Path, Path2: f.tmp, KeepMode: f.Mode == nil, KeepXattrs: f.KeepXattrs}
	if f.Mode != nil {
		op.Mode = *f.Mode
	}
	return op
}

// install puts every file that arrived in place with one helper run (or
// as few as the command size allows), and fills in all the results.
func (c *Client) install(ctx context.Context, files []*upload, res []UploadResult) {
	c.explainRefusals(ctx, files)
	var ops []MetaOp
	var sent []*upload
	for _, f := range files {
		if f.err != nil {
			res[f.i].Err = f.err
			continue
		}
		ops = append(ops, installOp(f))
		sent = append(sent, f)
	}
	if len(ops) == 0 {
		return
	}
	mr, _ := c.Meta(ctx, ops...)
	for k, f := range sent {
		r := &res[f.i]
		if mr[k].Err != nil {
			r.Err = mr[k].Err
			continue
		}
		a := mr[k].Attr
		r.Size, r.SHA256, r.MtimeNs, r.Ino, r.Attr = a.Size, f.sum, a.MtimeNs, a.Ino, a
	}
}

// explainRefusals gives refused uploads a file-system reason. The write
// API refuses a file whose directory is missing or is not a directory with
// a bare bad_request or not_found (it has no errno); one helper run stats
// the directories of all such files, and a missing directory becomes
// CodeNotFound, a file in the way CodeNotDir, an unreadable one
// CodePermission. Other failures keep their error.
func (c *Client) explainRefusals(ctx context.Context, files []*upload) {
	var ops []MetaOp
	var refused []*upload
	for _, f := range files {
		switch CodeOf(f.err) {
		case CodeBadRequest, CodeNotFound, CodeForbidden:
			ops = append(ops, MetaOp{Kind: helper.OpStat, Path: path.Dir(f.Path)})
			refused = append(refused, f)
		}
	}
	if len(ops) == 0 {
		return
	}
	mr, err := c.Meta(ctx, ops...)
	if err != nil {
		return // the refusal stands as the server gave it
	}
	for k, f := range refused {
		code := CodeOf(mr[k].Err)
		switch {
		case mr[k].Err == nil && mr[k].Attr != nil && mr[k].Attr.Type != helper.TypeDir:
			code = CodeNotDir
		case code == CodeNotFound, code == CodeNotDir, code == CodePermission:
		default:
			continue
		}
		f.err = &Error{Code: code, Op: "upload", Path: f.Path,
			Message: "the directory " + strconv.Quote(path.Dir(f.Path)) + " cannot hold it", Err: f.err}
	}
}
