package emulator

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// The run sandbox shows every mapping at its VM path. Where a VM path does
// not exist on the host (no /home/user, say), a small tmpfs is mounted on
// its deepest existing ancestor (hiding what the host has there, in the
// sandbox only) and the missing directories are made in it. Every host
// directory is opened before anything is mounted, so a tmpfs or a bind
// cannot hide a source (a home below /home, a mapping below /tmp).

// mountKind is what a mount step does.
type mountKind int

const (
	mountTmpfs mountKind = iota // a tmpfs on path
	mountMkdir                  // mkdir path (inside a tmpfs of the plan)
	mountBind                   // bind the source (index into the mappings) on path
)

// mountStep is one step of a plan.
type mountStep struct {
	kind mountKind
	path string
	src  int
}

// planMounts makes the steps that show each of vms (the mappings' VM
// paths) in the sandbox; isDir tells whether a path is a directory on the
// host.
func planMounts(vms []string, isDir func(string) bool) ([]mountStep, error) {
	var tmpfs []string
	for _, vm := range vms {
		if isDir(vm) || underAny(vm, tmpfs) {
			continue
		}
		a := path.Dir(vm)
		for a != "/" && !isDir(a) {
			a = path.Dir(a)
		}
		if a == "/" {
			return nil, fmt.Errorf("%s has no parent directory to mount on", vm)
		}
		// A new tmpfs hides the ones below it.
		tmpfs = slices.DeleteFunc(tmpfs, func(t string) bool { return under(t, a) })
		tmpfs = append(tmpfs, a)
	}
	slices.Sort(tmpfs)
	var steps []mountStep
	for _, t := range tmpfs {
		steps = append(steps, mountStep{kind: mountTmpfs, path: t})
	}
	made := map[string]bool{}
	var dirs []string
	for _, vm := range vms {
		for _, t := range tmpfs {
			if !under(vm, t) {
				continue
			}
			for d := vm; d != t; d = path.Dir(d) {
				if !made[d] {
					made[d] = true
					dirs = append(dirs, d)
				}
			}
		}
	}
	slices.SortFunc(dirs, func(a, b string) int {
		if c := strings.Count(a, "/") - strings.Count(b, "/"); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	for _, d := range dirs {
		steps = append(steps, mountStep{kind: mountMkdir, path: d})
	}
	for i, vm := range vms {
		steps = append(steps, mountStep{kind: mountBind, path: vm, src: i})
	}
	return steps, nil
}

// underAny reports whether p is one of dirs or below one.
func underAny(p string, dirs []string) bool {
	return slices.ContainsFunc(dirs, func(d string) bool { return under(p, d) })
}
