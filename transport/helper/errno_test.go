//go:build linux

package helper

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// nobody runs a command as user nobody, so that permissions apply.
var nobody = []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}

func needRoot(t *testing.T, tool string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("%s not installed", tool)
	}
}

// openTempDir makes dir and its parent traversable by everyone.
func openTempDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	for _, p := range []string{d, filepath.Dir(d)} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func TestPermissionErrnos(t *testing.T) {
	needRoot(t, "setpriv")
	eachShell(t, func(t *testing.T, sh shell) {
		d := openTempDir(t)
		j := func(n string) string { return filepath.Join(d, n) }
		tree(t, d, map[string]string{"ro/f": "root's", "ro/sub/": "", "closed/f": "", "mine/": ""})
		os.Chmod(j("closed"), 0o700)
		os.Chown(j("mine"), 65534, 65534)
		res := runOpsAs(t, sh, nobody,
			Op{Kind: OpStat, Path: j("closed/f")},
			Op{Kind: OpList, Path: j("closed")},
			Op{Kind: OpTree, Path: j("closed"), Depth: 2, Limit: 10},
			Op{Kind: OpMkdir, Path: j("ro/new"), Mode: 0o755},
			Op{Kind: OpCreate, Path: j("ro/new"), Mode: 0o644, Exclusive: true},
			Op{Kind: OpUnlink, Path: j("ro/f")},
			Op{Kind: OpRmdir, Path: j("ro/sub")},
			Op{Kind: OpRename, Path: j("ro/f"), Path2: j("mine/f")},
			Op{Kind: OpChmod, Path: j("ro/f"), Mode: 0o600},
			Op{Kind: OpUtimens, Path: j("ro/f"), Mtime: Time{Set: true, Ns: 1e18}},
			Op{Kind: OpUtimens, Path: j("ro/f"), Atime: Time{Set: true, Now: true}, Mtime: Time{Set: true, Now: true}},
			Op{Kind: OpTruncate, Path: j("ro/f"), Size: 0},
			Op{Kind: OpSymlink, Path: j("ro/s"), Target: "x"},
			Op{Kind: OpCreate, Path: j("mine/ok"), Mode: 0o600, Exclusive: true},
			Op{Kind: OpUtimens, Path: j("ro/f"), Mtime: Time{Set: true, Now: true}},
		)
		wantErr(t, "stat in closed dir", res[0], "EACCES")
		wantErr(t, "list closed dir", res[1], "EACCES")
		wantErr(t, "tree closed dir", res[2], "EACCES")
		wantErr(t, "mkdir in read-only dir", res[3], "EACCES")
		wantErr(t, "create in read-only dir", res[4], "EACCES")
		wantErr(t, "unlink in read-only dir", res[5], "EACCES")
		wantErr(t, "rmdir in read-only dir", res[6], "EACCES")
		wantErr(t, "rename out of read-only dir", res[7], "EACCES")
		wantErr(t, "chmod another's file", res[8], "EPERM")
		wantErr(t, "set another's mtime", res[9], "EPERM")
		wantErr(t, "touch another's file", res[10], "EACCES")
		wantErr(t, "truncate another's file", res[11], "EACCES")
		wantErr(t, "symlink in read-only dir", res[12], "EACCES")
		wantOK(t, "create as nobody", res[13], j("mine/ok"))
		// utimensat lets a writer set both times to now, nothing else.
		wantErr(t, "set another's mtime to now", res[14], "EPERM")
	})
}

// inMountNS runs ops as root in a private mount namespace, after setup (a
// sh script whose $1.. are args).
func inMountNS(t *testing.T, sh shell, setup string, args []string, ops ...Op) []Result {
	t.Helper()
	cmd, err := Command(ops)
	if err != nil {
		t.Fatal(err)
	}
	shift := strconv.Itoa(len(args) + 1) // the args and "--"
	wrap := []string{"unshare", "-m", "--propagation", "private", "sh", "-c", setup + ` && shift ` + shift + ` && exec "$@"`, "sh"}
	wrap = append(wrap, args...)
	wrap = append(wrap, "--")
	out := runText(t, sh, wrap, cmd)
	res, err := Parse(out, ops)
	if err != nil {
		t.Fatalf("Parse: %v\n%q", err, out)
	}
	return res
}

