package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/arker-ai/arkerfs/cache"
	"github.com/arker-ai/arkerfs/fs"
	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/helper"
)

const mountUsage = `usage: arkerfs mount [flags] VM MOUNTPOINT

Mounts the home directory of Arker VM on MOUNTPOINT and serves it in the
foreground. Ctrl-C (or SIGTERM, or 'arkerfs unmount MOUNTPOINT') uploads
what is pending, unmounts and exits 0.

The API key comes from $ARKER_API_KEY (or $AUTH_KEY), the endpoint from
$ARKER_BASE_URL or $ARKER_REGION; flags override them.

Flags:
`

// mountFlags are the flags of arkerfs mount.
type mountFlags struct {
	api                               apiFlags
	root                              string
	readOnly, allowOther              bool
	cacheDir                          string
	cacheSizeMiB, diskCacheMiB        int64
	attrTTL, entryTTL, dirTTL, negTTL time.Duration
}

func (m *mountFlags) register(fl *flag.FlagSet) {
	m.api.register(fl)
	fl.StringVar(&m.root, "root", "/home/user", "VM directory to mount (/home/user or a directory below it)")
	fl.BoolVar(&m.readOnly, "read-only", false, "mount read-only")
	fl.BoolVar(&m.allowOther, "allow-other", false, "let other local users access the mount (needs user_allow_other in /etc/fuse.conf)")
	fl.StringVar(&m.cacheDir, "cache-dir", defaultCacheDir(), "directory for staged writes and the disk block cache")
	fl.Int64Var(&m.cacheSizeMiB, "cache-size", 256, "memory block cache budget in MiB")
	fl.Int64Var(&m.diskCacheMiB, "disk-cache-size", 0, "disk block cache in --cache-dir, in MiB (0 = none): blocks evicted from memory spill there")
	fl.DurationVar(&m.attrTTL, "attr-ttl", 5*time.Second, "how long file attributes are trusted")
	fl.DurationVar(&m.entryTTL, "entry-ttl", 5*time.Second, "how long names are trusted")
	fl.DurationVar(&m.dirTTL, "dir-ttl", 5*time.Second, "how long directory listings are trusted")
	fl.DurationVar(&m.negTTL, "negative-ttl", 5*time.Second, "how long 'no such file' is trusted")
}

func defaultCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "arkerfs")
	}
	return filepath.Join(os.TempDir(), "arkerfs-cache")
}

