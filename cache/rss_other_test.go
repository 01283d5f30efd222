//go:build !linux

package cache

// Peak RSS is read from /proc on Linux only.
func resetPeakRSS() (int64, bool) { return 0, false }

func peakRSS() (int64, bool) { return 0, false }
