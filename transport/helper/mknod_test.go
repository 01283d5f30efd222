//go:build linux

package helper

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestMknod makes every special file type through the real script: the
// mode must be exactly the one asked for (the script's umask is 077, and
// mknod -m refuses set-ID bits), and a socket's name may be longer than
// sun_path.
func TestMknod(t *testing.T) {
	eachShell(t, func(t *testing.T, sh shell) {
		d := t.TempDir()
		j := func(n string) string { return filepath.Join(d, n) }
		tree(t, d, map[string]string{"f": "x"})
		long := strings.Repeat("s", 200)
		res := runOps(t, sh,
			Op{Kind: OpMknod, Path: j("fifo"), Type: TypeFIFO, Mode: 0o644},
			Op{Kind: OpMknod, Path: j("suid"), Type: TypeFIFO, Mode: 0o4751},
			Op{Kind: OpMknod, Path: j("sock"), Type: TypeSocket, Mode: 0o751},
			Op{Kind: OpMknod, Path: j(long), Type: TypeSocket, Mode: 0o1777},
			Op{Kind: OpMknod, Path: j("fifo"), Type: TypeFIFO, Mode: 0o600},
			Op{Kind: OpMknod, Path: j("sock"), Type: TypeSocket, Mode: 0o600},
			Op{Kind: OpMknod, Path: j("f"), Type: TypeSocket, Mode: 0o600},
			Op{Kind: OpMknod, Path: j("missing/x"), Type: TypeFIFO, Mode: 0o600},
			Op{Kind: OpMknod, Path: j("missing/x"), Type: TypeSocket, Mode: 0o600},
			Op{Kind: OpMknod, Path: j("f/x"), Type: TypeSocket, Mode: 0o600},
		)
		for i, c := range []struct {
			name string
			typ  FileType
			perm uint32
		}{{"fifo", TypeFIFO, 0o644}, {"suid", TypeFIFO, 0o4751}, {"sock", TypeSocket, 0o751}, {long, TypeSocket, 0o1777}} {
			wantOK(t, "mknod "+c.name[:4], res[i], j(c.name))
			if a := res[i].Attr; a != nil && (a.Type != c.typ || a.Perm != c.perm) {
				t.Errorf("mknod %s: type %d mode %o, want %d %o", c.name[:4], a.Type, a.Perm, c.typ, c.perm)
			}
		}
		if es, _ := os.ReadDir(d); len(es) != 5 {
			t.Errorf("%d entries after mknod, want 5 (no temporary socket left)", len(es))
		}
		wantErr(t, "mknod over a FIFO", res[4], "EEXIST")
		wantErr(t, "socket over a socket", res[5], "EEXIST")
		wantErr(t, "socket over a file", res[6], "EEXIST")
		wantErr(t, "mknod in a missing directory", res[7], "ENOENT")
		wantErr(t, "socket in a missing directory", res[8], "ENOENT")
		wantErr(t, "socket below a file", res[9], "ENOTDIR")
	})
}

// TestMknodDevices makes devices as root, and as nobody, whom the VM's
// kernel refuses with EPERM.
func TestMknodDevices(t *testing.T) {
	needRoot(t, "setpriv")
	eachShell(t, func(t *testing.T, sh shell) {
		d := openTempDir(t)
		j := func(n string) string { return filepath.Join(d, n) }
		os.Chmod(d, 0o777)
		res := runOps(t, sh,
			Op{Kind: OpMknod, Path: j("c"), Type: TypeChar, Mode: 0o666, Major: 1, Minor: 3},
			Op{Kind: OpMknod, Path: j("b"), Type: TypeBlock, Mode: 0o2640, Major: 4095, Minor: 1<<20 - 1},
		)
		for i, c := range []struct {
			name         string
			typ          FileType
			perm         uint32
			major, minor uint32
		}{{"c", TypeChar, 0o666, 1, 3}, {"b", TypeBlock, 0o2640, 4095, 1<<20 - 1}} {
			wantOK(t, "mknod "+c.name, res[i], j(c.name))
			var st syscall.Stat_t
			if err := syscall.Lstat(j(c.name), &st); err != nil {
				t.Fatal(err)
			}
			if typeOf(st.Mode) != c.typ || st.Mode&07777 != c.perm || unixMajor(st.Rdev) != c.major || unixMinor(st.Rdev) != c.minor {
				t.Errorf("mknod %s: mode %o rdev %d,%d", c.name, st.Mode, unixMajor(st.Rdev), unixMinor(st.Rdev))
			}
		}
		res = runOpsAs(t, sh, nobody,
			Op{Kind: OpMknod, Path: j("n"), Type: TypeChar, Mode: 0o600, Major: 1, Minor: 3},
			Op{Kind: OpMknod, Path: j("p"), Type: TypeFIFO, Mode: 0o600})
		wantErr(t, "device as nobody", res[0], "EPERM")
		wantOK(t, "FIFO as nobody", res[1], j("p"))
	})
}

func unixMajor(dev uint64) uint32 { return uint32((dev>>8)&0xfff | (dev>>32)&^0xfff) }
func unixMinor(dev uint64) uint32 { return uint32(dev&0xff | (dev>>12)&^0xff) }

// TestMknodSocketWithoutPerl answers ENOTSUP for a socket on a VM
// without perl, and still makes FIFOs there.
func TestMknodSocketWithoutPerl(t *testing.T) {
	bin := t.TempDir()
	for _, tool := range []string{"dash", "bash", "find", "stat", "mknod", "chmod", "rm"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			continue // a missing shell is skipped by eachShell
		}
		if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	eachShell(t, func(t *testing.T, sh shell) {
		d := t.TempDir()
		res := runOpsAs(t, sh, []string{"env", "PATH=" + bin},
			Op{Kind: OpMknod, Path: filepath.Join(d, "s"), Type: TypeSocket, Mode: 0o600},
			Op{Kind: OpMknod, Path: filepath.Join(d, "p"), Type: TypeFIFO, Mode: 0o600})
		wantErr(t, "socket without perl", res[0], "ENOTSUP")
		wantOK(t, "FIFO without perl", res[1], filepath.Join(d, "p"))
		if exists(filepath.Join(d, "s")) {
			t.Error("socket made without perl?")
		}
	})
}
