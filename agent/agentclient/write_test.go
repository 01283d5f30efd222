package agentclient

import (
	"reflect"
	"testing"

	"github.com/arker-ai/arkerfs/agent/proto"
)

// splitWrites keeps every request within the protocol's bounds, cuts
// first and sets the size last, and covers the spans exactly, in order.
func TestSplitWrites(t *testing.T) {
	big := int64(proto.MaxWrite)
	many := make([][2]int64, proto.MaxSpans+3)
	for i := range many {
		many[i] = [2]int64{int64(i) * 10, 5}
	}
	for _, c := range []struct {
		name  string
		spans [][2]int64
		reqs  int
	}{
		{"none", nil, 1},
		{"one", [][2]int64{{100, 4096}}, 1},
		{"exactly the limit", [][2]int64{{0, big}}, 1},
		{"one longer than the limit", [][2]int64{{7, 2*big + 1}}, 3},
		{"many spans", many, 2},
	} {
		reqs := splitWrites("/p", 3, 99, c.spans)
		if len(reqs) != c.reqs {
			t.Errorf("%s: %d requests, want %d", c.name, len(reqs), c.reqs)
		}
		var got [][2]int64
		for i, r := range reqs {
			var n int64
			for _, sp := range r.Spans {
				n += sp[1]
			}
			if n > big || len(r.Spans) > proto.MaxSpans {
				t.Errorf("%s: request %d has %d bytes in %d spans", c.name, i, n, len(r.Spans))
			}
			if (r.TruncateTo != nil) != (i == 0) || (r.Size != nil) != (i == len(reqs)-1) {
				t.Errorf("%s: request %d: truncate %v size %v", c.name, i, r.TruncateTo, r.Size)
			}
			for _, sp := range r.Spans {
				if k := len(got); k > 0 && got[k-1][0]+got[k-1][1] == sp[0] {
					got[k-1][1] += sp[1] // a span cut in two
				} else {
					got = append(got, sp)
				}
			}
		}
		if *reqs[0].TruncateTo != 3 || *reqs[len(reqs)-1].Size != 99 {
			t.Errorf("%s: truncate %d size %d", c.name, *reqs[0].TruncateTo, *reqs[len(reqs)-1].Size)
		}
		if len(got) != len(c.spans) || len(c.spans) > 0 && !reflect.DeepEqual(got, c.spans) {
			t.Errorf("%s: the requests cover %v, want %v", c.name, got[:min(len(got), 3)], c.spans[:min(len(c.spans), 3)])
		}
	}
}
