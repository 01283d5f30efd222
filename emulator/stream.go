package emulator

import "github.com/arker-ai/arkerfs/wire"

// syncStream answers POST …/sync-stream (lineage B).
func (s *Server) syncStream(c *call) {
	c.fail(newError(wire.CodeUnsupportedOperation, "sync-stream is not implemented yet"))
}
