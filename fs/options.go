package fs

import (
	"time"

	"github.com/arker-ai/arkerfs/cache"
)

// Options configure the filesystem. Every field has a default that
// withDefaults fills in; the CLI builds its flags from these.
type Options struct {
	// Root is the VM directory shown at the mountpoint. Default /home/user.
	Root string
	// ReadOnly refuses every change with EROFS.
	ReadOnly bool
	// UID and GID own every file (files appear owned by the local user).
	UID, GID uint32
	// AttrTTL is how long file attributes are trusted. Default 5s.
	AttrTTL time.Duration
	// EntryTTL is how long a name → file binding is trusted. Default 5s.
	EntryTTL time.Duration
	// DirTTL is how long a directory listing is trusted. Default 5s.
	DirTTL time.Duration
	// NegativeTTL is how long "no such file" is trusted. Default 5s.
	NegativeTTL time.Duration
	// OpTimeout bounds the network work of one metadata operation.
	// Default 30s. Data transfers are bounded by the transport's stall
	// watchdog instead, so a large upload may take longer.
	OpTimeout time.Duration
	// PrefetchLimit bounds the subtree fetched in one round trip when a
	// directory is first listed: that many entries, level by level, so
	// the walk follows the tree's shape (a deep narrow tree is fetched as
	// deep as a shallow wide one is wide). Default 8192. PrefetchDepth
	// only bounds the levels (one find each on the VM) for pathological
	// chains of directories. Default 64.
	PrefetchDepth int
	PrefetchLimit int
	// DeferLimit bounds the changes answered locally before the VM
	// confirms them (deferred chmods, utimens and mkdirs, queued or on
	// their way; deferred.go): past it a new one waits until a run has
	// taken some to the VM. Default 1024, a few runs' worth.
	DeferLimit int
	// ReadAhead tunes the parallel read-ahead of large files.
	ReadAhead cache.ReadAheadOptions
	// Logf receives debug and warning lines; nil discards them.
	Logf func(format string, args ...any)
}

func (o Options) withDefaults() Options {
	if o.Root == "" {
		o.Root = "/home/user"
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.AttrTTL, 5*time.Second)
	def(&o.EntryTTL, 5*time.Second)
	def(&o.DirTTL, 5*time.Second)
	def(&o.NegativeTTL, 5*time.Second)
	def(&o.OpTimeout, 30*time.Second)
	if o.PrefetchDepth == 0 {
		o.PrefetchDepth = 64
	}
	if o.PrefetchLimit == 0 {
		o.PrefetchLimit = 8192
	}
	if o.DeferLimit == 0 {
		o.DeferLimit = 1024
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	return o
}
