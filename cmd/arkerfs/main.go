// Command arkerfs mounts the home directory of an Arker VM as a local
// folder over the Arker HTTP API, and serves a local Arker-compatible
// emulator for trying it without an account.
//
//	arkerfs mount [flags] VM MOUNTPOINT
//	arkerfs VM MOUNTPOINT -o OPTIONS   (as mount.fuse3 runs it, for /etc/fstab)
//	arkerfs unmount MOUNTPOINT
//	arkerfs serve --home DIR [--listen ADDR] [--vm ID]
//	arkerfs status [flags] VM
//	arkerfs doctor [flags] VM
//	arkerfs agent [--state DIR] [--listen ADDR] [--idle DURATION]   (on the VM)
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/arker-ai/arkerfs/emulator"
)

const usage = `usage:
  arkerfs mount [flags] VM MOUNTPOINT   mount the VM's home directory (-f: in the foreground)
  arkerfs unmount MOUNTPOINT            unmount it
  arkerfs serve [flags]                 run a local Arker-compatible emulator
  arkerfs status [flags] VM             check the key and the VM
  arkerfs doctor [flags] VM             tell what the service offers and what arkerfs will use
  arkerfs agent [flags]                 serve metadata on the VM itself (a mount starts it)
  arkerfs version                       print the version
Run 'arkerfs COMMAND -h' for a command's flags.
`

// version is set by the build (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	// arkerfs serve hosts the emulator, whose runs are forked by this
	// binary executed again as its spawner.
	emulator.ServeSpawnerIfAsked()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a command line and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "mount":
		return runMount(rest, stdout, stderr)
	case "unmount", "umount":
		return runUnmount(rest, stdout, stderr)
	case "serve":
		return runServe(rest, stdout, stderr)
	case "status":
		return runStatus(rest, stdout, stderr)
	case "doctor":
		return runDoctor(rest, stdout, stderr)
	case "agent":
		return runAgent(rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "arkerfs", buildVersion())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	if isFstabCall(args) {
		return runFstab(args, stdout, stderr)
	}
	fmt.Fprintf(stderr, "arkerfs: unknown command %q\n%s", cmd, usage)
	return 2
}
