package emulator

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// runPipes carry a run's stdout and stderr into its output record: the
// process gets the write ends, and this process copies from the read ends
// as the output comes, wherever the process was started.
type runPipes struct {
	w      [2]*os.File   // stdout, stderr: the process's ends
	r      [2]*os.File   // stdout, stderr: this process's ends
	copied chan struct{} // closed when both copies ended
}

func newRunPipes() (*runPipes, error) {
	p := &runPipes{copied: make(chan struct{})}
	for i := range p.r {
		r, w, err := os.Pipe()
		if err != nil {
			p.closeAll()
			return nil, fmt.Errorf("making a pipe: %w", err)
		}
		p.r[i], p.w[i] = r, w
	}
	return p, nil
}

// collect closes this process's copies of the write ends, once the
// process has its own, and copies the read ends into out until every
// writer is gone.
func (p *runPipes) collect(out *output) {
	closeFiles(p.w[:])
	stdout, stderr := out.writers()
	var wg sync.WaitGroup
	for i, w := range []io.Writer{stdout, stderr} {
		wg.Go(func() { _, _ = io.Copy(w, p.r[i]) })
	}
	go func() {
		wg.Wait()
		close(p.copied)
	}()
}

// finish waits at most delay for the output to end (a process the run
// left in the background may hold the pipes), then closes the read ends,
// which ends the copies, and waits for them.
func (p *runPipes) finish(delay time.Duration) {
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-p.copied:
	case <-t.C:
	}
	closeFiles(p.r[:])
	<-p.copied
}

// closeAll closes every end; for a process that never started.
func (p *runPipes) closeAll() {
	for i := range p.r {
		if p.r[i] != nil {
			p.r[i].Close()
		}
		if p.w[i] != nil {
			p.w[i].Close()
		}
	}
}

func closeFiles(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}
