package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/edgeplay/edgeplay/protocol"
)

// runKick: edgectl kick SESSION
func runKick(ctx context.Context, o *options, args []string, stdout, stderr io.Writer) error {
	pos, err := parseCommand("kick", o, args, 1, stderr, func(*flag.FlagSet) {})
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: kick needs a session id", errUsage)
	}
	c, err := newClient(o)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	resp, err := c.do(ctx, http.MethodPost, "/v1/admin/sessions/"+url.PathEscape(pos[0])+"/kick", nil, []byte("{}"))
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
	var s protocol.SessionStatus
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("the gateway sent a malformed session: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "%s: kicked (was %s on %s in %s)\n", s.ID, s.State, s.Host, s.Region)
	return err
}
