package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Logs go through log/slog: text by default (one key=value line per
// event, readable on a terminal and in a file), JSON with --log-format
// json. The foreground writes them to stderr; a background mount to a file
// in the cache directory. fs and transport log through plain
// func(format, args...) hooks; fsLogf and transportLogf feed them in here.
// The API key is removed from every line on its way out (redactWriter).

// logFlags select the format, level and place of the log.
type logFlags struct {
	format, level, file string
}

func (l *logFlags) register(fl *flag.FlagSet) {
	fl.StringVar(&l.format, "log-format", "text", "log format: text or json")
	fl.StringVar(&l.level, "log-level", "info", "least level logged: debug, info, warn or error (--debug means debug)")
	fl.StringVar(&l.file, "log-file", "", "append the log to this file (default: stderr in the foreground, the cache directory in the background)")
}

// parseLevel reads a --log-level value.
func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("bad --log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// newLogger builds the logger of a command: format "text" or "json" on
// w, from level up, with every secret cut out of every line.
func newLogger(w io.Writer, format string, level slog.Level, secrets ...string) (*slog.Logger, error) {
	w = newRedactWriter(w, secrets...)
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("bad --log-format %q: want text or json", format)
}

// logger builds the logger these flags ask for on w; debug forces the
// debug level.
func (l *logFlags) logger(w io.Writer, debug bool, secrets ...string) (*slog.Logger, error) {
	level, err := parseLevel(l.level)
	if err != nil {
		return nil, err
	}
	if debug {
		level = slog.LevelDebug
	}
	return newLogger(w, l.format, level, secrets...)
}

// redacted replaces a secret in a log line.
const redacted = "[redacted]"

// redactWriter cuts secrets out of what it writes. slog handlers write a
// record in one Write, so a secret is never split across two.
type redactWriter struct {
	w       io.Writer
	secrets [][]byte
}

// newRedactWriter wraps w. Secrets shorter than 4 bytes are not real keys
// and would garble the log, so they are left alone.
func newRedactWriter(w io.Writer, secrets ...string) io.Writer {
	rw := &redactWriter{w: w}
	for _, s := range secrets {
		if len(s) < 4 {
			continue
		}
		// As written raw, and as the text and JSON handlers quote it
		// (slog's JSON leaves <, > and & alone; encoding/json's does not).
		q := strconv.Quote(s)
		j, _ := json.Marshal(s)
		var plain bytes.Buffer
		enc := json.NewEncoder(&plain)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(s)
		p := strings.TrimSpace(plain.String())
		for _, form := range []string{s, q[1 : len(q)-1], string(j[1 : len(j)-1]), p[1 : len(p)-1]} {
			rw.secrets = append(rw.secrets, []byte(form))
		}
	}
	if len(rw.secrets) == 0 {
		return w
	}
	return rw
}

func (r *redactWriter) Write(p []byte) (int, error) {
	out := p
	for _, s := range r.secrets {
		if bytes.Contains(out, s) {
			out = bytes.ReplaceAll(out, s, []byte(redacted))
		}
	}
	if _, err := r.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// fsLogf feeds the lines of package fs into log. fs logs what went wrong
// with a file (a refused upload, a change not applied): warnings, each
// with the VM path it names.
func fsLogf(log *slog.Logger) func(format string, args ...any) {
	return func(format string, args ...any) {
		log.Warn(fmt.Sprintf(format, args...), pathAttrs(format, args)...)
	}
}

// transportLogf feeds the lines of package transport into log: one per
// exchange and per retry, at debug level. Retries also go to storm,
// which says in one warning when they pile up.
func transportLogf(log *slog.Logger, storm *retryStorm) func(format string, args ...any) {
	return func(format string, args ...any) {
		if storm != nil && isRetryLine(format, args) {
			storm.note(fmt.Sprint(args[0]), fmt.Sprint(args[len(args)-1]))
		}
		if !log.Enabled(context.Background(), slog.LevelDebug) {
			return
		}
		log.Debug(fmt.Sprintf(format, args...), pathAttrs(format, args)...)
	}
}

// retryLineFormat is the line transport's retrier logs before each retry
// (transport/retry.go): what was tried first, the reason last.
// TestRetryStormFromTransport keeps the two in step.
const retryLineFormat = "%s: attempt %d of %d failed, retrying in %v: %v"

func isRetryLine(format string, args []any) bool {
	return format == retryLineFormat && len(args) == 5
}

// pathAttrs is a "path" attribute holding the first %q argument that is
// an absolute path, or nothing.
func pathAttrs(format string, args []any) []any {
	n := 0
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		i++
		for i < len(format) && strings.IndexByte("+-# 0123456789.", format[i]) >= 0 {
			i++
		}
		if i >= len(format) || format[i] == '%' {
			continue
		}
		if format[i] == 'q' && n < len(args) {
			if s, ok := args[n].(string); ok && strings.HasPrefix(s, "/") {
				return []any{slog.String("path", s)}
			}
		}
		n++
	}
	return nil
}

// retryStorm turns many retries into one warning: when threshold retries
// happen within window, it logs one line saying so (how many, the last
// request and its reason), then stays quiet for the rest of the window.
type retryStorm struct {
	log       *slog.Logger
	window    time.Duration
	threshold int
	now       func() time.Time

	mu       sync.Mutex // protects the fields below
	start    time.Time  // of the current window
	n        int        // retries in it
	reported bool       // its warning was logged
}

func newRetryStorm(log *slog.Logger) *retryStorm {
	return &retryStorm{log: log, window: 30 * time.Second, threshold: 8, now: time.Now}
}

// note counts one retry of what, failed for reason.
func (r *retryStorm) note(what, reason string) {
	r.mu.Lock()
	now := r.now()
	if now.Sub(r.start) > r.window {
		r.start, r.n, r.reported = now, 0, false
	}
	r.n++
	report := r.n >= r.threshold && !r.reported
	if report {
		r.reported = true
	}
	n := r.n
	r.mu.Unlock()
	if report {
		r.log.Warn("requests to the Arker API are being retried",
			"retries", n, "within", r.window.String(), "last", what, "reason", reason)
	}
}

// maxLogSize is the size past which a log file is set aside (as NAME.1)
// when a mount starts, so that logs do not grow without end.
const maxLogSize = 8 << 20

// openLogFile opens path for appending, creating it and its directory
// private to the user, and sets a large old log aside first.
func openLogFile(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("log directory: %w", err)
	}
	if st, err := os.Stat(path); err == nil && st.Size() > maxLogSize {
		_ = os.Rename(path, path+".1")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	return f, nil
}

// lineLogger is an io.Writer for code that writes "arkerfs: ..." lines
// to stderr: each line becomes one record of log at level.
type lineLogger struct {
	log   *slog.Logger
	level slog.Level
}

func (l lineLogger) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if line = strings.TrimPrefix(line, "arkerfs: "); strings.TrimSpace(line) != "" {
			l.log.Log(context.Background(), l.level, line)
		}
	}
	return len(p), nil
}
