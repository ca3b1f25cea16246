// Command edgebench measures edgeplay's hot paths and prints the results as markdown for
// docs/BENCHMARKS.md. Each measurement is a subcommand in its own file:
//
//	edgebench encoder [flags]   H.264 encoding of demo-game frames, against ffmpeg
//	edgebench turn [flags]      the TURN relay's CPU per Mbit/s relayed
//
// and the session and matchmaker measurements (latency, density, placement, heartbeats,
// memory).
//
// Run "edgebench <command> -h" for the flags of a command.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one edgebench subcommand. run parses its own flags from args, writes its report
// to stdout and returns an error to make edgebench exit non-zero.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands are the subcommands, in the order usage lists them. A subcommand's file adds it
// here or appends it in an init function.
var commands = []command{
	encoderCommand,
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "edgebench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr)
		return flag.ErrHelp
	}
	name, args := args[0], args[1:]
	switch name {
	case "-h", "--help", "help":
		usage(stdout)
		return nil
	}
	for _, c := range commands {
		if c.name == name {
			return c.run(ctx, args, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "edgebench: unknown command %q\n\n", name)
	usage(stderr)
	return flag.ErrHelp
}

func usage(w io.Writer) {
	fmt.Fprint(w, "edgebench — benchmarks of edgeplay's hot paths, printed as markdown\n\nUsage:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  edgebench %-10s [flags]   %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun \"edgebench <command> -h\" for the flags of a command.\n")
}
