// Package fs is the go-fuse node tree of arkerfs. It turns kernel requests
// into calls on package cache (attributes, listings, blocks, staged writes)
// and package transport (the Arker client), and nothing else: it never
// builds an HTTP request, and no other package knows about inodes.
//
// Consistency is close-to-open with respect to the VM: open revalidates a
// file unless its attributes were seen within the attribute TTL, writes are
// staged on local disk and uploaded when the file is flushed, synced or
// released, and our own changes update the caches at once. Changes made
// inside the VM show up once the TTLs run out.
//
// Files: fs.go (the filesystem and its caches), dir.go, file.go and
// symlink.go (one node type each), handle.go (open files), staged.go
// (write staging and upload), errno.go (the one place errors become errnos).
package fs
