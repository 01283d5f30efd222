package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// checkFUSE says how to get FUSE when this machine cannot mount it.
func checkFUSE() error {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return errors.New("FUSE is not available (/dev/fuse is missing): install fuse3 (Debian/Ubuntu: sudo apt-get install fuse3) and load the fuse module (sudo modprobe fuse)")
	}
	if os.Geteuid() != 0 && fusermount() == "" {
		return errors.New("fusermount3 is not installed: install fuse3 (Debian/Ubuntu: sudo apt-get install fuse3)")
	}
	return nil
}

func fusermount() string {
	for _, name := range []string{"fusermount3", "fusermount"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// isMountpoint reports whether abs is a mount point, from mountinfo.
func isMountpoint(abs string) (bool, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && unescapeMountinfo(fields[4]) == abs {
			return true, nil
		}
	}
	return false, sc.Err()
}

// unescapeMountinfo undoes the octal escapes mountinfo uses for spaces,
// tabs, newlines and backslashes.
func unescapeMountinfo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unmountPath unmounts abs; EBUSY when files are open inside.
func unmountPath(abs string) error {
	if os.Geteuid() == 0 {
		return syscall.Unmount(abs, 0)
	}
	return runFusermount("-u", abs)
}

// detachMount detaches abs now; the server ends when its files close.
func detachMount(abs string) error {
	if os.Geteuid() == 0 {
		return syscall.Unmount(abs, syscall.MNT_DETACH)
	}
	return runFusermount("-uz", abs)
}

// forceUnmount removes a stale mount whose server is gone.
func forceUnmount(abs string) error { return detachMount(abs) }

func runFusermount(flag, abs string) error {
	fm := fusermount()
	if fm == "" {
		return errors.New("fusermount3 is not installed: install fuse3")
	}
	out, err := exec.Command(fm, flag, "--", abs).CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if strings.Contains(msg, "busy") {
			return fmt.Errorf("%s: %w", msg, syscall.EBUSY)
		}
		return fmt.Errorf("%s: %s", fm, msg)
	}
	return nil
}
