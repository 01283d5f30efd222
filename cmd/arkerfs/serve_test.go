package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex // protects b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServeBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--nope"},
		{"--home"},
		{"--home", t.TempDir(), "extra"},
		{"--home", t.TempDir(), "--vm", "a/b"},
		{"--home", t.TempDir(), "--latency", "-1s"},
		{"--home", t.TempDir(), "--latency", "soon"},
		{"--home", t.TempDir(), "--run-latency", "-1ms"},
		{"--home", t.TempDir(), "--api", "c"},
		{"--home", t.TempDir(), "--map", "tmp"},
		{"--home", t.TempDir(), "--map", "relative=" + t.TempDir()},
		{"--home", t.TempDir(), "--map", "/data=" + t.TempDir(), "--map", "/data=" + t.TempDir()},
	} {
		var out, errb bytes.Buffer
		if code := serve(context.Background(), args, "", &out, &errb); code != 2 {
			t.Errorf("%q: exit %d", args, code)
		}
		if lines := strings.Count(errb.String(), "\n"); lines != 1 || !strings.HasPrefix(errb.String(), "arkerfs serve: ") {
			t.Errorf("%q: stderr %q", args, errb.String())
		}
	}
	var out bytes.Buffer
	if code := serve(context.Background(), []string{"-h"}, "", &out, io.Discard); code != 0 || !strings.Contains(out.String(), "--home") && !strings.Contains(out.String(), "-home") {
		t.Errorf("-h: exit %d, %q", code, out.String())
	}
}

func TestServeRunsUntilCancelled(t *testing.T) {
	home := filepath.Join(t.TempDir(), "new", "home")
	data := t.TempDir()
	os.WriteFile(filepath.Join(data, "d.txt"), []byte("from --map"), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- serve(ctx, []string{"--home", home, "--listen", "127.0.0.1:0", "--seed", "--vm", "dev", "--api", "b",
			"--map", "/data=" + data, "--run-latency", "1ms", "--no-range"}, "", &out, &errb)
	}()
	urlRe := regexp.MustCompile(`export ARKER_BASE_URL=(http://127\.0\.0\.1:\d+)\n`)
	keyRe := regexp.MustCompile(`export ARKER_API_KEY=(ark_local_[0-9a-f]{32})\n`)
	deadline := time.Now().Add(10 * time.Second)
	var url, key string
	for {
		if m := urlRe.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
			if k := keyRe.FindStringSubmatch(out.String()); k != nil {
				key = k[1]
			}
			break
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s %s", code, out.String(), errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no URL printed: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if key == "" || !strings.Contains(out.String(), "arkerfs mount dev /path/to/mnt") {
		t.Fatalf("output %q", out.String())
	}
	// The seeded README and the mapped directory are served.
	client := &http.Client{Timeout: 10 * time.Second}
	for _, p := range []string{"/home/user/README.md", "/data/d.txt"} {
		req, _ := http.NewRequest(http.MethodPost, url+"/v1/vms/dev/sync", strings.NewReader(`{"op":"read","path":"`+p+`"}`))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var r struct{ Size int64 }
		json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if resp.StatusCode != 200 || r.Size == 0 {
			t.Fatalf("read %s: %d %+v", p, resp.StatusCode, r)
		}
	}
	// Lineage B: /sync-stream is routed (400 without its query, not 404).
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/vms/dev/sync-stream", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("sync-stream in lineage b: %d", resp.StatusCode)
	}
	if _, err := os.Stat(filepath.Join(home, "project/scripts/build.sh")); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, err := client.Get(url + "/v1/vms/dev"); err == nil {
		t.Fatal("still serving after stop")
	}
}

func TestServeKeyFromEnvAndSeedLeavesFilesAlone(t *testing.T) {
	home := t.TempDir()
	os.WriteFile(filepath.Join(home, "mine.txt"), []byte("keep"), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- serve(ctx, []string{"--home", home, "--listen", "127.0.0.1:0", "--seed"}, "ark_mine", &out, io.Discard)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "Ctrl-C") {
		if time.Now().After(deadline) {
			t.Fatalf("not ready: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
	if strings.Contains(out.String(), "ark_mine") || strings.Contains(out.String(), "export ARKER_API_KEY") {
		t.Errorf("printed the key from the environment: %q", out.String())
	}
	if ents, _ := os.ReadDir(home); len(ents) != 1 {
		t.Errorf("seeded a non-empty home: %d entries", len(ents))
	}
}
