package emulator

import (
	"net/http"
	"time"

	"github.com/arker-ai/arkerfs/wire"
)

// health answers GET /v1/health (no auth).
func (s *Server) health(c *call) {
	c.reply(http.StatusOK, wire.HealthResponse{Status: "ok", Timestamp: rfc3339(time.Now())})
}

// whoami answers GET /v1/whoami.
func (s *Server) whoami(c *call) {
	c.reply(http.StatusOK, wire.WhoamiResponse{OrgID: s.opts.OrgID, OrgName: s.opts.OrgName})
}

// Resources the emulated VM reports.
const (
	vmVCPU      = 2
	vmMemoryMiB = 4096
	vmDiskMiB   = 16384
)

// getVM answers GET /v1/vms/{id}: state running while a run is pending or
// running, with the sessions, the placement and the inbound hostname.
func (s *Server) getVM(c *call) {
	sessions := s.runs.sessionList()
	state := wire.VMIdle
	for _, ss := range sessions {
		if ss.State == wire.SessionRunning {
			state = wire.VMRunning
		}
	}
	c.reply(http.StatusOK, wire.VM{
		VMID:       s.opts.VMID,
		Name:       s.opts.VMName,
		Hostname:   s.hostname(),
		Region:     VMRegion,
		Provider:   VMProvider,
		OwnerOrgID: s.opts.OrgID,
		CreatedAt:  rfc3339(s.created),
		Public:     false,
		State:      state,
		Sessions:   sessions,
		Resources:  wire.VMResources{VCPU: vmVCPU, MemoryMiB: vmMemoryMiB, DiskMiB: vmDiskMiB},
		Network:    wire.VMNetwork{},
	})
}
