// Package agent is the VM-side server of arkerfs: the arkerfs binary run
// on the VM as `arkerfs agent`, answering the metadata helper's
// operations (stat, list, tree, readlink, statfs, xattrs, and the changes:
// mkdir, create, rename, install, …) over HTTP with system calls instead
// of a process start per operation.
// Its answers are the ones the helper script gives for the same
// operation (transport/helper, docs/HELPER.md), so a client treats both
// paths as one. The wire format is package agent/proto; docs/AGENT.md
// describes the protocol, the agent's lifecycle and its security.
//
// Exec runs one operation; Run serves them until the agent is idle.
package agent
