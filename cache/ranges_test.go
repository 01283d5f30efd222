package cache

import (
	"slices"
	"testing"
)

func TestRangeSet(t *testing.T) {
	tests := []struct {
		name string
		adds [][2]int64
		cut  int64 // -1: none
		want [][2]int64
	}{
		{"empty", nil, -1, nil},
		{"disjoint stay apart", [][2]int64{{10, 20}, {0, 5}, {30, 40}}, -1, [][2]int64{{0, 5}, {10, 20}, {30, 40}}},
		{"adjacent merge", [][2]int64{{0, 5}, {5, 10}}, -1, [][2]int64{{0, 10}}},
		{"bridge merges three", [][2]int64{{0, 5}, {10, 15}, {20, 25}, {3, 22}}, -1, [][2]int64{{0, 25}}},
		{"inside adds nothing", [][2]int64{{0, 50}, {10, 20}}, -1, [][2]int64{{0, 50}}},
		{"empty span ignored", [][2]int64{{5, 5}, {7, 3}}, -1, nil},
		{"cut through a span", [][2]int64{{0, 10}, {20, 30}}, 25, [][2]int64{{0, 10}, {20, 25}}},
		{"cut between spans", [][2]int64{{0, 10}, {20, 30}}, 15, [][2]int64{{0, 10}}},
		{"cut at a span's end", [][2]int64{{0, 10}, {20, 30}}, 10, [][2]int64{{0, 10}}},
		{"cut at a span's start", [][2]int64{{0, 10}, {20, 30}}, 20, [][2]int64{{0, 10}}},
		{"cut to zero", [][2]int64{{0, 10}}, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s rangeSet
			for _, a := range tt.adds {
				s.add(a[0], a[1])
			}
			if tt.cut >= 0 {
				s.cut(tt.cut)
			}
			if !slices.Equal(s.spans, tt.want) {
				t.Fatalf("spans %v, want %v", s.spans, tt.want)
			}
		})
	}
}

func TestRangeSetGaps(t *testing.T) {
	var s rangeSet
	s.add(10, 20)
	s.add(30, 40)
	tests := []struct {
		a, b   int64
		want   [][2]int64
		covers bool
	}{
		{0, 50, [][2]int64{{0, 10}, {20, 30}, {40, 50}}, false},
		{12, 18, nil, true},
		{15, 35, [][2]int64{{20, 30}}, false},
		{20, 30, [][2]int64{{20, 30}}, false},
		{10, 20, nil, true},
		{40, 40, nil, true},
	}
	for _, tt := range tests {
		if got := s.gaps(tt.a, tt.b); !slices.Equal(got, tt.want) {
			t.Errorf("gaps(%d, %d) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := s.covers(tt.a, tt.b); got != tt.covers {
			t.Errorf("covers(%d, %d) = %v", tt.a, tt.b, got)
		}
	}
}
