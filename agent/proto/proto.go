// Package proto is the wire format of the arkerfs agent's protocol
// (docs/AGENT.md): the JSON bodies the client sends and the agent answers,
// and their conversion from and to the metadata helper's types, so both
// ends speak of operations exactly as package helper defines them. File
// names, symlink targets and xattr names and values are any bytes, so they
// travel as base64 ([]byte fields), never as JSON strings.
package proto

import (
	"github.com/arker-ai/arkerfs/transport/helper"
)

// Version is the protocol's version, in Hello and in the path of every
// request (/v1/...). A change to any body below makes a new version.
const Version = 1

// Paths of the agent's endpoints.
const (
	PathHello  = "/v1/hello"  // GET → Hello
	PathOps    = "/v1/ops"    // POST Request → Response
	PathEvents = "/v1/events" // GET ?after=SEQ&wait=SECONDS → Events
	PathRead   = "/v1/read"   // POST ReadRequest → the bytes, or 409 Failure
	PathWrite  = "/v1/write"  // POST WriteRequest, a newline, the bytes → WriteResult, or 409 Failure
	PathBye    = "/v1/bye"    // POST → 204: the mount ended; its file is removed
)

// Headers every request carries: the mount's id and its secret, as the
// mount's file in the agent's state directory holds them.
const (
	HeaderMount  = "Arkerfs-Mount"
	HeaderSecret = "Arkerfs-Secret"
)

// MaxOps bounds the operations of one request; MaxBody its size in bytes.
const (
	MaxOps  = 1024
	MaxBody = 4 << 20
)

// ReadRequest is the body of POST /v1/read: Length bytes of the regular
// file Path from Offset, if it is still the version the client expects.
// The agent answers 200 with the bytes (fewer only where the file ends)
// and the file's size and mtime in HeaderSize and HeaderMtime; a file
// that is not of Size bytes (or, when MtimeNs is not 0, of that mtime)
// before or after the read is answered 409 with ESTALE, and any other
// failure of the file 409 with its errno, as a Failure.
type ReadRequest struct {
	Path    []byte `json:"path"`
	Offset  int64  `json:"offset"`
	Length  int64  `json:"length"` // 1 to MaxRead
	Size    int64  `json:"size"`
	MtimeNs int64  `json:"mtime_ns,omitempty"`
}

// WriteRequest heads the body of POST /v1/write: one JSON line, then the
// bytes of every span of Spans, in order, nothing else. The agent changes
// the existing regular file Path in place: it cuts it to TruncateTo when
// set, writes the spans, cuts or extends it to Size when set, fsyncs it,
// and answers its attributes. A file that is missing or not regular, or
// any failure, is 409 with a Failure (the spans before it were written).
type WriteRequest struct {
	Path       []byte     `json:"path"`
	TruncateTo *int64     `json:"truncate_to,omitempty"`
	Spans      [][2]int64 `json:"spans,omitempty"` // {offset, length}, length ≥ 1; at most MaxSpans, MaxWrite bytes in all
	Size       *int64     `json:"size,omitempty"`
}

// WriteResult answers a WriteRequest: the file's attributes after it.
type WriteResult struct {
	Attr helper.Attr `json:"attr"`
}

// Bounds of one write: its bytes, its spans.
const (
	MaxWrite = 64 << 20
	MaxSpans = 4096
)

// Failure is the body of a 409 answer to POST /v1/read and /v1/write.
type Failure struct {
	Errno   string `json:"errno"`
	Message string `json:"message,omitempty"`
	Size    int64  `json:"size,omitempty"` // with ESTALE: the file's size now
	MtimeNs int64  `json:"mtime_ns,omitempty"`
}

// Headers of a 200 answer to POST /v1/read.
const (
	HeaderSize  = "Arkerfs-Size"
	HeaderMtime = "Arkerfs-Mtime-Ns"
)

// MaxRead bounds the bytes of one read.
const MaxRead = 8 << 20

// Hello is what GET /v1/hello answers: who serves.
type Hello struct {
	Version  string `json:"version"`  // the agent binary's version (arkerfs version)
	Protocol int    `json:"protocol"` // Version
	Root     []byte `json:"root"`     // the mount's root, as its file names it
}

