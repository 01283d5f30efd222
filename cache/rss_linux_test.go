package cache

import (
	"bytes"
	"os"
	"strconv"
)

// resetPeakRSS resets the kernel's peak-RSS mark of this process and
// returns the current RSS in bytes.
func resetPeakRSS() (int64, bool) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return 0, false
	}
	return statusBytes("VmRSS:")
}

// peakRSS returns the peak RSS since the last reset, in bytes.
func peakRSS() (int64, bool) { return statusBytes("VmHWM:") }

func statusBytes(field string) (int64, bool) {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for line := range bytes.Lines(raw) {
		if rest, ok := bytes.CutPrefix(line, []byte(field)); ok {
			f := bytes.Fields(rest) // "123456 kB"
			if len(f) == 2 {
				if kb, err := strconv.ParseInt(string(f[0]), 10, 64); err == nil {
					return kb << 10, true
				}
			}
		}
	}
	return 0, false
}