func TestFileSystemErrnos(t *testing.T) {
	needRoot(t, "unshare")
	if err := exec.Command("unshare", "-m", "true").Run(); err != nil {
		t.Skipf("no mount namespaces here: %v", err)
	}
	eachShell(t, func(t *testing.T, sh shell) {
		d := t.TempDir()
		j := func(n string) string { return filepath.Join(d, n) }
		tree(t, d, map[string]string{"ro/": "", "full/": "", "other/": "", "f": "x", "dir/": "", "mnt/": ""})
		setup := `mount -t tmpfs -o size=1m tmpfs "$1" && echo x >"$1/f" && mkdir "$1/d" && mount -o remount,ro "$1" &&
			mount -t tmpfs -o nr_inodes=2 tmpfs "$2" && mount -t tmpfs tmpfs "$3" && mount -t tmpfs tmpfs "$4"`
		ops := []Op{
			Op{Kind: OpMkdir, Path: j("ro/x"), Mode: 0o755},
			Op{Kind: OpCreate, Path: j("ro/x"), Mode: 0o644, Exclusive: true},
			Op{Kind: OpUnlink, Path: j("ro/f")},
			Op{Kind: OpRmdir, Path: j("ro/d")},
			Op{Kind: OpRename, Path: j("ro/f"), Path2: j("ro/g")},
			Op{Kind: OpChmod, Path: j("ro/f"), Mode: 0o600},
			Op{Kind: OpUtimens, Path: j("ro/f"), Mtime: Time{Set: true, Now: true}},
			Op{Kind: OpTruncate, Path: j("ro/f"), Size: 0},
			Op{Kind: OpSymlink, Path: j("ro/s"), Target: "x"},
			Op{Kind: OpLink, Path: j("ro/f"), Path2: j("ro/h")},
			Op{Kind: OpMkdir, Path: j("full/a"), Mode: 0o755}, // 10: uses the last inode
			Op{Kind: OpCreate, Path: j("full/b"), Mode: 0o644, Exclusive: true},
			Op{Kind: OpMkdir, Path: j("full/c"), Mode: 0o755},
			Op{Kind: OpRename, Path: j("f"), Path2: j("other/f")},
			Op{Kind: OpRename, Path: j("dir"), Path2: j("other/dir")},
			Op{Kind: OpLink, Path: j("f"), Path2: j("other/g")},
			Op{Kind: OpRename, Path: j("dir"), Path2: j("other/dir"), NoReplace: true},
			Op{Kind: OpRename, Path: j("f"), Path2: j("other/f2"), NoReplace: true},
			Op{Kind: OpRmdir, Path: j("mnt")},
			Op{Kind: OpRename, Path: j("mnt"), Path2: j("mnt2")},
			Op{Kind: OpStatfs, Path: j("ro")},
		}
		res := inMountNS(t, sh, setup, []string{j("ro"), j("full"), j("other"), j("mnt")}, ops...)
		for i := 0; i < 10; i++ {
			wantErr(t, fmt.Sprintf("%s on a read-only fs", ops[i].Kind), res[i], "EROFS")
		}
		wantOK(t, "mkdir on full fs", res[10], "")
		wantErr(t, "create on full fs", res[11], "ENOSPC")
		wantErr(t, "mkdir on full fs", res[12], "ENOSPC")
		wantErr(t, "rename file across fs", res[13], "EXDEV")
		wantErr(t, "rename dir across fs", res[14], "EXDEV")
		wantErr(t, "link across fs", res[15], "EXDEV")
		wantErr(t, "noreplace rename dir across fs", res[16], "EXDEV")
		wantErr(t, "noreplace rename file across fs", res[17], "EXDEV")
		wantErr(t, "rmdir mount point", res[18], "EBUSY")
		wantErr(t, "rename mount point", res[19], "EBUSY")
		if s := res[20].Statfs; res[20].Err != nil || s == nil || s.Blocks != 256 {
			t.Errorf("statfs of a 1 MiB tmpfs: %+v %v", s, res[20].Err)
		}
		if !exists(j("f")) || !exists(j("dir")) {
			t.Error("a cross-device rename moved something")
		}
	})
}

