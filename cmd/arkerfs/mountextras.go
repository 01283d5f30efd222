package main

import (
	"flag"
	"os"
	"runtime"
)

// mountExtras are the mount flags of everyday use: where the server
// runs, who owns the files, and the macOS volume.
type mountExtras struct {
	foreground  bool
	uid, gid    int
	volname     string
	appleDouble bool
	noexec      bool
	fsname      string
}

func (x *mountExtras) register(fl *flag.FlagSet) {
	fl.BoolVar(&x.foreground, "foreground", false, "serve in the foreground until unmounted (for systemd and launchd); without it mount returns once the mount answers")
	fl.BoolVar(&x.foreground, "f", false, "short for --foreground")
	fl.BoolVar(&x.noexec, "noexec", false, "refuse to run programs from the mount")
	fl.IntVar(&x.uid, "uid", -1, "user id that owns every file (-1: the user who mounts)")
	fl.IntVar(&x.gid, "gid", -1, "group id that owns every file (-1: the user's group)")
	fl.StringVar(&x.fsname, "fsname", "", "the mount's source in the mount table (default \"arkerfs:VM\"; from /etc/fstab, the VM as written there)")
	fl.StringVar(&x.volname, "volname", "", "macOS: the volume name shown in Finder (default \"arkerfs VM\")")
	fl.BoolVar(&x.appleDouble, "appledouble", false, "macOS: let Finder's ._* and .DS_Store files through to the VM (by default they are refused on the mount)")
}

// owner is the uid and gid that own every file.
func (x *mountExtras) owner() (uid, gid uint32) {
	u, g := os.Getuid(), os.Getgid()
	if x.uid >= 0 {
		u = x.uid
	}
	if x.gid >= 0 {
		g = x.gid
	}
	return uint32(u), uint32(g)
}

// check says what is wrong with the flags, or "".
func (x *mountExtras) check() string {
	if x.uid < -1 || x.gid < -1 || x.uid > 1<<32-2 || x.gid > 1<<32-2 {
		return "--uid and --gid take a numeric id"
	}
	return ""
}

// fuseOptions are the mount options these flags add for the kernel (or
// macFUSE) on goos: allow_other always comes with default_permissions,
// so that the kernel checks each user against the modes shown; an
// arkerfs mount is never suid or dev, whoever mounts it (a setuid file
// from the VM must not run with local privileges).
func (x *mountExtras) fuseOptions(goos, vm string, allowOther bool) []string {
	opts := []string{"nosuid", "nodev"}
	if x.noexec {
		opts = append(opts, "noexec")
	}
	if allowOther {
		opts = append(opts, "default_permissions")
	}
	if goos == "darwin" {
		name := x.volname
		if name == "" {
			name = "arkerfs " + vm
		}
		opts = append(opts, "volname="+name)
		if !x.appleDouble {
			// macFUSE refuses ._* and .DS_Store files, and Finder stops
			// asking the VM for com.apple.* attributes.
			opts = append(opts, "noappledouble", "noapplexattr")
		}
	}
	return opts
}

// source is the mount's source in the mount table.
func (x *mountExtras) source(vm string) string {
	if x.fsname != "" {
		return x.fsname
	}
	return "arkerfs:" + vm
}

// fuseOptionsHere is fuseOptions for this machine.
func (x *mountExtras) fuseOptionsHere(vm string, allowOther bool) []string {
	return x.fuseOptions(runtime.GOOS, vm, allowOther)
}
