package wire

// VM is GET /v1/vms/{id}. State says whether a command is in flight, not
// whether the VM is awake. Hostname is the VM's inbound hostname (its
// port 8080; "<vm>-<port>.…" for another port), null or absent when none.
type VM struct {
	VMID             string      `json:"vm_id"`
	OwnerOrgID       string      `json:"owner_org_id"`
	CreatedAt        string      `json:"created_at"`
	Description      *string     `json:"description"`
	Public           bool        `json:"public"`
	State            string      `json:"state"`
	Sessions         []Session   `json:"sessions"`
	Resources        VMResources `json:"resources"`
	Network          VMNetwork   `json:"network"`
	Name             string      `json:"name,omitempty"`
	Hostname         *string     `json:"hostname,omitempty"`
	Region           string      `json:"region,omitempty"`
	Provider         string      `json:"provider,omitempty"`
	LastActiveAt     string      `json:"last_active_at,omitempty"`
	Platform         string      `json:"platform,omitempty"`
	RootSourceVMID   string      `json:"root_source_vm_id,omitempty"`
	RootSourceVMName string      `json:"root_source_vm_name,omitempty"`
}

// VMResources is a VM's size.
type VMResources struct {
	VCPU      int   `json:"vcpu"`
	MemoryMiB int64 `json:"memory_mib"`
	DiskMiB   int64 `json:"disk_mib"`
}

// VMNetwork holds a VM's SSH keys.
type VMNetwork struct {
	SSHPublicKeys []SSHKey `json:"ssh_public_keys,omitempty"`
}

// SSHKey is one authorized key.
type SSHKey struct {
	PublicKey   string `json:"public_key"`
	Fingerprint string `json:"fingerprint"`
}

// VM states.
const (
	VMIdle    = "idle"
	VMRunning = "running"
)

// HealthResponse is GET /v1/health ("ok" with 200; other values with 503).
type HealthResponse struct {
	Status    string `json:"status"`
	Timestamp string `json:"timestamp"`
}

// WhoamiResponse is GET /v1/whoami.
type WhoamiResponse struct {
	OrgID   string `json:"org_id"`
	OrgName string `json:"org_name"`
}
