package transport_test

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/transport"
)

// Uploads that become ready together share sync requests, and each lands
// with its own content.
func TestUploadBatcherGroupsConcurrentUploads(t *testing.T) {
	e := newEmu(t)
	// Latency makes the first round slow enough for the others to queue.
	e.SetLatency(20 * time.Millisecond)
	c := e.client(t)
	b := transport.NewUploadBatcher(c)
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			data := []byte(fmt.Sprintf("file %d\n", i))
			r := b.Do(ctxT(t), transport.Upload{Path: fmt.Sprintf("/home/user/f%02d", i),
				UploadID: fmt.Sprintf("up-%d", i), Size: int64(len(data)), Source: bytes.NewReader(data)})
			errs <- r.Err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i++ {
		got, err := os.ReadFile(e.local(fmt.Sprintf("/home/user/f%02d", i)))
		if err != nil || string(got) != fmt.Sprintf("file %d\n", i) {
			t.Fatalf("f%02d: %q %v", i, got, err)
		}
	}
	if w := e.requests("sync.write"); w >= n/2 {
		t.Fatalf("%d uploads took %d sync requests; want them grouped", n, w)
	}
}
