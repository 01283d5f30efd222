// Package helper is the metadata helper: the fixed POSIX-sh script that
// arkerfs runs on the VM through the run endpoint to stat, list, create,
// rename and remove files, the encoding of its arguments and the strict
// parser of its NUL-separated output. It does no I/O itself: package
// transport sends the command and hands the output back here.
package helper

import "syscall"

// FileType is the kind of a file on the VM.
type FileType uint8

// File types, as find -printf %y names them.
const (
	TypeRegular FileType = iota + 1 // f
	TypeDir                         // d
	TypeSymlink                     // l
	TypeFIFO                        // p
	TypeSocket                      // s
	TypeChar                        // c
	TypeBlock                       // b
)

// ModeBits is t's S_IFMT bits (a regular file's for an unknown type).
func (t FileType) ModeBits() uint32 {
	for _, m := range modeBits {
		if m.t == t {
			return m.bits
		}
	}
	return syscall.S_IFREG
}

// TypeOfMode is the file type of a stat mode's S_IFMT bits, 0 for none
// of the seven.
func TypeOfMode(mode uint32) FileType {
	for _, m := range modeBits {
		if m.bits == mode&syscall.S_IFMT {
			return m.t
		}
	}
	return 0
}

// modeBits pairs each file type with its S_IFMT bits.
var modeBits = []struct {
	t    FileType
	bits uint32
}{
	{TypeRegular, syscall.S_IFREG}, {TypeDir, syscall.S_IFDIR}, {TypeSymlink, syscall.S_IFLNK},
	{TypeFIFO, syscall.S_IFIFO}, {TypeSocket, syscall.S_IFSOCK}, {TypeChar, syscall.S_IFCHR},
	{TypeBlock, syscall.S_IFBLK},
}

// Attr is a file's attributes as the VM reports them (lstat: symlinks are
// not followed). Times are nanoseconds since the Unix epoch.
type Attr struct {
	Type    FileType
	Perm    uint32 // permission bits with setuid, setgid, sticky (07777)
	Nlink   uint32
	UID     uint32
	GID     uint32
	Size    int64
	Blocks  int64 // 512-byte blocks
	Ino     uint64
	Dev     uint64
	AtimeNs int64
	MtimeNs int64
	CtimeNs int64
}

// Entry is one directory entry with its attributes. Name is a single
// component for list, and a slash-separated path relative to the listed
// directory for tree. Target is the symlink's content for symlinks.
type Entry struct {
	Name   string
	Attr   Attr
	Target string
}

// Statfs is the file system's capacity, as statfs(2) reports it.
type Statfs struct {
	Bsize   uint64
	Blocks  uint64
	Bfree   uint64
	Bavail  uint64
	Files   uint64
	Ffree   uint64
	NameLen uint64
}

// Kind names a helper operation.
type Kind string

// The operations. Every path is absolute on the VM.
const (
	OpStat     Kind = "stat"     // Path → Attr
	OpList     Kind = "list"     // Path (a directory) → Entries, each with Attr
	OpTree     Kind = "tree"     // Path, Depth, Limit → Entries (relative names, level by level), Truncated
	OpMkdir    Kind = "mkdir"    // Path, Mode → Attr
	OpCreate   Kind = "create"   // Path, Mode, Exclusive → Attr (empty file; EEXIST if Exclusive and it exists; an existing file is left as it is)
	OpRmdir    Kind = "rmdir"    // Path
	OpUnlink   Kind = "unlink"   // Path (never a directory)
	OpRename   Kind = "rename"   // Path → Path2, NoReplace → Attr of Path2
	OpChmod    Kind = "chmod"    // Path, Mode → Attr (ENOTSUP on a symlink)
	OpUtimens  Kind = "utimens"  // Path, Atime, Mtime → Attr (symlinks not followed)
	OpTruncate Kind = "truncate" // Path, Size → Attr
	OpSymlink  Kind = "symlink"  // Path (the new link), Target → Attr
	OpReadlink Kind = "readlink" // Path → Target (and Attr)
	OpLink     Kind = "link"     // Path (existing) → Path2 (new) → Attr of Path2
	OpStatfs   Kind = "statfs"   // Path → Statfs
	OpInstall  Kind = "install"  // Path2 (a regular file) renamed over Path, Mode or KeepMode → Attr of Path
	OpMknod    Kind = "mknod"    // Path, Type (FIFO, socket, char, block), Mode, Major, Minor → Attr

	OpGetxattr    Kind = "getxattr"    // Path, Name → Value (ENODATA when missing)
	OpSetxattr    Kind = "setxattr"    // Path, Name, Value, XattrFlags
	OpListxattr   Kind = "listxattr"   // Path → Names
	OpRemovexattr Kind = "removexattr" // Path, Name (ENODATA when missing)
)

