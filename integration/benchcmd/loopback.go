package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// The loopback peer: go-fuse's own loopback filesystem (fs.NewLoopbackRoot)
// serving the VM's directory from local disk. A walk of it pays what any
// go-fuse filesystem pays on this machine for the kernel's lookups,
// readdirs, getattrs and getxattrs, with no network and no cache misses
// below: the floor a metadata walk through arkerfs is measured against.

// loopbackRun runs script with the path of dir (relative to the VM's
// home) on a fresh loopback mount of the home, once, cold in the kernel's
// caches of that mount.
func (r *rig) loopbackRun(ctx context.Context, dir, script string) (time.Duration, error) {
	mnt, err := os.MkdirTemp(r.root, "loopback-")
	if err != nil {
		return 0, fmt.Errorf("loopback mount point: %w", err)
	}
	root, err := gofs.NewLoopbackRoot(r.vm(""))
	if err != nil {
		return 0, fmt.Errorf("loopback root: %w", err)
	}
	ttl := nullFUSEAttrTTL
	opts := &gofs.Options{
		EntryTimeout: &ttl, AttrTimeout: &ttl,
		MountOptions: fuse.MountOptions{FsName: "loopback", Name: "loopback", DirectMount: os.Geteuid() == 0},
	}
	srv, err := gofs.Mount(mnt, root, opts)
	if err != nil {
		if isMounted(mnt) {
			detach(mnt)
		}
		return 0, fmt.Errorf("mounting go-fuse's loopback on %s: %w", mnt, err)
	}
	m := &nullMount{dir: mnt, server: srv} // its unmount is the one every FUSE mount of the rig needs
	d, _, err := sh(ctx, r.root, script, []string{filepath.Join(mnt, dir)})
	if uerr := m.unmount(); err == nil {
		err = uerr
	}
	return d, err
}