func runMount(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("mount", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() { fmt.Fprint(stderr, mountUsage); fl.PrintDefaults() }
	var m mountFlags
	m.register(fl)
	pos, err := parseInterleaved(fl, args)
	if err != nil {
		return 2
	}
	if len(pos) != 2 {
		fmt.Fprintln(stderr, "arkerfs: mount needs VM and MOUNTPOINT (see 'arkerfs mount -h')")
		return 2
	}
	vm, mnt := pos[0], pos[1]
	if err := checkFUSE(); err != nil {
		return fail(stderr, "%v", err)
	}
	if err := prepareMountpoint(mnt, stderr); err != nil {
		return fail(stderr, "%v", err)
	}
	cfg, err := m.api.config(vm, stderr)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	client, err := transport.New(cfg)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	rootAttr, err := checkVM(client, vm, m.root)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	return serveMount(client, vm, mnt, &m, rootAttr, stdout, stderr)
}

// checkVM makes one call that proves the key and the VM, then checks that
// the directory to mount exists there.
func checkVM(client *transport.Client, vm, root string) (transport.Attr, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := client.DescribeVM(ctx); err != nil {
		return transport.Attr{}, describeErr(err, vm)
	}
	a, err := client.Stat(ctx, root)
	if err != nil {
		if transport.IsNotFound(err) {
			return transport.Attr{}, fmt.Errorf("%s does not exist on VM %s", root, vm)
		}
		return transport.Attr{}, fmt.Errorf("cannot read %s on VM %s: %w", root, vm, err)
	}
	if a.Type != helper.TypeDir {
		return transport.Attr{}, fmt.Errorf("%s on VM %s is not a directory", root, vm)
	}
	return a, nil
}

// describeErr turns the failure of the first call into one clear line.
func describeErr(err error, vm string) error {
	switch transport.CodeOf(err) {
	case transport.CodeUnauthorized:
		return errors.New("the API key was refused (401 unauthorized): check ARKER_API_KEY")
	case transport.CodeForbidden:
		return fmt.Errorf("the API key may not use VM %s (403 forbidden)", vm)
	case transport.CodeNotFound:
		return fmt.Errorf("no VM %q: check the VM id and the region", vm)
	case transport.CodeNetworkError, transport.CodeTimeout:
		return fmt.Errorf("cannot reach the Arker API: %v", err)
	}
	return fmt.Errorf("checking VM %s: %v", vm, err)
}

// serveMount mounts and serves until unmounted or signalled.
func serveMount(client *transport.Client, vm, mnt string, m *mountFlags, rootAttr transport.Attr, stdout, stderr io.Writer) int {
	// The block cache keeps to its budget; the limit keeps the Go heap
	// from growing to twice what is live around it.
	debug.SetMemoryLimit(m.cacheSizeMiB<<20 + 32<<20)
	if stop := startProfile(stderr); stop != nil {
		defer stop()
	}
	bo := cache.BlockCacheOptions{MemBudget: m.cacheSizeMiB << 20}
	if m.diskCacheMiB > 0 {
		bo.DiskDir, bo.DiskBudget = filepath.Join(m.cacheDir, "blocks"), m.diskCacheMiB<<20
	}
	blocks, err := cache.NewBlockCache(bo)
	if err != nil {
		return fail(stderr, "block cache: %v", err)
	}
	defer blocks.Close()
	staging, err := cache.NewStaging(filepath.Join(m.cacheDir, "staging", safeName(vm)))
	if err != nil {
		return fail(stderr, "staging directory: %v", err)
	}
	defer staging.Close()
	if left, err := staging.Leftovers(); err == nil && len(left) > 0 {
		fmt.Fprintf(stderr, "arkerfs: %d file(s) from an earlier session were not uploaded; their content is kept:\n", len(left))
		for _, l := range left {
			fmt.Fprintf(stderr, "  %s -> %s\n", l.VMPath, l.LocalPath)
		}
	}
	opts := fs.Options{
		Root: m.root, ReadOnly: m.readOnly,
		UID: uint32(os.Getuid()), GID: uint32(os.Getgid()),
		AttrTTL: m.attrTTL, EntryTTL: m.entryTTL, DirTTL: m.dirTTL, NegativeTTL: m.negTTL,
		OpTimeout: m.api.timeout,
	}
	if m.api.debug {
		opts.Logf = func(format string, args ...any) { fmt.Fprintf(stderr, "arkerfs: "+format+"\n", args...) }
	} else {
		opts.Logf = func(format string, args ...any) { fmt.Fprintf(stderr, "arkerfs: warning: "+format+"\n", args...) }
	}
	fsys := fs.New(client, blocks, staging, opts)
	fsys.Prime(m.root, rootAttr)
	mo := fsys.MountOptions(fuse.MountOptions{
		FsName:       "arkerfs:" + vm,
		Name:         "arkerfs",
		AllowOther:   m.allowOther,
		DirectMount:  os.Geteuid() == 0,
		MaxWrite:     1 << 20,
		MaxReadAhead: 1 << 20,
		Debug:        m.api.debug && os.Getenv("ARKERFS_DEBUG_FUSE") != "",
	})
	if m.readOnly {
		mo.MountOptions.Options = append(mo.MountOptions.Options, "ro")
	}
	server, err := gofs.Mount(mnt, fsys.Root(), mo)
	if err != nil {
		return fail(stderr, "mounting %s: %v", mnt, err)
	}
	fmt.Fprintf(stdout, "arkerfs: VM %s %s mounted on %s (Ctrl-C or 'arkerfs unmount %s' to stop)\n", vm, m.root, mnt, mnt)
	go unmountOnSignal(server, mnt, stderr)
	server.Wait()
	flushCtx, cancel := context.WithTimeout(context.Background(), m.api.timeout)
	defer cancel()
	if err := fsys.Flush(flushCtx); err != nil {
		fmt.Fprintf(stderr, "arkerfs: last deferred changes (mkdir, chmod, times) not applied: %v\n", err)
	}
	fmt.Fprintf(stdout, "arkerfs: unmounted %s\n", mnt)
	return 0
}

// unmountOnSignal unmounts on SIGINT or SIGTERM. If files are still open
// the mount is detached: it disappears at once and ends when they close.
func unmountOnSignal(server *fuse.Server, mnt string, stderr io.Writer) {
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	if err := server.Unmount(); err != nil {
		fmt.Fprintf(stderr, "arkerfs: %s is busy (%v); detaching it, pending uploads finish as files close\n", mnt, err)
		if err := detachMount(mnt); err != nil {
			fmt.Fprintf(stderr, "arkerfs: could not detach %s: %v\n", mnt, err)
		}
	}
}

// safeName makes a VM id usable as one path component.
func safeName(s string) string {
	out := []byte(s)
	for i, c := range out {
		if c == '/' || c == 0 || c == '.' && i == 0 {
			out[i] = '_'
		}
	}
	return string(out)
}
