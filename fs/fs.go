package fs

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sync/singleflight"

	"github.com/arker-ai/arkerfs/cache"
	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/helper"
)

// FS is one mounted VM directory: the client, the caches and the options
// every node shares.
type FS struct {
	client   *transport.Client
	batch    *transport.MetaBatcher   // coalesces metadata operations into runs
	uploads  *transport.UploadBatcher // coalesces uploads ready together
	opts     Options
	meta     *metaCache
	blocks   *cache.BlockCache
	staging  *cache.Staging
	lists    singleflight.Group // collapses concurrent fetches of one listing
	fileIDs  atomic.Uint64      // block-cache ids for file nodes
	gens     inoGens            // generations of reused VM inode numbers
	devs     devNumbers         // numbers of the devices this mount made
	echoes   echoes             // our own changes, to tell their reports in the change feed
	deferred deferred           // attribute changes waiting for the next run
	root     *dirNode
}

// New builds the filesystem for client with the given caches. The caller
// owns blocks and staging and closes them after unmounting.
func New(client *transport.Client, blocks *cache.BlockCache, staging *cache.Staging, opts Options) *FS {
	opts = opts.withDefaults()
	f := &FS{
		client:  client,
		batch:   transport.NewMetaBatcher(client),
		uploads: transport.NewUploadBatcher(client),
		opts:    opts,
		meta:    newMetaCache(opts, nil),
		blocks:  blocks,
		staging: staging,
	}
	f.root = &dirNode{node: node{fsys: f}}
	f.deferred.flush = func() { _ = f.flushDeferred(context.Background()) }
	return f
}

// Prime records attributes the caller already fetched (the mount checks
// the root directory before mounting), so that the first look at them
// costs no round trip.
func (f *FS) Prime(path string, a helper.Attr) {
	_, name := splitPath(path)
	f.meta.attrs.Set(path, helper.Entry{Name: name, Attr: a})
}

// Root is the node to mount.
func (f *FS) Root() gofs.InodeEmbedder { return f.root }

// MountOptions are the go-fuse options matching f's TTLs and owner, with
// the caller's FUSE options mo (name, allow_other, sizes). Whenever mo
// lets other local users in (AllowOther), the kernel checks every access
// against the modes shown (default_permissions): without it any local
// user could read and write every file of the VM whatever its mode.
// Entry and attribute timeouts are set on every answer instead of here:
// go-fuse would replace a deliberate 0 ("do not cache") by the default.
func (f *FS) MountOptions(mo fuse.MountOptions) *gofs.Options {
	o := f.opts
	if mo.AllowOther && !slices.Contains(mo.Options, "default_permissions") {
		mo.Options = append(slices.Clip(mo.Options), "default_permissions")
	}
	return &gofs.Options{
		MountOptions:    mo,
		NegativeTimeout: &o.NegativeTTL,
		UID:             o.UID,
		GID:             o.GID,
		NullPermissions: true, // modes are the VM's, 0000 included
	}
}

// uncached is the attribute timeout of files whose attributes change
// under local writes and at upload: the kernel asks again every time.
const uncached = 0

// opContext bounds the network work of one metadata operation while
// keeping the kernel's interrupt (ctx is cancelled on FUSE_INTERRUPT).
func (f *FS) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, f.opts.OpTimeout)
}

// metaOp runs one helper operation through the batcher. Deferred changes
// still queued travel first, in the same run; runs that already carry
// earlier ones are waited for (deferred.go). A read-only operation ends
// when the kernel interrupts the call; a change does not: once sent it
// may take effect, so the caller must learn its outcome.
func (f *FS) metaOp(ctx context.Context, op transport.MetaOp) (transport.MetaResult, error) {
	if op.Path == "" {
		return transport.MetaResult{}, syscall.ENOENT // a node in no directory
	}
	pending, earlier, sent := f.takeDeferred()
	defer sent()
	if err := waitDeferred(ctx, pending, earlier); err != nil {
		return transport.MetaResult{}, err
	}
	if refresh := f.refreshFor(op); len(pending) > 0 || refresh != nil {
		return f.runWith(ctx, pending, op, refresh)
	}
	if !helper.ReadOnly(op.Kind) {
		ctx = context.WithoutCancel(ctx)
	}
	ctx, cancel := f.opContext(ctx)
	defer cancel()
	f.echoes.sent(op)
	r, err := f.batch.Do(ctx, op)
	f.echoes.sent(op)
	if err != nil {
		return r, err
	}
	return r, r.Err
}

// refreshFor returns the subtree fetch to send along with a run that
// changes op's path: of the directory above the one op changes, or else of
// that directory itself, when its listing is cached and past half its
// TTL. A tool working through a tree (rsync, tar) looks up names in the
// directory it writes and its siblings; refreshed with runs that go
// anyway, those listings do not expire under it and cost no round trip
// of their own. The fetch is the one a lookup there would make on expiry.
func (f *FS) refreshFor(op transport.MetaOp) *transport.MetaOp {
	if helper.ReadOnly(op.Kind) {
		return nil
	}
	root := f.opts.Root
	dir := parentOf(op.Path)
	if dir != root && !isBelow(dir, root) {
		return nil
	}
	dirs := []string{dir}
	if dir != root {
		dirs = []string{parentOf(dir), dir}
	}
	for _, d := range dirs {
		if age, ok := f.meta.listingAge(d); ok && age >= f.opts.DirTTL/2 {
			return &transport.MetaOp{Kind: helper.OpTree, Path: d, Depth: f.opts.PrefetchDepth, Limit: f.opts.PrefetchLimit}
		}
	}
	return nil
}

