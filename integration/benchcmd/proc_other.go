//go:build !linux

package main

import (
	"errors"
	"runtime"
	"time"
)

// platformErr says why the driver cannot run here: it reads mountinfo
// and /proc, and the emulator's runs need Linux namespaces.
func platformErr() error {
	return errors.New("the benchmark driver runs on Linux only (it reads /proc; this is " + runtime.GOOS + ")")
}

func isMounted(string) bool                 { return false }
func detach(string)                         {}
func peakRSS(int) (int64, error)            { return 0, platformErr() }
func kernelRelease() string                 { return runtime.GOOS }
func cpuModel() string                      { return "unknown" }
func processCPU(int) (time.Duration, error) { return 0, platformErr() }
func selfCPU() time.Duration                { return 0 }
