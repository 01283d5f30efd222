package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Work on the mount that makes the mount start a run while the worker
// still holds a descriptor in it (an fsync of an open file: the upload's
// install run) must not be done by this process. The emulator serves in
// this process and starts each run by forking it, so the run inherits
// that descriptor; closing it at exec sends the mount a flush, which waits
// for the fsync, which waits for the run: neither finishes until the
// client gives up. Such work runs in a child process, this program
// started again with childEnv set, which holds no descriptor a run could
// inherit.
const childEnv = "ARKERFS_BENCH_CHILD"

// childMain does the work a parent asked for in args and prints its
// result; it returns the exit code.
func childMain(args []string) int {
	if err := childWork(args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func childWork(args []string) error {
	switch {
	case len(args) == 3 && args[0] == "saves":
		n, err := strconv.Atoi(args[2])
		if err != nil {
			return err
		}
		d, _, err := saveLoop(context.Background(), args[1], n)
		if err != nil {
			return err
		}
		fmt.Println(d.Nanoseconds())
		return nil
	}
	return fmt.Errorf("benchcmd child: unknown work %q", args)
}

// inChild runs the work args names in a child process and returns what
// it printed.
func inChild(ctx context.Context, args ...string) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// savesInChild makes n editor saves of dir/doc.txt (saveLoop) in a child
// process and returns the time the loop took there, and the last
// content.
func savesInChild(ctx context.Context, dir string, n int) (time.Duration, string, error) {
	out, err := inChild(ctx, "saves", dir, strconv.Itoa(n))
	if err != nil {
		return 0, "", err
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil {
		return 0, "", fmt.Errorf("the saves child printed %q", out)
	}
	return time.Duration(ns), saveContent(n - 1), nil
}