// State is the agent's state file (agent.json in its state directory),
// written once it listens, and the line it prints on standard output.
type State struct {
	Version  string `json:"version"`
	Protocol int    `json:"protocol"`
	Port     int    `json:"port"`
	PID      int    `json:"pid"`
}

// MountFile is a mount's file in the agent's state directory
// (mounts/ID, mode 0600), written by the client through the sync API.
type MountFile struct {
	Secret string `json:"secret"` // compared in constant time with HeaderSecret
	Root   []byte `json:"root"`   // absolute, clean: every path of the mount's operations lies in it
}

// Request is the body of POST /v1/ops: operations run in order.
type Request struct {
	Ops []Op `json:"ops"`
}

// Response answers a Request: one result per op, in order.
type Response struct {
	Results []Result `json:"results"`
}

// Op is helper.Op on the wire.
type Op struct {
	Kind       string `json:"kind"`
	Path       []byte `json:"path,omitempty"`
	Path2      []byte `json:"path2,omitempty"`
	Target     []byte `json:"target,omitempty"`
	Mode       uint32 `json:"mode,omitempty"`
	Size       int64  `json:"size,omitempty"`
	Atime      *Time  `json:"atime,omitempty"`
	Mtime      *Time  `json:"mtime,omitempty"`
	NoReplace  bool   `json:"no_replace,omitempty"`
	Exclusive  bool   `json:"exclusive,omitempty"`
	KeepMode   bool   `json:"keep_mode,omitempty"`
	KeepXattrs bool   `json:"keep_xattrs,omitempty"`
	Depth      int    `json:"depth,omitempty"`
	Limit      int    `json:"limit,omitempty"`
	Name       []byte `json:"name,omitempty"`
	Value      []byte `json:"value,omitempty"`
	XattrFlags int    `json:"xattr_flags,omitempty"`
	Type       uint8  `json:"type,omitempty"`
	Major      uint32 `json:"major,omitempty"`
	Minor      uint32 `json:"minor,omitempty"`
}

// Time is helper.Time on the wire.
type Time struct {
	Now bool  `json:"now,omitempty"`
	Ns  int64 `json:"ns,omitempty"`
}

// Result is helper.Result on the wire. Errno is empty on success.
type Result struct {
	Attr      *helper.Attr   `json:"attr,omitempty"`
	Entries   []Entry        `json:"entries,omitempty"`
	Target    []byte         `json:"target,omitempty"`
	Statfs    *helper.Statfs `json:"statfs,omitempty"`
	Truncated bool           `json:"truncated,omitempty"`
	Value     []byte         `json:"value,omitempty"`
	Names     [][]byte       `json:"names,omitempty"`
	Errno     string         `json:"errno,omitempty"`
	Message   string         `json:"message,omitempty"`
}

// Entry is helper.Entry on the wire.
type Entry struct {
	Name   []byte      `json:"name"`
	Attr   helper.Attr `json:"attr"`
	Target []byte      `json:"target,omitempty"`
}

// Events answers GET /v1/events: the change feed of the mount's root.
//
// Every change the agent sees below the root (a file created, written,
// removed, renamed, its attributes changed) gets the next sequence
// number. A request with after=SEQ answers the changes numbered above
// SEQ, waiting up to wait seconds (at most MaxWait) for one when there is
// none yet; without after it answers at once with the current number
// and no paths: where a client starts. Seq is the number of the newest
// change answered (or the current one). Overflow means changes after SEQ
// were lost (the agent keeps the latest MaxEvents, and its watches may
// not cover the whole tree): the client must revalidate everything.
type Events struct {
	Seq      uint64   `json:"seq"`
	Paths    [][]byte `json:"paths,omitempty"` // absolute VM paths that changed, each once
	Overflow bool     `json:"overflow,omitempty"`
}

// Bounds of the change feed.
const (
	MaxWait   = 60   // seconds a request for events may wait
	MaxEvents = 4096 // changes the agent remembers
)

