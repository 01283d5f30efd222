//go:build !linux

package agent

import (
	"context"
	"time"

	"github.com/arker-ai/arkerfs/agent/proto"
)

// feeds has no change feed to offer off Linux (the agent runs on Linux
// only; this keeps the handler building everywhere).
type feeds struct{}

type feed struct{}

func newFeeds(func(string, ...any)) *feeds { return &feeds{} }

func (*feeds) of(string) (*feed, error) { return nil, errLinuxOnly }

func (*feeds) close() {}

func (*feed) since(context.Context, uint64, bool, time.Duration) proto.Events { return proto.Events{} }
