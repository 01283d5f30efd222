package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// prepareMountpoint checks that mnt is a directory that can take a mount,
// cleaning up a stale arkerfs mount (left by a crash) on the way.
func prepareMountpoint(mnt string, stderr io.Writer) error {
	abs, err := filepath.Abs(mnt)
	if err != nil {
		return fmt.Errorf("mountpoint %s: %w", mnt, err)
	}
	st, err := os.Stat(abs)
	if isStale(err) {
		if uerr := forceUnmount(abs); uerr != nil {
			return fmt.Errorf("%s holds a stale mount that could not be removed: %v", mnt, uerr)
		}
		fmt.Fprintf(stderr, "arkerfs: removed a stale mount at %s\n", mnt)
		st, err = os.Stat(abs)
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("mountpoint %s does not exist (create it with mkdir)", mnt)
	case err != nil:
		return fmt.Errorf("mountpoint %s: %w", mnt, err)
	case !st.IsDir():
		return fmt.Errorf("mountpoint %s is not a directory", mnt)
	}
	if mounted, _ := isMountpoint(abs); mounted {
		return fmt.Errorf("%s is already a mountpoint: run 'arkerfs unmount %s' first", mnt, mnt)
	}
	return nil
}

// isStale reports whether a stat error is that of a FUSE mount whose
// server is gone.
func isStale(err error) bool {
	return errors.Is(err, syscall.ENOTCONN) || errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ENXIO)
}

const unmountUsage = `usage: arkerfs unmount MOUNTPOINT

Unmounts an arkerfs mount and waits while the serving 'arkerfs mount'
uploads what is pending and exits. A busy mount (open files, a shell
inside) is refused; close them and try again, or pass --lazy to detach
it now.
`

func runUnmount(args []string, stdout, stderr io.Writer) int {
	lazy := false
	var pos []string
	for _, a := range args {
		switch a {
		case "--lazy", "-lazy", "-z":
			lazy = true
		case "-h", "--help":
			fmt.Fprint(stdout, unmountUsage)
			return 0
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) != 1 {
		fmt.Fprint(stderr, unmountUsage)
		return 2
	}
	abs, err := filepath.Abs(pos[0])
	if err != nil {
		return fail(stderr, "%v", err)
	}
	if _, err := os.Stat(abs); isStale(err) {
		if err := forceUnmount(abs); err != nil {
			return fail(stderr, "removing the stale mount at %s: %v", pos[0], err)
		}
		return 0
	}
	if mounted, err := isMountpoint(abs); err == nil && !mounted {
		return fail(stderr, "%s is not mounted", pos[0])
	}
	if lazy {
		err = detachMount(abs)
	} else {
		err = unmountPath(abs)
	}
	if errors.Is(err, syscall.EBUSY) {
		return fail(stderr, "%s is busy: close the files and shells using it, or use --lazy", pos[0])
	}
	if err != nil {
		return fail(stderr, "unmounting %s: %v", pos[0], err)
	}
	if !lazy {
		waitServerExit(runtimeDir(), abs, stderr)
	}
	return 0
}
