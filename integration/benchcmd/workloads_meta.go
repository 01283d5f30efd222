package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"
)

// The metadata workloads: listings, scans, git status, and trees of small
// files written by rsync and tar.

// lsDir lists one directory of ListEntries files with ls -l, on a fresh
// mount and again within the TTL.
func lsDir(ctx context.Context, r *rig, lat time.Duration) ([]*row, error) {
	work := fmt.Sprintf("ls -l of a %d-entry directory", r.sz.ListEntries)
	cold := &row{ID: "ls-dir-cold", Title: "ls -l, cold (fresh mount)", Work: work}
	warm := &row{ID: "ls-dir-warm", Title: "ls -l, again within the TTL", Work: work}
	rows := []*row{cold, warm}
	if err := r.listFixture(); err != nil {
		return rows, err
	}
	return rows, coldWarm(ctx, r, rows, `ls -l "$1" >/dev/null`, listDir, [2]float64{1, 0})
}

// scan runs find and ls -lR over ScanFiles files on a fresh mount.
func scan(ctx context.Context, r *rig, lat time.Duration) ([]*row, error) {
	w := &row{ID: "scan", Title: "find + ls -lR, cold",
		Work: fmt.Sprintf("%d files in %d dirs", r.sz.ScanFiles, r.sz.ScanDirs)}
	rows := []*row{w}
	if err := r.scanFixture(); err != nil {
		return rows, err
	}
	script := `find "$1" >/dev/null && ls -lR "$1" >/dev/null`
	local, _, err := sh(ctx, r.root, script, []string{r.vm(scanDir)})
	if err != nil {
		return rows, err
	}
	m, err := r.mount(ctx, mountOpts{})
	if err != nil {
		return rows, err
	}
	defer m.unmount()
	d, _, err := sh(ctx, r.root, script, []string{m.path(scanDir)})
	if err != nil {
		return rows, err
	}
	w.setCounts(r.snapshot())
	w.setTimes(d, local, 0)
	w.Checks = append(w.Checks, newCheck("requests", "requests", "<=", 10, float64(w.ReqTotal), "requests"))
	return rows, m.unmount()
}

// coldWarm runs script with $1 = the directory rel on a fresh mount,
// then again right away, filling rows[0] and rows[1] and checking their
// request counts against maxReq; local disk runs it twice on the VM's
// copy (the second run is the warm figure). Scripts run from outside the
// mount and name it by absolute path: a shell whose working directory
// is in the mount would add the chdir's own request to the count.
func coldWarm(ctx context.Context, r *rig, rows []*row, script, rel string, maxReq [2]float64) error {
	var local [2]time.Duration
	for i := range local {
		d, _, err := sh(ctx, r.root, script, []string{r.vm(rel)})
		if err != nil {
			return err
		}
		local[i] = d
	}
	m, err := r.mount(ctx, mountOpts{})
	if err != nil {
		return err
	}
	defer m.unmount()
	for i, rw := range rows {
		if i > 0 {
			r.reset()
		}
		d, _, err := sh(ctx, r.root, script, []string{m.path(rel)})
		if err != nil {
			return err
		}
		rw.setCounts(r.snapshot())
		rw.setTimes(d, local[i], 0)
		rw.Checks = append(rw.Checks, newCheck("requests", "requests", "<=", maxReq[i], float64(rw.ReqTotal), "requests"))
	}
	return m.unmount()
}

// gitStatus runs git status in a repository of GitFiles files, cold and
// warm, and checks that .git/index was not rewritten.
func gitStatus(ctx context.Context, r *rig, lat time.Duration) ([]*row, error) {
	work := fmt.Sprintf("git status, %d files", r.sz.GitFiles)
	cold := &row{ID: "git-status-cold", Title: "git status, cold (fresh mount)", Work: work}
	warm := &row{ID: "git-status-warm", Title: "git status, again within the TTL", Work: work}
	rows := []*row{cold, warm}
	if err := haveTools("git"); err != nil {
		return rows, skip(err)
	}
	if err := r.repoFixture(ctx); err != nil {
		return rows, err
	}
	index := r.vm(repoDir + "/.git/index")
	before, err := fileFingerprint(index)
	if err != nil {
		return rows, err
	}
	// Local disk is the VM's own copy: git status there runs after the
	// mount's, so that it cannot be what rewrote the index.
	m, err := r.mount(ctx, mountOpts{})
	if err != nil {
		return rows, err
	}
	defer m.unmount()
	var wall [2]time.Duration
	for i, rw := range rows {
		if i > 0 {
			r.reset()
		}
		d, out, err := sh(ctx, m.path(repoDir), "git status", nil, r.gitEnv()...)
		if err != nil {
			return rows, err
		}
		wall[i] = d
		rw.setCounts(r.snapshot())
		rw.extra("clean", strings.Contains(out, "working tree clean"))
		rw.extra("output_tail", lastLine(out))
	}
	if err := m.unmount(); err != nil {
		return rows, err
	}
	after, err := fileFingerprint(index)
	if err != nil {
		return rows, err
	}
	for i, rw := range rows {
		d, _, err := sh(ctx, r.vm(repoDir), "git status", nil, r.gitEnv()...)
		if err != nil {
			return rows, err
		}
		rw.setTimes(wall[i], d, 0)
	}
	cold.extra("index_before", before)
	cold.extra("index_after", after)
	cold.Checks = append(cold.Checks, newCheck("requests", "requests", "<=", 20, float64(cold.ReqTotal), "requests"),
		yesNo("index kept", ".git/index not rewritten (cold and warm)", before == after))
	warm.Checks = append(warm.Checks, newCheck("requests", "requests", "<=", 3, float64(warm.ReqTotal), "requests"))
	return rows, nil
}

