// Package cache holds the pieces the FUSE layer uses to avoid round trips
// to the VM and to stage writes locally:
//
//   - BlockCache: fixed-size blocks of remote files, keyed by file, version
//     and block number, kept in memory under a byte budget with an optional
//     disk tier that evicted blocks spill to.
//   - FileReader: one per open file handle; serves reads from the block
//     cache and fetches what is missing, with parallel read-ahead while the
//     handle reads sequentially (see readahead.go).
//   - TTL: small expiring LRU maps for attributes, entries, negative lookups
//     and directory listings.
//   - Staging and StagedFile: local files that hold writes until they are
//     uploaded, with a sidecar record so that a later process can find what
//     a crashed one left behind.
//
// The package knows nothing of inodes, HTTP or the transport package: the
// caller passes the functions that reach the remote (see Fetch) and chooses
// the identities (a file number and a version string) that key the cache.
package cache
