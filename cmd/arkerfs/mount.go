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

Mounts the home directory of Arker VM on MOUNTPOINT and returns once the
mount answers, its server left in the background with its log in the
cache directory. With -f (--foreground) it serves in the foreground, as
systemd and launchd want: Ctrl-C or SIGTERM uploads what is pending,
unmounts and exits 0. 'arkerfs unmount MOUNTPOINT' stops either kind.

Each setting comes from its flag, else the environment, else the Arker
CLI's ~/.arker/config.json ('arker config set'): the API key from
--api-key-file, $ARKER_API_KEY or $AUTH_KEY, or the file's apiKey; the
endpoint from --base-url or $ARKER_BASE_URL, else from the region
(--region, $ARKER_REGION, the file's region). 'arkerfs status VM' shows
what was found where.

Flags:
`

// mountFlags are the flags of arkerfs mount.
type mountFlags struct {
	api                               apiFlags
	root                              string
	readOnly, allowOther              bool
	agent                             bool
	cacheDir                          string
	cacheSizeMiB, diskCacheMiB        int64
	attrTTL, entryTTL, dirTTL, negTTL time.Duration
	ux                                mountExtras
}

func (m *mountFlags) register(fl *flag.FlagSet) {
	m.api.register(fl)
	fl.StringVar(&m.root, "root", "/home/user", "VM directory to mount (/home/user or a directory below it)")
	fl.BoolVar(&m.readOnly, "read-only", false, "mount read-only")
	fl.BoolVar(&m.allowOther, "allow-other", false, "let other local users access the mount (needs user_allow_other in /etc/fuse.conf)")
	fl.BoolVar(&m.agent, "agent", true, "start the arkerfs agent on the VM and answer metadata through it when it can (--agent=false: runs only)")
	fl.StringVar(&m.cacheDir, "cache-dir", defaultCacheDir(), "directory for staged writes and the disk block cache")
	fl.Int64Var(&m.cacheSizeMiB, "cache-size", 256, "memory block cache budget in MiB")
	fl.Int64Var(&m.diskCacheMiB, "disk-cache-size", 0, "disk block cache in --cache-dir, in MiB (0 = none): blocks evicted from memory spill there")
	fl.DurationVar(&m.attrTTL, "attr-ttl", 5*time.Second, "how long file attributes are trusted")
	fl.DurationVar(&m.entryTTL, "entry-ttl", 5*time.Second, "how long names are trusted")
	fl.DurationVar(&m.dirTTL, "dir-ttl", 5*time.Second, "how long directory listings are trusted")
	fl.DurationVar(&m.negTTL, "negative-ttl", 5*time.Second, "how long 'no such file' is trusted")
	m.ux.register(fl)
}

func defaultCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "arkerfs")
	}
	return filepath.Join(os.TempDir(), "arkerfs-cache")
}

func runMount(args []string, stdout, stderr io.Writer) int {
	readyFile, args, err := takeReadyFD(args)
	if err != nil {
		fmt.Fprintf(stderr, "arkerfs: %v\n", err)
		return 2
	}
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
	if msg := m.ux.check(); msg != "" {
		fmt.Fprintf(stderr, "arkerfs: %s (see 'arkerfs mount -h')\n", msg)
		return 2
	}
	vm, mnt := pos[0], pos[1]
	if !m.ux.foreground && readyFile == nil {
		return mountBackground(args, vm, mnt, &m, stdout, stderr)
	}
	var pathErr error
	if readyFile != nil {
		mnt, pathErr = m.absolute(mnt)
	}
	cfg, sets, err := m.api.resolve(vm)
	s, serr := newMountSession(&m, readyFile, cfg.APIKey, stdout, stderr)
	if serr != nil {
		return s.fail(serr)
	}
	defer s.close()
	if err == nil {
		err = pathErr
	}
	if err != nil {
		return s.fail(err)
	}
	if err := checkMountpoint(mnt, s.notices()); err != nil {
		return s.fail(err)
	}
	cfg.Debug = transportLogf(s.log, newRetryStorm(s.log))
	// Files a server sends whole (it ignores Range) wait there for their
	// readers, beside the rest of the mount's local data.
	cfg.SpillDir = filepath.Join(m.cacheDir, "spill")
	if err := os.MkdirAll(cfg.SpillDir, 0o700); err != nil {
		return s.fail(fmt.Errorf("spill directory: %w", err))
	}
	client, err := transport.New(cfg)
	if err != nil {
		return s.fail(err)
	}
	rootAttr, err := checkVM(client, vm, m.root)
	if err != nil {
		return s.fail(sets.explainMountErr(err))
	}
	return serveMount(client, vm, mnt, &m, rootAttr, s)
}

// checkVM makes one call that proves the key and the VM, then checks that
// the directory to mount exists there.
func checkVM(client *transport.Client, vm, root string) (transport.Attr, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := client.DescribeVM(ctx); err != nil {
		return transport.Attr{}, withCause(describeErr(err, vm), err)
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
func serveMount(client *transport.Client, vm, mnt string, m *mountFlags, rootAttr transport.Attr, s *mountSession) int {
	// The block cache keeps to its budget; the limit keeps the Go heap
	// from growing to twice what is live around it.
	debug.SetMemoryLimit(m.cacheSizeMiB<<20 + 32<<20)
	if stop := startProfile(s.notices()); stop != nil {
		defer stop()
	}
	bo := cache.BlockCacheOptions{MemBudget: m.cacheSizeMiB << 20}
	if m.diskCacheMiB > 0 {
		bo.DiskDir, bo.DiskBudget = filepath.Join(m.cacheDir, "blocks"), m.diskCacheMiB<<20
	}
	blocks, err := cache.NewBlockCache(bo)
	if err != nil {
		return s.fail(fmt.Errorf("block cache: %w", err))
	}
	defer blocks.Close()
	staging, err := cache.NewStaging(filepath.Join(m.cacheDir, "staging", safeName(vm)))
	if err != nil {
		return s.fail(fmt.Errorf("staging directory: %w", err))
	}
	defer staging.Close()
	if left, err := staging.Leftovers(); err == nil {
		for _, l := range left {
			s.log.Warn("a file from an earlier session was not uploaded; its content is kept", "path", l.VMPath, "local", l.LocalPath)
		}
	}
	uid, gid := m.ux.owner()
	opts := fs.Options{
		Root: m.root, ReadOnly: m.readOnly, UID: uid, GID: gid,
		AttrTTL: m.attrTTL, EntryTTL: m.entryTTL, DirTTL: m.dirTTL, NegativeTTL: m.negTTL,
		OpTimeout: m.api.timeout,
		Logf:      fsLogf(s.log),
	}
	fsys := fs.New(client, blocks, staging, opts)
	fsys.Prime(m.root, rootAttr)
	mo := fsys.MountOptions(fuse.MountOptions{
		FsName:       m.ux.source(vm),
		Name:         "arkerfs",
		AllowOther:   m.allowOther,
		DirectMount:  os.Geteuid() == 0,
		MaxWrite:     1 << 20,
		MaxReadAhead: 1 << 20,
		Debug:        m.api.debug && os.Getenv("ARKERFS_DEBUG_FUSE") != "",
		Options:      m.ux.fuseOptionsHere(vm, m.allowOther),
	})
	if m.readOnly {
		mo.MountOptions.Options = append(mo.MountOptions.Options, "ro")
	}
	server, err := gofs.Mount(mnt, fsys.Root(), mo)
	if err != nil {
		return s.fail(fmt.Errorf("mounting %s: %w", mnt, err))
	}
	s.mounted(vm, m.root, mnt)
	agent := newMountAgent()
	if m.agent {
		go agent.start(client, fsys, m.root, m.api.timeout, s.log, s.lock)
	}
	go unmountOnSignal(server, mnt, s.notices())
	server.Wait()
	s.stopping()
	flushCtx, cancel := context.WithTimeout(context.Background(), m.api.timeout)
	defer cancel()
	if err := fsys.Flush(flushCtx); err != nil {
		s.log.Warn("last deferred changes (mkdir, chmod, times) not applied", "reason", err.Error())
	}
	agent.stop(client, s.log)
	s.unmounted(mnt)
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
