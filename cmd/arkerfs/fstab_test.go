package main

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestIsFstabCall(t *testing.T) {
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"vm", "/mnt/vm"}, true},
		{[]string{"vm", "/mnt/vm", "-o", "rw,dev,suid"}, true},
		{[]string{"vm", "/mnt/vm", "-orw", "-f"}, true},
		{[]string{"moutn", "vm", "/mnt"}, false},
		{[]string{"vm"}, false},
		{[]string{"-x", "/mnt"}, false},
		{[]string{"vm", "/mnt", "extra"}, false},
	} {
		if got := isFstabCall(c.args); got != c.want {
			t.Errorf("isFstabCall(%q) = %v, want %v", c.args, got, c.want)
		}
	}
}

// TestFstabArgs maps the -o lists mount.fuse3 passes onto mount flags.
func TestFstabArgs(t *testing.T) {
	cases := []struct {
		args []string
		want []string // nil: an error containing wantErr
		err  string
	}{
		// What mount(8) and mount.fuse3 pass as root: rw, dev, suid.
		{[]string{"local", "/mnt/vm", "-o", "rw,dev,suid"}, []string{"--fsname=local", "--", "local", "/mnt/vm"}, ""},
		{[]string{"vm1", "/mnt/vm", "-o", "ro,allow_other,default_permissions,uid=1000,gid=1000,noexec,_netdev,nofail,noatime,x-systemd.automount,comment=x"},
			[]string{"--fsname=vm1", "--read-only", "--allow-other", "--uid=1000", "--gid=1000", "--noexec", "--", "vm1", "/mnt/vm"}, ""},
		{[]string{"vm1", "/m", "-o", "cache_size=512,disk-cache-size=1024,base_url=http://127.0.0.1:7070/api,api_key_file=/etc/arker/key,debug,log_format=json"},
			[]string{"--fsname=vm1", "--cache-size=512", "--disk-cache-size=1024", "--base-url=http://127.0.0.1:7070/api", "--api-key-file=/etc/arker/key",
				"--debug", "--log-format=json", "--", "vm1", "/m"}, ""},
		{[]string{"vm1", "/m", "-o", "root=/home/user/a\\,b", "-f"}, []string{"--fsname=vm1", "--root=/home/user/a,b", "--foreground", "--", "vm1", "/m"}, ""},
		{[]string{"vm1", "/m", "-o", "exec,config=/home/me/.arker/config.json"}, []string{"--fsname=vm1", "--noexec=false", "--config=/home/me/.arker/config.json", "--", "vm1", "/m"}, ""},
		{[]string{"vm1", "/m", "-o", "user=alice,nodev,nosuid"}, []string{"--fsname=vm1", "--", "vm1", "/m"}, ""},
		{[]string{"vm1", "/m", "-o", "fsname=work-vm"}, []string{"--fsname=vm1", "--fsname=work-vm", "--", "vm1", "/m"}, ""},
		{[]string{"vm1", "/m", "-o", "rw,frobnicate"}, nil, `unknown mount option "frobnicate"`},
		{[]string{"vm1", "/m", "-o", "sync"}, nil, `unknown mount option "sync"`},
		{[]string{"vm1", "/m", "-o", "ready_fd=3"}, nil, `unknown mount option "ready_fd=3"`},
		{[]string{"vm1", "/m", "-o", "uid=me"}, nil, `mount option "uid=me"`},
		{[]string{"vm1", "/m", "-o", "cache_size"}, nil, `needs a value`},
		{[]string{"vm1", "/m", "-o"}, nil, `-o needs`},
		{[]string{"vm1", "/dev/fd/3", "-o", "rw,dev,suid"}, []string{"--fsname=vm1", "--", "vm1", "/dev/fd/3"}, ""},
	}
	for _, c := range cases {
		got, err := fstabArgs(c.args)
		if c.want == nil {
			if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "\n") {
				t.Errorf("fstabArgs(%q): %v, want one line with %q", c.args, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("fstabArgs(%q)\n = %q %v\nwant %q", c.args, got, err, c.want)
		}
	}
}

// TestFstabRefusesInOneLine runs an fstab call with an unknown option
// through the command: one line, exit 1, nothing mounted.
func TestFstabRefusesInOneLine(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"vm1", t.TempDir(), "-o", "rw,bogus=1"}, &out, &errb)
	if code != 1 || strings.Count(errb.String(), "\n") != 1 || !strings.Contains(errb.String(), `"bogus=1"`) {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}
