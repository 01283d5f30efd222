package transport_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/helper"
	"github.com/arker-ai/arkerfs/wire"
)

// fakeServer answers stats with a fixed size, or fails when told to.
type fakeServer struct {
	calls atomic.Int64
	fail  atomic.Bool
}

func (s *fakeServer) Serves(kind string) bool { return kind == string(helper.OpStat) }
func (s *fakeServer) Describe() string        { return "the fake server" }
func (s *fakeServer) Meta(_ context.Context, ops []transport.MetaOp) ([]transport.MetaResult, error) {
	s.calls.Add(1)
	if s.fail.Load() {
		return nil, errors.New("unreachable")
	}
	out := make([]transport.MetaResult, len(ops))
	for i := range ops {
		out[i].Attr = &transport.Attr{Type: helper.TypeRegular, Size: 4242}
	}
	return out, nil
}

// A batch the MetaServer serves all of goes to it and costs no run; a
// batch with another kind goes as a run; a failed server is given up and
// the batch answered by a run.
func TestMetaServerRouting(t *testing.T) {
	e := newEmu(t, wire.LineageB)
	c := e.client(t)
	e.writeLocal(t, vm("f"), []byte("abc"))
	s := &fakeServer{}
	var logged atomic.Int64
	c.UseMetaServer(s, func(string, ...any) {
		logged.Add(1)
		_ = c.MetaServerInUse() // the log may ask, as the mount's status does
	})
	ctx := context.Background()

	runs := e.requests("runs.create")
	a, err := c.Stat(ctx, vm("f"))
	if err != nil || a.Size != 4242 || e.requests("runs.create") != runs {
		t.Fatalf("stat through the server: size %d, %v, %d runs", a.Size, err, e.requests("runs.create")-runs)
	}

	res, err := c.Meta(ctx, transport.MetaOp{Kind: helper.OpStat, Path: vm("f")}, transport.MetaOp{Kind: helper.OpList, Path: vm("")[:len(vm(""))-1]})
	if err != nil || res[0].Attr == nil || res[0].Attr.Size != 3 {
		t.Fatalf("mixed batch: %+v, %v", res, err)
	}
	if e.requests("runs.create") != runs+1 {
		t.Errorf("a mixed batch should be one run, got %d", e.requests("runs.create")-runs)
	}

	s.fail.Store(true)
	a, err = c.Stat(ctx, vm("f"))
	if err != nil || a.Size != 3 {
		t.Fatalf("stat after the server failed: size %d, %v; want the VM's answer", a.Size, err)
	}
	if c.MetaServerInUse() != "" || logged.Load() != 1 {
		t.Errorf("the failed server is still in use (%q) or its loss was not logged once (%d)", c.MetaServerInUse(), logged.Load())
	}
	calls := s.calls.Load()
	if _, err := c.Stat(ctx, vm("f")); err != nil || s.calls.Load() != calls {
		t.Errorf("a given-up server was asked again (%v)", err)
	}
}

// changeServer serves every kind and fails with err.
type changeServer struct{ err error }

func (s *changeServer) Serves(string) bool { return true }
func (s *changeServer) Describe() string   { return "the failing server" }
func (s *changeServer) Meta(context.Context, []transport.MetaOp) ([]transport.MetaResult, error) {
	return nil, s.err
}

// A batch with changes that a failed server may have acted on is not sent
// again through runs: its ops fail with unknown outcome. One the server
// certainly turned away goes through runs.
func TestMetaServerChangesNotResent(t *testing.T) {
	e := newEmu(t, wire.LineageB)
	c := e.client(t)
	ctx := context.Background()
	mkdir := func(name string) transport.MetaOp {
		return transport.MetaOp{Kind: helper.OpMkdir, Path: vm(name), Mode: 0o755}
	}

	c.UseMetaServer(&changeServer{err: errors.New("connection reset")}, nil)
	runs := e.requests("runs.create")
	res, _ := c.Meta(ctx, mkdir("a"))
	if transport.CodeOf(res[0].Err) != transport.CodeUnknownOutcome || e.requests("runs.create") != runs {
		t.Fatalf("a change lost on its way: %v, %d runs; want unknown outcome and no run", res[0].Err, e.requests("runs.create")-runs)
	}

	c.UseMetaServer(&changeServer{err: fmt.Errorf("403: %w", transport.ErrNotDelivered)}, nil)
	res, err := c.Meta(ctx, mkdir("b"))
	if err != nil || res[0].Err != nil || res[0].Attr == nil {
		t.Fatalf("a change turned away should go through runs: %+v, %v", res, err)
	}
	if _, err := os.Stat(e.local(vm("b"))); err != nil {
		t.Fatalf("the directory is not on the VM: %v", err)
	}
}
