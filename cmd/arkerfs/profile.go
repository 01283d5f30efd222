package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
)

// startProfile writes a CPU profile of the mount to the file named by
// ARKERFS_CPUPROFILE, for looking into benchmark figures; it returns
// the function that finishes the profile, or nil when none was asked for.
func startProfile(stderr io.Writer) func() {
	path := os.Getenv("ARKERFS_CPUPROFILE")
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(stderr, "arkerfs: warning: CPU profile: %v\n", err)
		return nil
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(stderr, "arkerfs: warning: CPU profile: %v\n", err)
		f.Close()
		return nil
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
