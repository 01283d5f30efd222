package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// handleModel drives several handles of one file through a random,
// seeded sequence of writes, appends, truncates (through a handle and by
// name), fsyncs, reads, mmap reads and writes, and reopens (some with
// O_TRUNC), and checks after every step that every handle, and a stat by
// name, agree with an in-memory model on size and content, and with each
// other on times. (Times may step back by a clock tick at an upload: the
// VM stamps the file with its own clock.)
type handleModel struct {
	t       *testing.T
	e       *env
	rel     string
	rng     *rand.Rand
	data    []byte     // the model: what the file holds
	handles []*os.File // open handles, O_RDWR; the first is also O_APPEND
	log     []string   // the steps so far, for the failure message
}

const (
	modelMaxSize = 96 << 10 // the file stays below this
	modelSeeds   = 6        // sequences
	modelSteps   = 300      // steps per sequence
	modelHandles = 3
)

func TestHandlesAgreeUnderRandomInterleavings(t *testing.T) {
	e := newEnv(t)
	seeds := uint64(modelSeeds)
	if n, err := strconv.ParseUint(os.Getenv("ARKERFS_MODEL_SEEDS"), 10, 64); err == nil && n > 0 {
		seeds = n // a longer search, run by hand
	}
	for seed := uint64(1); seed <= seeds; seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			m := &handleModel{t: t, e: e, rel: fmt.Sprintf("model-%d", seed), rng: rand.New(rand.NewPCG(seed, 12))}
			m.data = pattern(m.rng.IntN(modelMaxSize/2), seed)
			e.write(m.rel, m.data)
			for i := range modelHandles {
				m.handles = append(m.handles, m.open(i, false))
			}
			t.Cleanup(func() { // before the unmount, also when the test fails
				for _, h := range m.handles {
					h.Close()
				}
			})
			for range modelSteps {
				m.step()
				m.check()
			}
			for _, h := range m.handles {
				if err := h.Close(); err != nil {
					m.fail("close: %v", err)
				}
			}
			if got := e.vmRead(m.rel); !bytes.Equal(got, m.data) {
				m.fail("the VM holds %d bytes after the last close, want %d (%s)", len(got), len(m.data), firstDiff(got, m.data))
			}
		})
	}
}

