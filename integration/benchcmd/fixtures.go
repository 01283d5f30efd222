package main

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"
)

// Fixture names in the VM's home and in the local area.
const (
	bigName   = "big.bin"       // BigFile bytes, read cold and warm
	rssName   = "huge.bin"      // RSSFile bytes, sparse
	listDir   = "list"          // ListEntries files in one directory
	scanDir   = "tree"          // ScanFiles files in ScanDirs directories
	repoDir   = "repo"          // a git repository of GitFiles files
	rsyncSrc  = "rsync-src"     // local: the tree rsync copies
	tarName   = "files.tar"     // local: the archive tar extracts
	writeSrc  = "write-src.bin" // local: the write benchmark's bytes, for curl
	blockSize = 1 << 20         // the unit of generated data and of reads and writes
)

// pattern generates the benchmark's file data: incompressible bytes that
// differ in every MiB block, made fast from one random block with the
// block's number stamped at its start.
type pattern struct{ block []byte }

func newPattern(seed uint64) *pattern {
	p := &pattern{block: make([]byte, blockSize)}
	src := rand.NewChaCha8([32]byte{byte(seed)})
	_, _ = src.Read(p.block)
	return p
}

// fill writes block i of the pattern into b (len(b) <= blockSize).
func (p *pattern) fill(b []byte, i int64) {
	copy(b, p.block)
	binary.LittleEndian.PutUint64(b, uint64(i))
}

// write writes size bytes of the pattern to w, from block first on,
// one block per Write, checking ctx between blocks.
func (p *pattern) write(ctx context.Context, w io.Writer, first, size int64) error {
	buf := make([]byte, blockSize)
	for i, off := first, int64(0); off < size; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(int64(blockSize), size-off)
		p.fill(buf, i)
		if _, err := w.Write(buf[:n]); err != nil {
			return err
		}
		off += n
	}
	return nil
}