// FromOp converts an operation for the wire.
func FromOp(o helper.Op) Op {
	w := Op{
		Kind: string(o.Kind), Path: bytesOf(o.Path), Path2: bytesOf(o.Path2), Target: bytesOf(o.Target),
		Mode: o.Mode, Size: o.Size, NoReplace: o.NoReplace, Exclusive: o.Exclusive,
		KeepMode: o.KeepMode, KeepXattrs: o.KeepXattrs, Depth: o.Depth, Limit: o.Limit,
		Name: bytesOf(o.Name), Value: bytesOf(o.Value), XattrFlags: o.XattrFlags,
		Type: uint8(o.Type), Major: o.Major, Minor: o.Minor,
	}
	w.Atime, w.Mtime = fromTime(o.Atime), fromTime(o.Mtime)
	return w
}

// ToOp converts an operation from the wire.
func (w Op) ToOp() helper.Op {
	return helper.Op{
		Kind: helper.Kind(w.Kind), Path: string(w.Path), Path2: string(w.Path2), Target: string(w.Target),
		Mode: w.Mode, Size: w.Size, Atime: toTime(w.Atime), Mtime: toTime(w.Mtime),
		NoReplace: w.NoReplace, Exclusive: w.Exclusive, KeepMode: w.KeepMode, KeepXattrs: w.KeepXattrs,
		Depth: w.Depth, Limit: w.Limit, Name: string(w.Name), Value: string(w.Value), XattrFlags: w.XattrFlags,
		Type: helper.FileType(w.Type), Major: w.Major, Minor: w.Minor,
	}
}

// FromResult converts a result for the wire.
func FromResult(r helper.Result) Result {
	w := Result{Attr: r.Attr, Target: bytesOf(r.Target), Statfs: r.Statfs, Truncated: r.Truncated, Value: r.Value}
	if r.Entries != nil {
		w.Entries = make([]Entry, len(r.Entries))
		for i, e := range r.Entries {
			w.Entries[i] = Entry{Name: []byte(e.Name), Attr: e.Attr, Target: bytesOf(e.Target)}
		}
	}
	for _, n := range r.Names {
		w.Names = append(w.Names, []byte(n))
	}
	if r.Err != nil {
		w.Errno, w.Message = r.Err.Errno, r.Err.Message
	}
	return w
}

// ToResult converts a result from the wire.
func (w Result) ToResult() helper.Result {
	r := helper.Result{Attr: w.Attr, Target: string(w.Target), Statfs: w.Statfs, Truncated: w.Truncated, Value: w.Value}
	if w.Entries != nil {
		r.Entries = make([]helper.Entry, len(w.Entries))
		for i, e := range w.Entries {
			r.Entries[i] = helper.Entry{Name: string(e.Name), Attr: e.Attr, Target: string(e.Target)}
		}
	}
	for _, n := range w.Names {
		r.Names = append(r.Names, string(n))
	}
	if w.Errno != "" {
		r.Err = &helper.OpError{Errno: w.Errno, Message: w.Message}
	}
	return r
}

func bytesOf(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

func fromTime(t helper.Time) *Time {
	if !t.Set {
		return nil
	}
	return &Time{Now: t.Now, Ns: t.Ns}
}

func toTime(t *Time) helper.Time {
	if t == nil {
		return helper.Time{}
	}
	return helper.Time{Set: true, Now: t.Now, Ns: t.Ns}
}

// Serves reports whether protocol 1 serves operations of kind: every
// helper operation, the mutating ones too, with the helper's semantics.
// (ReadOnly still tells which batches are safe to send again.)
func Serves(kind helper.Kind) bool {
	switch kind {
	case helper.OpStat, helper.OpList, helper.OpTree, helper.OpReadlink, helper.OpStatfs,
		helper.OpGetxattr, helper.OpListxattr,
		helper.OpMkdir, helper.OpCreate, helper.OpRmdir, helper.OpUnlink, helper.OpRename,
		helper.OpChmod, helper.OpUtimens, helper.OpTruncate, helper.OpSymlink, helper.OpLink,
		helper.OpInstall, helper.OpMknod, helper.OpSetxattr, helper.OpRemovexattr:
		return true
	}
	return false
}
