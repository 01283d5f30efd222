package main

import "runtime/debug"

// buildVersion is the version the build set (make build, make release),
// else the module version `go install ...@VERSION` recorded, else "dev".
func buildVersion() string {
	if version != "dev" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return version
}
