package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// runDrain: edgectl drain HOST [--deadline 30m] [--reason TEXT]
func runDrain(ctx context.Context, o *options, args []string, stdout, stderr io.Writer) error {
	var deadline time.Duration
	var reason string
	pos, err := parseCommand("drain", o, args, 1, stderr, func(fs *flag.FlagSet) {
		fs.DurationVar(&deadline, "deadline", 0, "running sessions end this long from now (default: the host's grace, 30m)")
		fs.StringVar(&reason, "reason", "", "told to the players (at most 256 bytes)")
	})
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: drain needs a host id", errUsage)
	}
	body := map[string]string{"reason": reason}
	if deadline > 0 {
		body["deadline"] = deadline.String()
	}
	b, _ := json.Marshal(body)
	return changeHost(ctx, o, pos[0], "drain", b, stdout)
}

// runUndrain: edgectl undrain HOST
func runUndrain(ctx context.Context, o *options, args []string, stdout, stderr io.Writer) error {
	pos, err := parseCommand("undrain", o, args, 1, stderr, func(*flag.FlagSet) {})
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: undrain needs a host id", errUsage)
	}
	return changeHost(ctx, o, pos[0], "undrain", []byte("{}"), stdout)
}

// changeHost posts a drain or undrain and prints the host's new state.
func changeHost(ctx context.Context, o *options, id, action string, body []byte, stdout io.Writer) error {
	c, err := newClient(o)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	resp, err := c.do(ctx, http.MethodPost, "/v1/admin/hosts/"+url.PathEscape(id)+"/"+action, nil, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("reading the answer of %s: %w", c.base, err)
	}
	if o.output == "json" {
		return printJSON(stdout, append(append([]byte("["), raw...), ']'))
	}
	var h hostRow
	if err := json.Unmarshal(raw, &h); err != nil {
		return fmt.Errorf("the gateway sent a malformed host: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "%s: %s (%d/%d slots in use)\n", h.ID, h.State, h.Used+h.Reserved, h.Slots)
	return err
}
