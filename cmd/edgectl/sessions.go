package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/edgeplay/edgeplay/protocol"
)

// missingHostsHeader names the hosts that did not answer a sessions query (docs/API.md).
const missingHostsHeader = "X-Edgeplay-Missing-Hosts"

// runSessions: edgectl sessions [ID] [--host H] [--region R]
func runSessions(ctx context.Context, o *options, args []string, stdout, stderr io.Writer) error {
	var host, region string
	pos, err := parseCommand("sessions", o, args, 1, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&host, "host", "", "only sessions on this host")
		fs.StringVar(&region, "region", "", "only sessions in this data center")
	})
	if err != nil {
		return err
	}
	c, err := newClient(o)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var raw []byte
	if len(pos) == 1 {
		if host != "" || region != "" {
			return fmt.Errorf("%w: sessions: give a session id or filters, not both", errUsage)
		}
		one, hdr, err := c.getJSON(ctx, "/v1/admin/sessions/"+url.PathEscape(pos[0]), nil)
		warnMissing(stderr, hdr)
		if err != nil {
			return err
		}
		raw = append(append([]byte("["), one...), ']') // always an array, as documented
	} else {
		q := url.Values{}
		if host != "" {
			q.Set("host", host)
		}
		if region != "" {
			q.Set("region", region)
		}
		var hdr http.Header
		if raw, hdr, err = c.getJSON(ctx, "/v1/admin/sessions", q); err != nil {
			return err
		}
		warnMissing(stderr, hdr)
	}
	if o.output == "json" {
		return printJSON(stdout, raw)
	}
	var rows []protocol.SessionStatus
	if err := json.Unmarshal(raw, &rows); err != nil {
		return fmt.Errorf("the gateway sent a malformed session list: %w", err)
	}
	t := newTable(stdout, "ID", "GAME", "REGION", "HOST", "RTT", "STATE", "DURATION", "FPS", "BITRATE")
	for _, s := range rows {
		rtt, dur, fps, rate := "-", "-", "-", "-"
		if s.RTTMillis > 0 {
			rtt = millis(s.RTTMillis)
		}
		if !s.StartedAt.IsZero() {
			dur, fps, rate = duration(s.DurationSeconds), fmt.Sprintf("%.0f", s.FPS), bitrate(s.BitrateKbps)
		}
		t.row(s.ID, orDash(s.Game), s.Region, s.Host, rtt, s.State, dur, fps, rate)
	}
	return t.flush()
}

// warnMissing tells the operator that the listing lacks the sessions of hosts that did not
// answer; the exit status stays 0, the listing is still right for every other host.
func warnMissing(stderr io.Writer, hdr http.Header) {
	if v := hdr.Get(missingHostsHeader); v != "" {
		fmt.Fprintf(stderr, "edgectl: warning: host(s) %s did not answer; their sessions are not listed\n",
			strings.ReplaceAll(v, ",", ", "))
	}
}
