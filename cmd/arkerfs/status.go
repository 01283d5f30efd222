package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/arker-ai/arkerfs/transport"
)

// runStatus shows each connection setting with where it came from, then
// checks the key and the VM and says where requests go.
func runStatus(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("status", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var a apiFlags
	a.register(fl)
	pos, err := parseInterleaved(fl, args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "usage: arkerfs status [flags] VM")
		return 2
	}
	cfg, sets, err := a.resolve(pos[0])
	fmt.Fprintln(stdout, "settings:")
	sets.print(stdout)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	client, err := a.client(cfg, stderr)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	vm, err := client.DescribeVM(ctx)
	if err != nil {
		return fail(stderr, "%v", sets.explainErr(err, pos[0]))
	}
	fmt.Fprintf(stdout, "VM %s (%s) is %s\nconfig: %s\n", vm.ID, vm.Name, vm.State, cfg)
	printMounts(stdout, pos[0], vm)
	return 0
}

// printMounts lists this user's mounts of the VM that are being served,
// with the path their metadata takes.
func printMounts(stdout io.Writer, asked string, vm *transport.VMInfo) {
	n := 0
	for _, st := range readServerStates(runtimeDir()) {
		if st.VM != asked && st.VM != vm.ID && st.VM != vm.Name || st.Mountpoint == "" {
			continue
		}
		if n == 0 {
			fmt.Fprintln(stdout, "mounts:")
		}
		n++
		fmt.Fprintf(stdout, "  %s (pid %d): metadata through %s\n", st.Mountpoint, st.PID, st.Metadata)
	}
	if n == 0 {
		fmt.Fprintln(stdout, "mounts: none served by this user")
	}
}

// client builds the client of a one-shot command (status, doctor): cfg
// with the command's log as its debug output.
func (a *apiFlags) client(cfg transport.Config, stderr io.Writer) (*transport.Client, error) {
	log, err := a.log.logger(stderr, a.debug, cfg.APIKey)
	if err != nil {
		return nil, err
	}
	cfg.Debug = transportLogf(log, nil)
	return transport.New(cfg)
}
