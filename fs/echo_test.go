package fs

import (
	"fmt"
	"testing"

	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/helper"
)

func TestEchoes(t *testing.T) {
	var e echoes
	e.sent(transport.MetaOp{Kind: helper.OpRename, Path: "/r/a", Path2: "/r/b"},
		transport.MetaOp{Kind: helper.OpStat, Path: "/r/read"})
	e.uploaded("/r/up")
	for _, p := range []string{"/r/a", "/r/b", "/r/up", "/r/" + transport.TempPrefix + "x.tmp"} {
		if !e.isEcho(p) {
			t.Errorf("%s: our own change not taken for an echo", p)
		}
	}
	for _, p := range []string{"/r/read", "/r/other", "/r"} {
		if e.isEcho(p) {
			t.Errorf("%s: taken for an echo though we did not change it", p)
		}
	}
	for i := range maxEchoes + 10 {
		e.uploaded(fmt.Sprintf("/r/many/%d", i))
	}
	if len(e.at) > maxEchoes {
		t.Errorf("echoes holds %d paths, more than %d", len(e.at), maxEchoes)
	}
}
