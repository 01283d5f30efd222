package integration

import (
	"sort"
	"testing"

	"github.com/hanwen/go-fuse/v2/posixtest"
)

// posixSkipped are the posixtest cases arkerfs does not run, and why.
var posixSkipped = map[string]string{
	"XAttr":               "extended attributes are not carried by the Arker API",
	"XAttrLarge":          "extended attributes are not carried by the Arker API",
	"Fallocate":           "fallocate has no counterpart in the sync API",
	"FallocateKeepSize":   "fallocate has no counterpart in the sync API",
	"FcntlFlockLocksFile": "locks are local to this machine (the kernel's), not shared with the VM",
	"FcntlFlockSetLk":     "locks are local to this machine (the kernel's), not shared with the VM",
	"DirectIO":            "arkerfs serves reads through the page cache",
}

func TestPosixSuite(t *testing.T) {
	e := newEnv(t)
	var names []string
	for name := range posixtest.All {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fn := posixtest.All[name]
		t.Run(name, func(t *testing.T) {
			if why, ok := posixSkipped[name]; ok {
				t.Skip(why)
			}
			dir := e.path("posix-" + name)
			if err := mkdirFresh(dir); err != nil {
				t.Fatal(err)
			}
			fn(t, dir)
		})
	}
}
