package cache

import "sort"

// rangeSet is a set of byte offsets stored as sorted, disjoint, non-adjacent
// half-open spans. The zero value is empty. It is not safe for concurrent
// use.
type rangeSet struct {
	// INVARIANT: for all i, spans[i][0] < spans[i][1] < spans[i+1][0].
	spans [][2]int64
}

// add inserts [a, b).
func (s *rangeSet) add(a, b int64) {
	if a >= b {
		return
	}
	// i: first span that ends at or after a; j: first span that starts after b.
	i := sort.Search(len(s.spans), func(i int) bool { return s.spans[i][1] >= a })
	j := sort.Search(len(s.spans), func(i int) bool { return s.spans[i][0] > b })
	if i < j {
		a = min(a, s.spans[i][0])
		b = max(b, s.spans[j-1][1])
	}
	s.spans = append(s.spans[:i], append([][2]int64{{a, b}}, s.spans[j:]...)...)
}

// cut removes everything at or after size.
func (s *rangeSet) cut(size int64) {
	// spans[:i] end at or before size; spans[i] may straddle it.
	i := sort.Search(len(s.spans), func(i int) bool { return s.spans[i][1] > size })
	if i < len(s.spans) && s.spans[i][0] < size {
		s.spans[i][1] = size
		i++
	}
	s.spans = s.spans[:i]
}

// gaps returns the parts of [a, b) not in the set, in order.
func (s *rangeSet) gaps(a, b int64) [][2]int64 {
	var out [][2]int64
	pos := a
	i := sort.Search(len(s.spans), func(i int) bool { return s.spans[i][1] > a })
	for ; i < len(s.spans) && s.spans[i][0] < b && pos < b; i++ {
		if s.spans[i][0] > pos {
			out = append(out, [2]int64{pos, s.spans[i][0]})
		}
		pos = max(pos, s.spans[i][1])
	}
	if pos < b {
		out = append(out, [2]int64{pos, b})
	}
	return out
}

// covers reports whether all of [a, b) is in the set.
func (s *rangeSet) covers(a, b int64) bool {
	return a >= b || len(s.gaps(a, b)) == 0
}