// rsyncTree copies SmallFiles files with rsync -a into a fresh mount.
func rsyncTree(ctx context.Context, r *rig, lat time.Duration) ([]*row, error) {
	w := &row{ID: "rsync", Title: "rsync -a into the mount",
		Work: fmt.Sprintf("%d × %d B files in %d dirs", r.sz.SmallFiles, r.sz.SmallSize, r.sz.SmallDirs)}
	rows := []*row{w}
	if err := haveTools("rsync"); err != nil {
		return rows, skip(err)
	}
	if err := r.rsyncFixture(); err != nil {
		return rows, err
	}
	dst := "rsync-" + latName(lat)
	return rows, treeWrite(ctx, r, w, `rsync -a "$1"/ "$2"/`, r.loc(rsyncSrc), dst, r.sz.SmallFiles,
		func(n float64) check { return newCheck("requests/file", "requests per file", "<=", 3, n, "requests") })
}

// untar extracts TarFiles files with tar x into a fresh mount.
func untar(ctx context.Context, r *rig, lat time.Duration) ([]*row, error) {
	w := &row{ID: "untar", Title: "tar x into the mount",
		Work: fmt.Sprintf("%d files of 1–8 KiB in %d dirs", r.sz.TarFiles, r.sz.TarDirs)}
	rows := []*row{w}
	if err := haveTools("tar"); err != nil {
		return rows, skip(err)
	}
	if err := r.tarFixture(); err != nil {
		return rows, err
	}
	dst := "untar-" + latName(lat)
	if err := os.Mkdir(r.vm(dst), 0o755); err != nil {
		return rows, err
	}
	return rows, treeWrite(ctx, r, w, `tar -xf "$1" -C "$2"`, r.loc(tarName), dst, r.sz.TarFiles, nil)
}

// treeWrite runs script with $1 = src and $2 = the destination, first on
// local disk, then into a fresh mount (from outside it, as coldWarm
// does), and checks that the VM received nfiles files. perFile, when set, is the row's target on requests per
// file.
func treeWrite(ctx context.Context, r *rig, w *row, script, src, dst string, nfiles int, perFile func(float64) check) error {
	if err := os.MkdirAll(r.loc(dst), 0o755); err != nil {
		return err
	}
	local, _, err := sh(ctx, r.root, script, []string{src, r.loc(dst)})
	if err != nil {
		return err
	}
	m, err := r.mount(ctx, mountOpts{})
	if err != nil {
		return err
	}
	defer m.unmount()
	d, _, err := sh(ctx, r.root, script, []string{src, m.path(dst)})
	if err != nil {
		return err
	}
	w.setCounts(r.snapshot())
	if err := m.unmount(); err != nil {
		return err
	}
	if got, err := countFiles(r.vm(dst)); err != nil || got != nfiles {
		return fmt.Errorf("the VM has %d files under %s (%v), want %d", got, dst, err, nfiles)
	}
	w.setTimes(d, local, 0)
	per := float64(w.ReqTotal) / float64(nfiles)
	w.extra("requests_per_file", per)
	if perFile != nil {
		w.Checks = append(w.Checks, perFile(per))
	}
	return nil
}

// saves makes Saves atomic editor saves of one file: write a temporary
// file, fsync it, rename it over the target. The saves run in a child
// process, on local disk as on the mount (see childEnv).
func saves(ctx context.Context, r *rig, lat time.Duration) ([]*row, error) {
	w := &row{ID: "saves", Title: "atomic editor saves",
		Work: fmt.Sprintf("%d × (write temp, fsync, rename over)", r.sz.Saves)}
	rows := []*row{w}
	dir := "saves-" + latName(lat)
	for _, d := range []string{r.vm(dir), r.loc(dir)} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return rows, err
		}
		if err := os.WriteFile(d+"/doc.txt", []byte("first\n"), 0o644); err != nil {
			return rows, err
		}
	}
	local, _, err := savesInChild(ctx, r.loc(dir), r.sz.Saves)
	if err != nil {
		return rows, err
	}
	m, err := r.mount(ctx, mountOpts{})
	if err != nil {
		return rows, err
	}
	defer m.unmount()
	d, last, err := savesInChild(ctx, m.path(dir), r.sz.Saves)
	if err != nil {
		return rows, err
	}
	w.setCounts(r.snapshot())
	if err := m.unmount(); err != nil {
		return rows, err
	}
	if got, err := os.ReadFile(r.vm(dir + "/doc.txt")); err != nil || string(got) != last {
		return rows, fmt.Errorf("after the saves the VM's doc.txt holds %d bytes (%v), not the last save", len(got), err)
	}
	if n, _ := countFiles(r.vm(dir)); n != 1 {
		return rows, fmt.Errorf("after the saves the VM's %s holds %d files, want 1", dir, n)
	}
	w.setTimes(d, local, 0)
	w.extra("requests_per_save", float64(w.ReqTotal)/float64(r.sz.Saves))
	return rows, nil
}

// saveContent is what save i writes.
func saveContent(i int) string {
	return fmt.Sprintf("save %d\n%s", i, strings.Repeat("text of the document\n", 200+i%50))
}

// saveLoop saves dir/doc.txt n times the way editors do and returns the
// time and the last content.
func saveLoop(ctx context.Context, dir string, n int) (time.Duration, string, error) {
	start := time.Now()
	var content string
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return 0, "", err
		}
		content = saveContent(i)
		tmp := fmt.Sprintf("%s/.doc.txt.%d.tmp", dir, i)
		f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return 0, "", err
		}
		_, err = f.WriteString(content)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp, dir+"/doc.txt")
		}
		if err != nil {
			return 0, "", fmt.Errorf("save %d: %w", i, err)
		}
	}
	return time.Since(start), content, nil
}
