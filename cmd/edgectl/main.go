// Command edgectl is the ops CLI of an edgeplay deployment. It talks to a gateway: `status`
// reads its health endpoints, every other command its admin API (docs/API.md) with the admin
// token from $EDGEPLAY_ADMIN_TOKEN.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

var version = "dev"

const usage = `edgectl — operate an edgeplay deployment

Usage:
  edgectl status                        is the gateway up and ready?
  edgectl hosts [ID]                    hosts as the matchmaker sees them
  edgectl sessions [ID] [--host H] [--region R]
                                        sessions on the hosts
  edgectl events [--follow] [--type T[,T...]] [--since D] [--limit N]
                                        session and host events (--follow: live)
  edgectl regions                       data centers: hosts, ready, draining, free slots
  edgectl games                         games the ready hosts offer, free slots per data center
  edgectl drain HOST|--region R [--deadline 30m] [--reason TEXT] [--force]
                                        no new sessions on HOST; running ones end at
                                        the deadline, their players are told
  edgectl undrain HOST                  put HOST back in service
  edgectl kick SESSION                  end a session (reason "kicked"; the player is told)
  edgectl studios [list]                studios, their games, limits, origins and keys
  edgectl studios create NAME [--games a,b] [--max-sessions N] [--max-queued N]
                  [--origins https://play.example.com,...] [--webhook URL]
                                        a new studio; prints its API key once
  edgectl studios show|delete STUDIO
  edgectl studios update STUDIO [--name N] [--games a,b] [--max-sessions N]
                  [--max-queued N] [--origins O,...] [--webhook URL]
                                        change only what is given
  edgectl studios keys add STUDIO       another API key (to roll one); printed once
  edgectl studios keys revoke STUDIO KEY
                                        the key mints no more join tokens
  edgectl usage [--studio S] [--since 24h] [--by game|day|region|studio|player] [-o csv]
                                        what sessions played (default: each session)
  edgectl version

Flags, before or after the command:
  --server URL    gateway base URL (default $EDGEPLAY_SERVER or http://localhost:8080)
  --token TOKEN   admin token (default $EDGEPLAY_ADMIN_TOKEN; prefer the variable:
                  other users can read command lines)
  -o table|json   output format (default table); json prints an array of objects;
                  usage also takes csv
                  (events --follow: one object per line)
  --timeout D     request timeout (default 10s; events --follow runs until Ctrl-C)

Exit status: 0 ok, 1 the request failed, 2 bad usage.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code, err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "edgectl:", err)
	}
	os.Exit(code)
}

// options are the flags every command takes.
type options struct {
	server  string
	token   string
	output  string
	timeout time.Duration
}

// register adds the common flags to fs, with o's current values as defaults, so a flag given
// before the command stays unless repeated after it.
func (o *options) register(fs *flag.FlagSet) {
	fs.StringVar(&o.server, "server", o.server, "gateway base URL")
	fs.StringVar(&o.token, "token", o.token, "admin token")
	fs.StringVar(&o.output, "o", o.output, "output format: table or json")
	fs.StringVar(&o.output, "output", o.output, "output format: table or json")
	fs.DurationVar(&o.timeout, "timeout", o.timeout, "request timeout")
}

// errUsage marks errors that exit with status 2.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	o := &options{
		server:  os.Getenv("EDGEPLAY_SERVER"),
		token:   os.Getenv("EDGEPLAY_ADMIN_TOKEN"),
		output:  "table",
		timeout: 10 * time.Second,
	}
	if o.server == "" {
		o.server = "http://localhost:8080"
	}
	fs := flag.NewFlagSet("edgectl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	o.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, nil
		}
		return 2, err
	}
	cmd, rest := fs.Arg(0), fs.Args()
	if len(rest) > 0 {
		rest = rest[1:]
	}
	commands := map[string]func(context.Context, *options, []string, io.Writer, io.Writer) error{
		"status":   runStatus,
		"hosts":    runHosts,
		"sessions": runSessions,
		"events":   runEvents,
		"drain":    runDrain,
		"undrain":  runUndrain,
		"kick":     runKick,
		"regions":  runRegions,
		"games":    runGames,
		"studios":  runStudios,
		"usage":    runUsage,
	}
	switch {
	case cmd == "version":
		fmt.Fprintln(stdout, "edgectl", version)
		return 0, nil
	case cmd == "":
		fs.Usage()
		return 2, errors.New("no command")
	case commands[cmd] == nil:
		fs.Usage()
		return 2, fmt.Errorf("unknown command %q", cmd)
	}
	err := commands[cmd](ctx, o, rest, stdout, stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0, nil
	case errors.Is(err, errUsage):
		return 2, err
	case errors.Is(err, errUnhealthy):
		return 1, nil // status printed why
	}
	return 1, err
}

// parseCommand parses a command's flags (common ones included), which may come before or
// after its arguments, and checks the argument count and the output format.
func parseCommand(name string, o *options, args []string, maxArgs int, stderr io.Writer,
	define func(fs *flag.FlagSet),
) ([]string, error) {
	fs := flag.NewFlagSet("edgectl "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	o.register(fs)
	if define != nil {
		define(fs)
	}
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %s: %w", errUsage, name, err)
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(positional) > maxArgs {
		return nil, fmt.Errorf("%w: %s takes at most %d argument(s), got %s", errUsage, name, maxArgs,
			strings.Join(positional, " "))
	}
	if o.output != "table" && o.output != "json" && (o.output != "csv" || name != "usage") {
		return nil, fmt.Errorf("%w: -o must be table or json (or csv for usage), not %q", errUsage, o.output)
	}
	return positional, nil
}
