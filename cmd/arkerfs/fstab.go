package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// mount(8) mounts a "fuse.arkerfs" file system (from /etc/fstab, or
// `mount -t fuse.arkerfs VM /mnt/vm -o OPTS`) through mount.fuse3, which
// runs, through /bin/sh with the default PATH,
//
//	arkerfs VM /mnt/vm -o OPTS
//
// after taking out the options that are its own or mount(8)'s (_netdev,
// nofail, noauto, setuid=, drop_privileges, ...) and adding "dev,suid"
// when root mounts. With drop_privileges, mount.fuse3 mounts itself and
// passes the FUSE connection as MOUNTPOINT /dev/fd/N to a server without
// privileges. runFstab accepts exactly that: each option is a
// mount flag spelt with '_' or '-' (cache_size=512, read_only), or one
// of the standard ones below; anything else is refused in one line.
// It mounts in the background, as mount(8) expects its helper to
// return once the file system is mounted; -f keeps it in the foreground.
// The mount's source in the mount table is the VM as written in fstab.

// fstabIgnored are standard mount options that arkerfs takes and has no
// use for: mount(8) and systemd act on them, or they do not apply to a
// FUSE mount. "dev" and "suid" are among them: an arkerfs mount is
// always nodev,nosuid.
var fstabIgnored = map[string]bool{
	"rw": true, "defaults": true, "auto": true, "noauto": true, "user": true, "nouser": true,
	"users": true, "owner": true, "group": true, "_netdev": true, "nofail": true,
	"dev": true, "nodev": true, "suid": true, "nosuid": true,
	"atime": true, "noatime": true, "relatime": true, "norelatime": true, "strictatime": true,
	"diratime": true, "nodiratime": true, "lazytime": true, "nolazytime": true, "async": true,
	"default_permissions": true, // always there with allow_other; without it only the owner has access
}

// fstabRenamed are standard options with an arkerfs flag of another name.
var fstabRenamed = map[string]string{
	"ro":          "--read-only",
	"exec":        "--noexec=false",
	"noexec":      "--noexec",
	"allow_other": "--allow-other",
}

// isFstabCall reports whether args (after the program name) are a
// mount.fuse3-style call, `VM MOUNTPOINT [-o OPTS]...`, rather than a
// command.
func isFstabCall(args []string) bool {
	if len(args) < 2 || strings.HasPrefix(args[0], "-") || strings.HasPrefix(args[1], "-") {
		return false
	}
	for i := 2; i < len(args); i++ {
		switch {
		case args[i] == "-o":
			i++ // its value
		case !strings.HasPrefix(args[i], "-"):
			return false
		}
	}
	return true
}

// runFstab mounts as mount.fuse3 asks.
func runFstab(args []string, stdout, stderr io.Writer) int {
	mountArgs, err := fstabArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "arkerfs: %v\n", err)
		return 1
	}
	return runMount(mountArgs, stdout, stderr)
}

// fstabArgs turns `VM MOUNTPOINT [-o OPTS]... [-f]` into the arguments of
// arkerfs mount.
func fstabArgs(args []string) ([]string, error) {
	vm, mnt := args[0], args[1]
	var opts []string
	rest := args[2:]
	for i := 0; i < len(rest); i++ {
		switch a := rest[i]; {
		case a == "-o":
			if i+1 >= len(rest) {
				return nil, fmt.Errorf("-o needs a list of options")
			}
			i++
			opts = append(opts, splitOptions(rest[i])...)
		case strings.HasPrefix(a, "-o"):
			opts = append(opts, splitOptions(a[2:])...)
		case a == "-f":
			opts = append(opts, "foreground")
		default:
			return nil, fmt.Errorf("unexpected argument %q (want VM MOUNTPOINT -o OPTIONS)", a)
		}
	}
	var m mountFlags
	fl := flag.NewFlagSet("mount", flag.ContinueOnError)
	m.register(fl)
	// The source in the mount table is the VM as fstab names it, so that
	// mount -a and findmnt match the entry with the mount.
	out := []string{"--fsname=" + vm}
	for _, o := range opts {
		flagArg, err := fstabOption(fl, o)
		if err != nil {
			return nil, err
		}
		if flagArg != "" {
			out = append(out, flagArg)
		}
	}
	return append(out, "--", vm, mnt), nil
}

// fstabOption is the mount flag for one -o option: "" for one to ignore,
// an error naming it for one arkerfs does not know.
func fstabOption(fl *flag.FlagSet, o string) (string, error) {
	key, value, hasValue := strings.Cut(o, "=")
	switch {
	case fstabIgnored[key], // with a value too: mount(8) passes user=NAME for a user mount
		strings.HasPrefix(key, "x-"), key == "comment", key == "subtype":
		return "", nil
	case fstabRenamed[key] != "" && !hasValue:
		return fstabRenamed[key], nil
	}
	name := strings.ReplaceAll(key, "_", "-")
	f := fl.Lookup(name)
	if f == nil || len(name) < 2 {
		return "", fmt.Errorf("unknown mount option %q (arkerfs takes the flags of 'arkerfs mount -h', written with _ or -)", o)
	}
	if !hasValue {
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !b.IsBoolFlag() {
			return "", fmt.Errorf("mount option %q needs a value (%s=...)", key, key)
		}
		return "--" + name, nil
	}
	if err := fl.Set(name, value); err != nil {
		return "", fmt.Errorf("mount option %q: %v", o, err)
	}
	return "--" + name + "=" + value, nil
}

// splitOptions splits a -o list at commas; a backslash escapes a comma.
func splitOptions(s string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case s[i] == ',':
			if cur.Len() > 0 {
				out = append(out, cur.String())
			}
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}