func (m *handleModel) open(i int, trunc bool) *os.File {
	flags := os.O_RDWR
	if i == 0 {
		flags |= os.O_APPEND
	}
	if trunc {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(m.e.path(m.rel), flags, 0)
	if err != nil {
		m.fail("open handle %d: %v", i, err)
	}
	return f
}

func (m *handleModel) fail(format string, args ...any) {
	m.t.Helper()
	steps := m.log[max(0, len(m.log)-12):]
	m.t.Fatalf("after %d steps (last: %v): %s", len(m.log), steps, fmt.Sprintf(format, args...))
}

func (m *handleModel) note(format string, args ...any) {
	m.log = append(m.log, fmt.Sprintf(format, args...))
}

// step makes one random change or read.
func (m *handleModel) step() {
	m.t.Helper()
	i := m.rng.IntN(len(m.handles))
	h := m.handles[i]
	size := len(m.data)
	switch op := m.rng.IntN(100); {
	case op < 25: // pwrite through a handle other than the appending one
		if i == 0 {
			i, h = 1, m.handles[1]
		}
		off := m.rng.IntN(min(size+4096, modelMaxSize-1))
		n := 1 + m.rng.IntN(min(8192, modelMaxSize-off))
		b := pattern(n, m.rng.Uint64())
		m.note("h%d pwrite %d@%d", i, n, off)
		if _, err := h.WriteAt(b, int64(off)); err != nil {
			m.fail("pwrite: %v", err)
		}
		m.writeModel(b, off)
	case op < 35: // append
		if size > modelMaxSize-4096 {
			return
		}
		n := 1 + m.rng.IntN(2048)
		b := pattern(n, m.rng.Uint64())
		m.note("h0 append %d", n)
		if _, err := m.handles[0].Write(b); err != nil {
			m.fail("append: %v", err)
		}
		m.data = append(m.data, b...)
	case op < 50: // ftruncate, or truncate by name
		n := m.rng.IntN(modelMaxSize)
		if m.rng.IntN(4) == 0 {
			m.note("truncate(name) %d", n)
			if err := os.Truncate(m.e.path(m.rel), int64(n)); err != nil {
				m.fail("truncate: %v", err)
			}
		} else {
			m.note("h%d ftruncate %d", i, n)
			if err := h.Truncate(int64(n)); err != nil {
				m.fail("ftruncate: %v", err)
			}
		}
		m.resize(n)
	case op < 60:
		m.note("h%d fsync", i)
		if err := h.Sync(); err != nil {
			m.fail("fsync: %v", err)
		}
	case op < 80: // pread of a random range
		off := m.rng.IntN(size + 100)
		n := 1 + m.rng.IntN(32<<10)
		m.note("h%d pread %d@%d", i, n, off)
		got := pread(m.t, h, n, int64(off))
		want := m.data[min(off, size):min(off+n, size)]
		if !bytes.Equal(got, want) {
			m.fail("h%d pread %d@%d: %d bytes, want %d (%s)", i, n, off, len(got), len(want), firstDiff(got, want))
		}
	case op < 90:
		m.mmapStep()
	default: // close and reopen, one time in four with O_TRUNC
		trunc := m.rng.IntN(4) == 0
		m.note("h%d reopen (O_TRUNC %v)", i, trunc)
		if err := h.Close(); err != nil {
			m.fail("close: %v", err)
		}
		m.handles[i] = m.open(i, trunc)
		if trunc {
			m.data = m.data[:0]
		}
	}
}

// mmapStep maps the file shared, in a child process, and either
// compares the mapping with the model or writes into it and msyncs. A
// page fault on a mapping of this process's own mount could stop the Go
// runtime (a stop-the-world waits for the faulting thread, which waits
// for the FUSE server the stop paused), hence the child.
func (m *handleModel) mmapStep() {
	m.t.Helper()
	size := len(m.data)
	if size == 0 {
		return
	}
	if m.rng.IntN(2) == 0 {
		m.note("mmap read %d", size)
		sum := sha256.Sum256(m.data)
		if got := m.mmapChild("read", size, 0, 0, 0); got != hex.EncodeToString(sum[:]) {
			m.fail("mmap read: the mapping differs from the model")
		}
		return
	}
	off := m.rng.IntN(size)
	n, seed := 1+m.rng.IntN(min(4096, size-off)), m.rng.Uint64()
	m.note("mmap write %d@%d", n, off)
	m.mmapChild("write", size, off, n, seed)
	copy(m.data[off:], pattern(n, seed))
}

// mmapChild runs TestMmapChild in a child process and returns its output.
func (m *handleModel) mmapChild(mode string, size, off, n int, seed uint64) string {
	m.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestMmapChild$")
	cmd.Env = append(os.Environ(), "ARKERFS_MMAP_CHILD="+strings.Join([]string{
		m.e.path(m.rel), mode, strconv.Itoa(size), strconv.Itoa(off), strconv.Itoa(n), strconv.FormatUint(seed, 10)}, "\n"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		m.fail("mmap %s in a child: %v\n%s", mode, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "sha256 "); ok {
			return v
		}
	}
	return ""
}

// TestMmapChild is the child of mmapStep: it maps a file of the mount
// shared and reads (printing the mapping's sha256) or writes into it.
func TestMmapChild(t *testing.T) {
	args := strings.Split(os.Getenv("ARKERFS_MMAP_CHILD"), "\n")
	if len(args) != 6 {
		t.Skip("runs only as the child of TestHandlesAgreeUnderRandomInterleavings")
	}
	size, _ := strconv.Atoi(args[2])
	off, _ := strconv.Atoi(args[3])
	n, _ := strconv.Atoi(args[4])
	seed, _ := strconv.ParseUint(args[5], 10, 64)
	f, err := os.OpenFile(args[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mem, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(mem)
	if args[1] == "read" {
		sum := sha256.Sum256(mem)
		fmt.Printf("sha256 %x\n", sum)
		return
	}
	copy(mem[off:], pattern(n, seed))
	if err := msync(mem); err != nil {
		t.Fatal(err)
	}
}

// msync writes a shared mapping's dirty pages back (MS_SYNC).
func msync(mem []byte) error {
	_, _, e := syscall.Syscall(syscall.SYS_MSYNC, uintptr(unsafe.Pointer(unsafe.SliceData(mem))), uintptr(len(mem)), syscall.MS_SYNC)
	if e != 0 {
		return e
	}
	return nil
}

func (m *handleModel) writeModel(b []byte, off int) {
	if end := off + len(b); end > len(m.data) {
		m.resize(end)
	}
	copy(m.data[off:], b)
}

func (m *handleModel) resize(n int) {
	if n <= len(m.data) {
		m.data = m.data[:n]
		return
	}
	m.data = append(m.data, make([]byte, n-len(m.data))...)
}

// check compares every handle and a stat by name with the model: size
// through each, the whole content through one of them, and times that
// agree between all.
func (m *handleModel) check() {
	m.t.Helper()
	var sts []syscall.Stat_t
	for i, h := range m.handles {
		var st syscall.Stat_t
		if err := syscall.Fstat(int(h.Fd()), &st); err != nil {
			m.fail("h%d fstat: %v", i, err)
		}
		sts = append(sts, st)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(m.e.path(m.rel), &st); err != nil {
		m.fail("stat: %v", err)
	}
	sts = append(sts, st)
	for i, s := range sts {
		if s.Size != int64(len(m.data)) {
			m.fail("handle %d (%d is the name) sees size %d, want %d", i, len(m.handles), s.Size, len(m.data))
		}
		if s.Mtim != sts[0].Mtim || s.Ctim != sts[0].Ctim {
			m.fail("handle %d sees times %v/%v, handle 0 %v/%v", i, s.Mtim, s.Ctim, sts[0].Mtim, sts[0].Ctim)
		}
	}
	i := m.rng.IntN(len(m.handles))
	if got := pread(m.t, m.handles[i], modelMaxSize+1, 0); !bytes.Equal(got, m.data) {
		m.fail("h%d whole read: %d bytes, want %d (%s)", i, len(got), len(m.data), firstDiff(got, m.data))
	}
}

// firstDiff describes where got and want first differ.
func firstDiff(got, want []byte) string {
	n := min(len(got), len(want))
	for i := range n {
		if got[i] != want[i] {
			return fmt.Sprintf("first difference at byte %d", i)
		}
	}
	if len(got) != len(want) {
		return fmt.Sprintf("equal for %d bytes, then lengths differ", n)
	}
	return "equal"
}
