package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// errUnhealthy: status printed a failing check; exit 1 without another message.
var errUnhealthy = errors.New("the gateway is not healthy")

// runStatus checks the gateway's /healthz and /readyz (no token needed).
func runStatus(ctx context.Context, o *options, args []string, stdout, stderr io.Writer) error {
	if _, err := parseCommand("status", o, args, 0, stderr, nil); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	base := strings.TrimRight(o.server, "/")
	healthy := true
	for _, path := range []string{"/healthz", "/readyz"} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return fmt.Errorf("%w: bad --server %q: %w", errUsage, base, err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("cannot reach the gateway at %s: %w", base, err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		_ = resp.Body.Close()
		fmt.Fprintf(stdout, "%-8s %d %s\n", strings.TrimPrefix(path, "/"), resp.StatusCode, strings.TrimSpace(string(body)))
		if resp.StatusCode != http.StatusOK {
			healthy = false
		}
	}
	if !healthy {
		return errUnhealthy
	}
	return nil
}
