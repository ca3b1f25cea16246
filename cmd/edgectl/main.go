// Command edgectl is the ops CLI. For now it checks a gateway's health; host and session
// management (hosts, sessions, drain) arrive with the admin API.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

var version = "dev"

const usage = `edgectl — operate an edgeplay deployment

Usage:
  edgectl [--server URL] status    is the gateway up and ready?
  edgectl version

--server defaults to $EDGEPLAY_SERVER or http://localhost:8080.
`

func main() {
	code, err := run(os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "edgectl:", err)
	}
	os.Exit(code)
}

func run(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("edgectl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	def := os.Getenv("EDGEPLAY_SERVER")
	if def == "" {
		def = "http://localhost:8080"
	}
	server := fs.String("server", def, "gateway base URL")
	timeout := fs.Duration("timeout", 5*time.Second, "request timeout")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, nil
		}
		return 2, err
	}
	switch fs.Arg(0) {
	case "version":
		fmt.Fprintln(stdout, "edgectl", version)
		return 0, nil
	case "status":
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		defer cancel()
		return status(ctx, strings.TrimRight(*server, "/"), stdout)
	case "":
		fs.Usage()
		return 2, errors.New("no command")
	}
	fs.Usage()
	return 2, fmt.Errorf("unknown command %q", fs.Arg(0))
}

func status(ctx context.Context, base string, stdout io.Writer) (int, error) {
	code := 0
	for _, path := range []string{"/healthz", "/readyz"} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return 2, fmt.Errorf("bad --server %q: %w", base, err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 1, fmt.Errorf("cannot reach the gateway at %s: %w", base, err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		_ = resp.Body.Close()
		fmt.Fprintf(stdout, "%-8s %d %s\n", strings.TrimPrefix(path, "/"), resp.StatusCode, strings.TrimSpace(string(body)))
		if resp.StatusCode != http.StatusOK {
			code = 1
		}
	}
	return code, nil
}
