package fs

import (
	"slices"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"
)

func TestMountOptionsDefaultPermissionsWithAllowOther(t *testing.T) {
	f := New(nil, nil, nil, Options{})
	cases := []struct {
		in   fuse.MountOptions
		want []string
	}{
		{fuse.MountOptions{}, nil},
		{fuse.MountOptions{Options: []string{"ro"}}, []string{"ro"}},
		{fuse.MountOptions{AllowOther: true}, []string{"default_permissions"}},
		{fuse.MountOptions{AllowOther: true, Options: []string{"ro"}}, []string{"ro", "default_permissions"}},
		{fuse.MountOptions{AllowOther: true, Options: []string{"default_permissions"}}, []string{"default_permissions"}},
	}
	for _, c := range cases {
		in := slices.Clone(c.in.Options)
		got := f.MountOptions(c.in)
		if !slices.Equal(got.MountOptions.Options, c.want) || got.MountOptions.AllowOther != c.in.AllowOther {
			t.Errorf("MountOptions(%+v) = %+v, want options %v", c.in, got.MountOptions, c.want)
		}
		if !slices.Equal(c.in.Options, in) {
			t.Errorf("MountOptions changed the caller's options to %v", c.in.Options)
		}
	}
}