// writePatternFile writes size bytes of the pattern to path.
func writePatternFile(ctx context.Context, path string, p *pattern, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := p.write(ctx, f, 0, size); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

// fixtures makes each fixture once, on first use.
type fixtures struct {
	made map[string]error
}

// once runs make the first time name is asked for and remembers its error.
func (fx *fixtures) once(name string, make func() error) error {
	if fx.made == nil {
		fx.made = map[string]error{}
	}
	if err, ok := fx.made[name]; ok {
		return err
	}
	err := make()
	if err != nil {
		err = fmt.Errorf("making fixture %s: %w", name, err)
	}
	fx.made[name] = err
	return err
}

// bigFile is the read benchmark's file, on the VM.
func (r *rig) bigFile(ctx context.Context) error {
	return r.fx.once(bigName, func() error { return writePatternFile(ctx, r.vm(bigName), newPattern(1), r.sz.BigFile) })
}

// rssFile is the peak-RSS benchmark's file, sparse, on the VM.
func (r *rig) rssFile() error {
	return r.fx.once(rssName, func() error {
		f, err := os.Create(r.vm(rssName))
		if err != nil {
			return err
		}
		if err := f.Truncate(r.sz.RSSFile); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	})
}

// writeSource is the write benchmark's data (the bytes the seq-write row
// writes) as a local file, for curl; it returns its path and sha256
// (lowercase hex).
func (r *rig) writeSource(ctx context.Context) (string, string, error) {
	path, sumPath := r.loc(writeSrc), r.loc(writeSrc+".sha256")
	err := r.fx.once(writeSrc, func() error {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		h := sha256.New()
		err = newPattern(2).write(ctx, io.MultiWriter(f, h), 0, r.sz.BigFile)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		return os.WriteFile(sumPath, []byte(hex.EncodeToString(h.Sum(nil))), 0o644)
	})
	if err != nil {
		return "", "", err
	}
	sum, err := os.ReadFile(sumPath)
	return path, string(sum), err
}

// smallTree writes files files of size bytes spread over dirs
// directories under root.
func smallTree(root string, dirs, files, size int) error {
	return spreadFiles(dirs, files, size, func(i int) string { return filepath.Join(root, fmt.Sprintf("d%03d", i)) })
}

// spreadFiles writes files files of size bytes, file i in directory
// dirOf(i%dirs), making each directory before its first file.
func spreadFiles(dirs, files, size int, dirOf func(int) string) error {
	data := make([]byte, size)
	for i := 0; i < files; i++ {
		d := dirOf(i % dirs)
		if i < dirs {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
		copy(data, fmt.Sprintf("file %d\n", i))
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%05d.txt", i)), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// listFixture is one directory of ListEntries small files, on the VM.
func (r *rig) listFixture() error {
	return r.fx.once(listDir, func() error { return smallTree(filepath.Join(r.vm(listDir)), 1, r.sz.ListEntries, 64) })
}

// scanFixture is ScanFiles files in ScanDirs directories, on the VM.
func (r *rig) scanFixture() error {
	return r.fx.once(scanDir, func() error { return smallTree(r.vm(scanDir), r.sz.ScanDirs, r.sz.ScanFiles, 256) })
}

// rsyncFixture is the local tree rsync copies into the mount.
func (r *rig) rsyncFixture() error {
	return r.fx.once(rsyncSrc, func() error {
		return smallTree(r.loc(rsyncSrc), r.sz.SmallDirs, r.sz.SmallFiles, r.sz.SmallSize)
	})
}

// repoFixture is a git repository of GitFiles committed files, made on
// the VM with git.
func (r *rig) repoFixture(ctx context.Context) error {
	return r.fx.once(repoDir, func() error {
		dir := r.vm(repoDir)
		if err := smallTree(dir, max(1, r.sz.GitFiles/50), r.sz.GitFiles, 512); err != nil {
			return err
		}
		// Files older than the index: none is "racily clean", so git
		// status has no reason to re-read a file or rewrite the index.
		if err := backdate(dir, time.Now().Add(-time.Hour)); err != nil {
			return err
		}
		_, _, err := sh(ctx, dir, "git init -q . && git add -A && git -c user.name=bench -c user.email=bench@localhost commit -q -m fixture", nil, r.gitEnv()...)
		return err
	})
}

// gitEnv keeps the user's and the system's git configuration out.
func (r *rig) gitEnv() []string {
	return []string{"HOME=" + r.root, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "LC_ALL=C"}
}

// tarFixture is a local archive of TarFiles files of 1–8 KiB in TarDirs
// directories, owned by the running user.
func (r *rig) tarFixture() error {
	return r.fx.once(tarName, func() error {
		f, err := os.Create(r.loc(tarName))
		if err != nil {
			return err
		}
		tw := tar.NewWriter(f)
		now := time.Now().Truncate(time.Second)
		hdr := func(name string, mode int64, typ byte, size int64) *tar.Header {
			return &tar.Header{Name: name, Mode: mode, Typeflag: typ, Size: size, ModTime: now,
				Uid: os.Getuid(), Gid: os.Getgid(), Format: tar.FormatPAX}
		}
		data := make([]byte, 8<<10)
		for d := 0; d < r.sz.TarDirs && err == nil; d++ {
			err = tw.WriteHeader(hdr(fmt.Sprintf("src/d%03d/", d), 0o755, tar.TypeDir, 0))
		}
		for i := 0; i < r.sz.TarFiles && err == nil; i++ {
			size := int64(1<<10 + (i*977)%(7<<10))
			copy(data, fmt.Sprintf("file %d\n", i))
			name := fmt.Sprintf("src/d%03d/f%05d.c", i%r.sz.TarDirs, i)
			if err = tw.WriteHeader(hdr(name, 0o644, tar.TypeReg, size)); err == nil {
				_, err = tw.Write(data[:size])
			}
		}
		if err == nil {
			err = tw.Close()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	})
}

// backdate sets the mtime of every file under dir to t.
func backdate(dir string, t time.Time) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, t, t)
	})
}
