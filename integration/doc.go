// Package integration holds the tests that mount arkerfs for real: a
// kernel FUSE mount served by fs, talking over HTTP on loopback to the
// emulator, which maps /home/user onto a temporary directory. Real tools
// (git, rsync, vim, tar) run against the mount. The benchmark driver lives
// in benchcmd.
//
// The tests need /dev/fuse and the right to mount (root, or fusermount3).
// In CI (CI=true) a machine without FUSE fails the tests; elsewhere they
// are skipped with a message saying why.
package integration
