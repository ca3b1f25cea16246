package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
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
	raw, _, err := c.postJSON(ctx, "/v1/admin/sessions/"+url.PathEscape(pos[0])+"/kick", []byte("{}"))
	if err != nil {
		return err
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
