//go:build linux

package helper

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// shell is a POSIX sh the helper must work under, as the run endpoint
// calls it: argv then the command.
type shell struct {
	name string
	argv []string
}

var shells = []shell{
	{"dash", []string{"dash", "-c"}},
	{"bash-posix", []string{"bash", "--posix", "-c"}},
}

// eachShell runs f under every installed shell.
func eachShell(t *testing.T, f func(t *testing.T, sh shell)) {
	t.Helper()
	for _, sh := range shells {
		t.Run(sh.name, func(t *testing.T) {
			if _, err := exec.LookPath(sh.argv[0]); err != nil {
				t.Skipf("%s not installed", sh.argv[0])
			}
			f(t, sh)
		})
	}
}

// runText runs command under sh, behind the wrap argv (setpriv,
// unshare...), and returns stdout; stderr must be empty.
func runText(t *testing.T, sh shell, wrap []string, command string, extra ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	argv := append(append(append([]string{}, wrap...), sh.argv...), command)
	argv = append(argv, extra...)
	c := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		t.Fatalf("%s: %v\nstderr: %s", sh.name, err, stderr.Bytes())
	}
	if stderr.Len() != 0 {
		t.Fatalf("%s wrote to stderr: %q", sh.name, stderr.Bytes())
	}
	return stdout.Bytes()
}

// runOpsAs runs ops in one command behind wrap and parses the output.
func runOpsAs(t *testing.T, sh shell, wrap []string, ops ...Op) []Result {
	t.Helper()
	cmd, err := Command(ops)
	if err != nil {
		t.Fatalf("Command: %v", err)
	}
	out := runText(t, sh, wrap, cmd)
	res, err := Parse(out, ops)
	if err != nil {
		t.Fatalf("Parse: %v\noutput: %q", err, out)
	}
	return res
}

func runOps(t *testing.T, sh shell, ops ...Op) []Result {
	t.Helper()
	return runOpsAs(t, sh, nil, ops...)
}

// wantErr fails unless r failed with errno.
func wantErr(t *testing.T, what string, r Result, errno string) {
	t.Helper()
	if r.Err == nil || r.Err.Errno != errno {
		t.Errorf("%s: got error %v, want %s", what, r.Err, errno)
	}
	if r.Err != nil && (r.Attr != nil || r.Entries != nil || r.Statfs != nil) {
		t.Errorf("%s: failed result carries data", what)
	}
}

// wantOK fails unless r succeeded; with attrs it must carry attributes
// equal to lstat(path).
func wantOK(t *testing.T, what string, r Result, path string) {
	t.Helper()
	if r.Err != nil {
		t.Errorf("%s: %v", what, r.Err)
		return
	}
	if path != "" {
		if r.Attr == nil {
			t.Errorf("%s: no attributes", what)
			return
		}
		checkAttr(t, what, path, *r.Attr)
	}
}

// checkAttr compares a with lstat(path), but for the atime of
// directories and symlinks.
func checkAttr(t *testing.T, what, path string, a Attr) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		t.Errorf("%s: lstat: %v", what, err)
		return
	}
	want := Attr{
		Type: typeOf(st.Mode), Perm: st.Mode & 07777, Nlink: uint32(st.Nlink), UID: st.Uid, GID: st.Gid,
		Size: st.Size, Blocks: st.Blocks, Ino: st.Ino, Dev: st.Dev,
		AtimeNs: st.Atim.Nano(), MtimeNs: st.Mtim.Nano(), CtimeNs: st.Ctim.Nano(),
	}
	if a.Type == TypeDir || a.Type == TypeSymlink {
		// Reading a directory or a link (as later steps do) moves its atime.
		want.AtimeNs = a.AtimeNs
	}
	if a != want {
		t.Errorf("%s: attributes\n got %+v\nwant %+v", what, a, want)
	}
}

func typeOf(mode uint32) FileType {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		return TypeRegular
	case syscall.S_IFDIR:
		return TypeDir
	case syscall.S_IFLNK:
		return TypeSymlink
	case syscall.S_IFIFO:
		return TypeFIFO
	case syscall.S_IFSOCK:
		return TypeSocket
	case syscall.S_IFCHR:
		return TypeChar
	case syscall.S_IFBLK:
		return TypeBlock
	}
	return 0
}

// tree makes files (name → content; a trailing "/" makes a directory, a
// "->target" content a symlink) under dir.
func tree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case name[len(name)-1] == '/':
			err = os.MkdirAll(p, 0o755)
		case len(content) > 2 && content[:2] == "->":
			err = os.Symlink(content[2:], p)
		default:
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// exists reports whether path exists (lstat).
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