// TestErrnoClassification checks the script's table of C-locale messages
// against the system's own errno texts, for every errno the parser knows.
func TestErrnoClassification(t *testing.T) {
	nums := map[string]syscall.Errno{
		"ENOENT": syscall.ENOENT, "EEXIST": syscall.EEXIST, "ENOTEMPTY": syscall.ENOTEMPTY,
		"ENOTDIR": syscall.ENOTDIR, "EISDIR": syscall.EISDIR, "EACCES": syscall.EACCES,
		"EPERM": syscall.EPERM, "EINVAL": syscall.EINVAL, "ENAMETOOLONG": syscall.ENAMETOOLONG,
		"ELOOP": syscall.ELOOP, "EXDEV": syscall.EXDEV, "ENOSPC": syscall.ENOSPC,
		"EDQUOT": syscall.EDQUOT, "EBUSY": syscall.EBUSY, "EROFS": syscall.EROFS,
		"ENOTSUP": syscall.ENOTSUP, "EIO": syscall.EIO, "EFBIG": syscall.EFBIG,
		"EMLINK": syscall.EMLINK, "ETXTBSY": syscall.ETXTBSY, "ESTALE": syscall.ESTALE,
		"ENODATA": syscall.ENODATA, "ERANGE": syscall.ERANGE, "E2BIG": syscall.E2BIG,
	}
	if len(nums) != len(errnos) {
		t.Fatalf("test knows %d errnos, parser %d", len(nums), len(errnos))
	}
	var names []string
	for n := range nums {
		names = append(names, n)
	}
	sort.Strings(names)
	var line strings.Builder
	for _, n := range names {
		text := nums[n].Error()
		msg := "tool: cannot do 'a: File exists': " + strings.ToUpper(text[:1]) + text[1:]
		line.WriteString(` && _errno ` + shQuote(msg) + ` && printf '%s\000' "$_e"`)
	}
	line.WriteString(` && _errno 'tool: a surprise' && printf '%s\000' "$_e"`)
	eachShell(t, func(t *testing.T, sh shell) {
		out := runText(t, sh, nil, Script()+"\ntrue"+line.String()+"\n")
		got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
		want := append(names, "")
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("classified\n%v\nwant\n%v", got, want)
		}
	})
}

// TestScriptErrnosKnown checks that every errno the script can print is
// one the parser accepts, and that the parser accepts no others.
func TestScriptErrnosKnown(t *testing.T) {
	found := map[string]bool{}
	code := regexp.MustCompile(`(?m)(^|\s)#.*$`).ReplaceAllString(Script(), "")
	for _, m := range regexp.MustCompile(`\bE[A-Z0-9]{2,}\b`).FindAllString(code, -1) {
		found[m] = true
	}
	for e := range found {
		if !errnos[e] {
			t.Errorf("script prints %s, which Parse rejects", e)
		}
	}
	for e := range errnos {
		if !found[e] {
			t.Errorf("Parse accepts %s, which the script never prints", e)
		}
	}
}

// TestFatalWithoutGNUFind runs the helper where find is not GNU find.
func TestFatalWithoutGNUFind(t *testing.T) {
	bin := t.TempDir()
	stub := "#!/bin/sh\necho 'find: unknown primary -printf' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "find"), []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	ops := []Op{{Kind: OpStat, Path: "/"}}
	cmd, _ := Command(ops)
	eachShell(t, func(t *testing.T, sh shell) {
		wrap := []string{"env", "PATH=" + bin + ":" + os.Getenv("PATH")}
		out := runText(t, sh, wrap, cmd)
		_, err := Parse(out, ops)
		var fe *FatalError
		if !errors.As(err, &fe) || fe.Errno != "ENOTSUP" || !strings.Contains(fe.Message, "GNU find") {
			t.Fatalf("Parse = %v, want a fatal ENOTSUP", err)
		}
	})
}

// shQuote quotes s as one sh word (s must be free of NUL).
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// TestFileTooLarge truncates beyond RLIMIT_FSIZE (SIGXFSZ ignored, so
// truncate(2) fails with EFBIG instead of killing the tool).
func TestFileTooLarge(t *testing.T) {
	eachShell(t, func(t *testing.T, sh shell) {
		d := t.TempDir()
		tree(t, d, map[string]string{"f": "x"})
		wrap := []string{"sh", "-c", `trap '' XFSZ && ulimit -f 1024 && exec "$@"`, "sh"}
		res := runOpsAs(t, sh, wrap,
			Op{Kind: OpTruncate, Path: filepath.Join(d, "f"), Size: 1 << 30},
			Op{Kind: OpTruncate, Path: filepath.Join(d, "f"), Size: 1024})
		wantErr(t, "truncate beyond the file size limit", res[0], "EFBIG")
		wantOK(t, "truncate within the limit", res[1], filepath.Join(d, "f"))
	})
}
