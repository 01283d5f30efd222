package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// checkFUSE says how to get macFUSE when it is missing.
func checkFUSE() error {
	for _, p := range []string{"/Library/Filesystems/macfuse.fs", "/Library/Filesystems/osxfuse.fs"} {
		if _, err := os.Stat(p); err == nil {
			return nil
		}
	}
	return errors.New("macFUSE is not installed: install it from https://macfuse.github.io (or: brew install --cask macfuse) and allow its system extension")
}

// isMountpoint reports whether abs is a mount point: its device differs
// from its parent's.
func isMountpoint(abs string) (bool, error) {
	var st, parent syscall.Stat_t
	if err := syscall.Stat(abs, &st); err != nil {
		return false, err
	}
	if err := syscall.Stat(abs+"/..", &parent); err != nil {
		return false, err
	}
	return st.Dev != parent.Dev, nil
}

func unmountPath(abs string) error  { return runUmount(abs) }
func detachMount(abs string) error  { return runUmount("-f", abs) }
func forceUnmount(abs string) error { return runUmount("-f", abs) }

func runUmount(args ...string) error {
	out, err := exec.Command("/sbin/umount", args...).CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if strings.Contains(msg, "busy") {
			return fmt.Errorf("%s: %w", msg, syscall.EBUSY)
		}
		return fmt.Errorf("umount: %s", msg)
	}
	return nil
}
