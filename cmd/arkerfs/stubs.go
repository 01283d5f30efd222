package main

import "io"

// Placeholders until each command lands in its own file.

func runMount(args []string, stdout, stderr io.Writer) int   { return 2 }
func runUnmount(args []string, stdout, stderr io.Writer) int { return 2 }
func runStatus(args []string, stdout, stderr io.Writer) int  { return 2 }
