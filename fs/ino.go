package fs

import "sync"

// inoGens tells apart files that the VM gives the same inode number one
// after the other. Nodes take the VM's inode number (stable across
// mounts, which git's index relies on) and, as generation, the number of
// times this mount has seen that inode number freed; go-fuse keys nodes
// by both. Our own uploads free numbers all the time (a commit renames a
// new file into place), and the VM reuses them, so without the
// generation a new file would be taken for an old one still in the
// kernel's memory.
type inoGens struct {
	mu sync.Mutex        // protects m
	m  map[uint64]uint64 // VM inode number → times seen freed
}

func (g *inoGens) gen(ino uint64) uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.m[ino]
}

// retire records that ino no longer names the file it named.
func (g *inoGens) retire(ino uint64) {
	if ino == 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = make(map[uint64]uint64)
	}
	g.m[ino]++
}

// maxDevs bounds devNumbers; past it the oldest knowledge goes.
const maxDevs = 4096

// devNumbers remembers the numbers of the device nodes this mount made,
// by VM inode number: the VM's attributes do not carry them, and the
// kernel asks for a device's attributes again whenever they were
// invalidated (the agent's change feed reports the mknod too).
type devNumbers struct {
	mu sync.Mutex        // protects m
	m  map[uint64]uint32 // VM inode number → device number as FUSE passes it
}

func (d *devNumbers) set(ino uint64, dev uint32) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil || len(d.m) >= maxDevs {
		d.m = make(map[uint64]uint32)
	}
	d.m[ino] = dev
}

// of returns the device number of ino, 0 when unknown.
func (d *devNumbers) of(ino uint64) uint32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.m[ino]
}
