//go:build !linux

package agent

import (
	"context"
	"errors"
	"io"

	"github.com/arker-ai/arkerfs/agent/proto"
	"github.com/arker-ai/arkerfs/transport/helper"
)

// errLinuxOnly is what the agent answers on other systems.
var errLinuxOnly = errors.New("the agent runs on Linux only")

// Exec answers every operation with ENOSYS: the agent runs on Linux only.
func Exec(op helper.Op) helper.Result {
	return failed("ENOSYS", errLinuxOnly.Error())
}

// Run returns an error: the agent runs on Linux only.
func Run(ctx context.Context, o Options) error { return errLinuxOnly }

// readRange answers ENOSYS: the agent runs on Linux only.
func readRange(proto.ReadRequest) ([]byte, fileVersion, *proto.Failure) {
	return nil, fileVersion{}, &proto.Failure{Errno: "ENOSYS", Message: errLinuxOnly.Error()}
}

// writeSpans answers ENOSYS: the agent runs on Linux only.
func writeSpans(proto.WriteRequest, io.Reader) (helper.Attr, *proto.Failure) {
	return helper.Attr{}, &proto.Failure{Errno: "ENOSYS", Message: errLinuxOnly.Error()}
}
