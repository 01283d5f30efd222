package agent

// fileVersion is what tells one content of a file from another: its size
// and mtime, as the agent's attributes give them.
type fileVersion struct {
	Size, MtimeNs int64
}