// logf writes a debug or warning line.
func (f *FS) logf(format string, args ...any) { f.opts.Logf(format, args...) }

// node is what every node type shares: the inode, the filesystem, and
// the attributes last seen, which answer for a node no longer in any
// directory.
type node struct {
	gofs.Inode
	fsys *FS
	last atomic.Pointer[helper.Attr]
}

// vmPath is the node's current path on the VM, or "" for a node that is
// in no directory any more (unlinked or replaced while the kernel still
// holds it).
func (n *node) vmPath() string {
	if n.IsRoot() {
		return n.fsys.opts.Root
	}
	if _, parent := n.Parent(); parent == nil {
		return ""
	}
	return n.fsys.opts.Root + "/" + n.Path(nil)
}

func (n *node) base() *node { return n }

// childPath is the VM path of name inside directory node n.
func (n *node) childPath(name string) string { return joinPath(n.vmPath(), name) }

// readOnly reports EROFS when the mount is read-only.
func (n *node) readOnly() syscall.Errno {
	if n.fsys.opts.ReadOnly {
		return syscall.EROFS
	}
	return 0
}

// fillAttr converts VM attributes into the kernel's form. Owner is the
// mounting user (DESIGN decision 7); mode and times are the VM's.
func (f *FS) fillAttr(a *helper.Attr, out *fuse.Attr) {
	out.Mode = a.Type.ModeBits() | a.Perm&07777
	out.Size = uint64(a.Size)
	out.Blocks = uint64(a.Blocks)
	out.Nlink = a.Nlink
	out.Ino = a.Ino
	setTime := func(ns int64) (uint64, uint32) {
		if ns < 0 {
			return 0, 0
		}
		return uint64(ns / 1e9), uint32(ns % 1e9)
	}
	out.Atime, out.Atimensec = setTime(a.AtimeNs)
	out.Mtime, out.Mtimensec = setTime(a.MtimeNs)
	out.Ctime, out.Ctimensec = setTime(a.CtimeNs)
	out.Owner = fuse.Owner{Uid: f.opts.UID, Gid: f.opts.GID}
	out.Blksize = 4096
	if a.Type == helper.TypeChar || a.Type == helper.TypeBlock {
		out.Rdev = f.devs.of(a.Ino) // 0 for a device this mount did not make
	}
}

// newChild returns the inode for name in dir with attributes e. An
// existing child of the same type keeps its identity (its inode number and
// open state); otherwise a new node is made with the VM's inode number.
func (f *FS) newChild(ctx context.Context, dir *gofs.Inode, name string, e *helper.Entry) *gofs.Inode {
	mode := e.Attr.Type.ModeBits()
	if ch := dir.GetChild(name); ch != nil && ch.StableAttr().Mode == mode {
		return ch
	}
	var ops gofs.InodeEmbedder
	switch e.Attr.Type {
	case helper.TypeDir:
		ops = &dirNode{node: node{fsys: f}}
	case helper.TypeSymlink:
		ops = &symlinkNode{node: node{fsys: f}}
	default:
		ops = &fileNode{node: node{fsys: f}, fileID: f.fileIDs.Add(1)}
	}
	a := e.Attr
	ops.(interface{ base() *node }).base().last.Store(&a)
	return dir.NewInode(ctx, ops, gofs.StableAttr{Mode: mode, Ino: e.Attr.Ino, Gen: f.gens.gen(e.Attr.Ino)})
}

// removed records that our own operation removed path (unlink, or a
// rename over it). ino is the kernel node's inode number there, 0 when
// the mount has no node. The file's inode number is freed on the VM
// unless other hard links keep it; if they do, their link count drops.
// When the mount knows neither the file nor its VM inode number (a node
// made before the file's first upload keeps a synthetic one), every
// cached file with several links may be one of them and is asked again.
func (f *FS) removed(path string, ino uint64) {
	e, st := f.meta.lookup(path)
	switch {
	case st == exists && e.Attr.Type == helper.TypeDir:
	case st == exists && e.Attr.Nlink <= 1:
		f.gens.retire(e.Attr.Ino)
	case st == exists:
		f.meta.setLinks(e.Attr.Ino, e.Attr.Nlink-1, path)
	case ino != 0 && !isSynthetic(ino):
		f.meta.forgetIno(ino) // the count is unknown: ask again
	case st == unknown:
		f.meta.forgetLinked() // which file it was is unknown too
	}
}

// fillEntry fills a lookup answer from attributes.
func (f *FS) fillEntry(e *helper.Entry, ino uint64, out *fuse.EntryOut) {
	f.fillAttr(&e.Attr, &out.Attr)
	out.Attr.Ino = ino
	out.SetEntryTimeout(f.opts.EntryTTL)
	out.SetAttrTimeout(f.opts.AttrTTL)
}

// version names the content of a file as of its size and mtime: blocks
// are cached under it, and the kernel page cache is kept across opens
// while it does not change.
func version(size, mtimeNs int64) string { return fmt.Sprintf("%d:%d", size, mtimeNs) }

// now is the local clock in nanoseconds, for files we are writing.
func now() int64 { return time.Now().UnixNano() }
