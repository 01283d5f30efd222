package helper

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// fileTypes maps find's %y letters to file types.
var fileTypes = map[string]FileType{
	"f": TypeRegular, "d": TypeDir, "l": TypeSymlink, "p": TypeFIFO,
	"s": TypeSocket, "c": TypeChar, "b": TypeBlock,
}

// parseAttr reads "%y %m %n %U %G %s %b %i %D %A@ %T@ %C@": twelve fields
// separated by single spaces.
func parseAttr(head string) (Attr, error) {
	f := strings.Split(head, " ")
	if len(f) != 12 {
		return Attr{}, fmt.Errorf("attribute record has %d fields, want 12", len(f))
	}
	var a Attr
	t, ok := fileTypes[f[0]]
	if !ok {
		return Attr{}, fmt.Errorf("unknown file type %q", f[0])
	}
	a.Type = t
	var err error
	num := func(s string, base, bits int) uint64 {
		v, e := parseUint(s, base, bits)
		if e != nil && err == nil {
			err = e
		}
		return v
	}
	a.Perm = uint32(num(f[1], 8, 12))
	a.Nlink = uint32(num(f[2], 10, 32))
	a.UID = uint32(num(f[3], 10, 32))
	a.GID = uint32(num(f[4], 10, 32))
	a.Size = int64(num(f[5], 10, 63))
	a.Blocks = int64(num(f[6], 10, 63))
	a.Ino = num(f[7], 10, 64)
	a.Dev = num(f[8], 10, 64)
	for i, dst := range []*int64{&a.AtimeNs, &a.MtimeNs, &a.CtimeNs} {
		ns, e := parseTime(f[9+i])
		if e != nil && err == nil {
			err = e
		}
		*dst = ns
	}
	if err != nil {
		return Attr{}, err
	}
	return a, nil
}

// parseUint accepts digits only (no sign, no prefix, no spaces).
func parseUint(s string, base, bits int) (uint64, error) {
	if !allDigits(s) {
		return 0, fmt.Errorf("bad number %q", s)
	}
	v, err := strconv.ParseUint(s, base, bits)
	if err != nil {
		return 0, fmt.Errorf("bad number %q", s)
	}
	return v, nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseTime reads find's %A@/%T@/%C@: [-]SEC.FRACTION, where SEC is the
// timespec's tv_sec (signed) and FRACTION its tv_nsec as 1 to 10 digits
// (GNU find prints nine and a trailing 0). The result is nanoseconds
// since the epoch, saturated at the ends of int64.
func parseTime(s string) (int64, error) {
	secs, frac, ok := strings.Cut(s, ".")
	neg := strings.HasPrefix(secs, "-")
	digits := strings.TrimPrefix(secs, "-")
	if !ok || !allDigits(digits) || !allDigits(frac) || len(frac) > 10 || len(digits) > 19 {
		return 0, fmt.Errorf("bad time %q", s)
	}
	mag, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || mag > math.MaxInt64 {
		return 0, fmt.Errorf("bad time %q", s)
	}
	nsec, _ := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
	sec := int64(mag)
	if neg {
		sec = -sec
	}
	return JoinTime(sec, nsec), nil
}

// JoinTime is sec*1e9+nsec (0 <= nsec < 1e9), saturated at the ends of
// int64: the nanoseconds Parse makes of find's [-]SEC.FRACTION, and the
// agent of a stat's timespec.
func JoinTime(sec, nsec int64) int64 {
	const (
		second = int64(1e9)
		maxSec = math.MaxInt64 / second        // 9223372036
		maxNs  = math.MaxInt64 % second        // 854775807
		minSec = math.MinInt64/second - 1      // -9223372037
		minNs  = second + math.MinInt64%second // 145224192
	)
	switch {
	case sec > maxSec || sec == maxSec && nsec > maxNs:
		return math.MaxInt64
	case sec < minSec || sec == minSec && nsec < minNs:
		return math.MinInt64
	case sec < 0:
		return (sec+1)*second + (nsec - second)
	}
	return sec*second + nsec
}

// parseStatfs reads "%S %b %f %a %c %d %l": seven numbers separated by
// single spaces.
func parseStatfs(s string) (*Statfs, error) {
	f := strings.Split(s, " ")
	if len(f) != 7 {
		return nil, fmt.Errorf("statfs record has %d fields, want 7", len(f))
	}
	var v [7]uint64
	for i := range f {
		n, err := parseUint(f[i], 10, 64)
		if err != nil {
			return nil, errors.New("statfs record: " + err.Error())
		}
		v[i] = n
	}
	return &Statfs{Bsize: v[0], Blocks: v[1], Bfree: v[2], Bavail: v[3], Files: v[4], Ffree: v[5], NameLen: v[6]}, nil
}