// setxattr(2) flags.
const (
	XattrCreate  = 1 // fail with EEXIST if the attribute exists
	XattrReplace = 2 // fail with ENODATA if it does not
)

// Time is one of utimens' times: left alone, set to now, or set to Ns.
type Time struct {
	Set bool  // false: leave unchanged
	Now bool  // true: the VM's current time
	Ns  int64 // nanoseconds since the epoch when Set && !Now
}

// Op is one helper operation; which fields apply depends on Kind. Paths
// are absolute and clean (path.Clean leaves them unchanged), without NUL,
// at most MaxPathBytes long; Validate checks all of this.
type Op struct {
	Kind      Kind
	Path      string // the file operated on; for symlink the new link, for link the existing file
	Path2     string // rename's destination; link's new name; install's uploaded file
	Target    string // symlink's content: any bytes but NUL, non-empty
	Mode      uint32 // mkdir, create, chmod, mknod: permission bits (07777 at most), umask not applied
	Size      int64  // truncate's new size
	Atime     Time   // utimens
	Mtime     Time   // utimens
	NoReplace bool   // rename: fail with EEXIST if Path2 exists (RENAME_NOREPLACE)
	Exclusive bool   // create: fail with EEXIST if Path exists (O_EXCL)
	KeepMode  bool   // install: give Path2 Path's mode if Path is a regular file, else 0644, instead of Mode
	// KeepXattrs (install) gives Path2 the user xattrs of Path, where the
	// VM can copy them: a rewrite keeps what was set on the file before.
	KeepXattrs bool
	Depth      int // tree: levels below Path to list, 1 = Path's entries only
	Limit      int // tree: most entries to return (1..MaxTreeLimit)

	Name       string // xattr ops: the attribute's full name ("user.x"), 1..MaxXattrName bytes, no NUL
	Value      string // setxattr: any bytes (NUL too), at most MaxXattrValue
	XattrFlags int    // setxattr: 0, XattrCreate or XattrReplace

	Type         FileType // mknod: TypeFIFO, TypeSocket, TypeChar or TypeBlock
	Major, Minor uint32   // mknod of a device: its numbers (Linux's 12 and 20 bits)
}

// Result is the outcome of one Op. Err is nil on success; otherwise it
// names the errno the VM reported and no other field is set. On success
// Attr is set for every kind but list, tree, rmdir, unlink and statfs;
// Target is set with Attr when the file is a symlink.
type Result struct {
	Attr      *Attr
	Entries   []Entry
	Target    string
	Statfs    *Statfs
	Truncated bool
	Value     []byte   // getxattr
	Names     []string // listxattr, in the VM's order
	Err       *OpError
}

// OpError is a failed operation: Errno is a POSIX errno name such as
// "ENOENT"; Message is the helper's words (may be empty).
type OpError struct {
	Errno   string
	Message string
}

func (e *OpError) Error() string {
	if e.Message == "" {
		return e.Errno
	}
	return e.Errno + ": " + e.Message
}

// ReadOnly reports whether operations of kind change nothing on the VM:
// such an operation may be asked again, or elsewhere, without harm.
func ReadOnly(kind Kind) bool {
	switch kind {
	case OpStat, OpList, OpTree, OpReadlink, OpStatfs, OpGetxattr, OpListxattr:
		return true
	}
	return false
}
