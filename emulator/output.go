package emulator

import (
	"encoding/base64"
	"io"
	"sync"
	"unicode/utf8"

	"github.com/arker-ai/arkerfs/wire"
)

// output is a run's stdout and stderr as far as they came: the first
// outputWindow bytes of both together are kept, the rest is discarded
// without failing the writer (so a chatty command is not killed by
// SIGPIPE). It is read while the run goes on.
type output struct {
	mu     sync.Mutex // protects the fields below
	stdout []byte
	stderr []byte
	room   int // bytes the window still takes
}

func newOutput() *output { return &output{room: outputWindow} }

// writers returns the run's stdout and stderr.
func (o *output) writers() (io.Writer, io.Writer) {
	return outWriter{o, false}, outWriter{o, true}
}

type outWriter struct {
	o     *output
	isErr bool
}

func (w outWriter) Write(p []byte) (int, error) {
	o := w.o
	o.mu.Lock()
	defer o.mu.Unlock()
	n := min(o.room, len(p))
	if w.isErr {
		o.stderr = append(o.stderr, p[:n]...)
	} else {
		o.stdout = append(o.stdout, p[:n]...)
	}
	o.room -= n
	return len(p), nil
}

// encoded returns stdout and stderr as they travel, each with its
// encoding: itself when valid UTF-8, base64 otherwise.
func (o *output) encoded() (stdout, stdoutEnc, stderr, stderrEnc string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	stdout, stdoutEnc = encodeOutput(o.stdout)
	stderr, stderrEnc = encodeOutput(o.stderr)
	return
}

func encodeOutput(b []byte) (string, string) {
	if utf8.Valid(b) {
		return string(b), wire.RunEncodingUTF8
	}
	return base64.StdEncoding.EncodeToString(b), wire.EncodingBase64
}
