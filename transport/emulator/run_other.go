//go:build !linux

package emulator

import (
	"context"
	"net/http"
	"runtime"
	"time"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// sandbox is absent off Linux: showing a directory at /home/user needs a
// private mount namespace, which this platform does not have.
type sandbox struct{}

func newSandbox(home string, forceUserNS bool) (*sandbox, *apiError) {
	return nil, errorf(http.StatusNotImplemented, wire.CodeUnsupportedOperation, "",
		"run needs a private mount namespace to show the home directory at %s; %s has none, so the emulator cannot run commands here",
		wire.HomeDir, runtime.GOOS)
}

func (sb *sandbox) close() {}

func (sb *sandbox) execute(ctx context.Context, command string, timeout time.Duration) (*wire.RunResponse, *apiError) {
	return nil, errorf(http.StatusNotImplemented, wire.CodeUnsupportedOperation, "", "run is not supported on %s", runtime.GOOS)
}
