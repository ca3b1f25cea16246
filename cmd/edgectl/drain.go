package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"time"
)

// runDrain: edgectl drain HOST [--deadline 30m] [--reason TEXT]
func runDrain(ctx context.Context, o *options, args []string, stdout, stderr io.Writer) error {
	var deadline time.Duration
	var reason, region string
	var force bool
	pos, err := parseCommand("drain", o, args, 1, stderr, func(fs *flag.FlagSet) {
		fs.DurationVar(&deadline, "deadline", 0, "running sessions end this long from now (default: the host's grace, 30m)")
		fs.StringVar(&reason, "reason", "", "told to the players (at most 256 bytes)")
		fs.StringVar(&region, "region", "", "drain every host of this data center")
		fs.BoolVar(&force, "force", false, "with --region: drain even if too little capacity would be left")
	})
	if err != nil {
		return err
	}
	if (len(pos) == 1) == (region != "") {
		return fmt.Errorf("%w: drain needs a host id or --region", errUsage)
	}
	body := map[string]any{"reason": reason}
	if deadline > 0 {
		body["deadline"] = deadline.String()
	}
	if region != "" {
		body["force"] = force
		b, _ := json.Marshal(body)
		return drainRegion(ctx, o, region, b, stdout)
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
	raw, _, err := c.postJSON(ctx, "/v1/admin/hosts/"+url.PathEscape(id)+"/"+action, body)
	if err != nil {
		return err
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

// drainRegion drains a data center and prints each host's new state.
func drainRegion(ctx context.Context, o *options, region string, body []byte, stdout io.Writer) error {
	c, err := newClient(o)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	raw, header, err := c.postJSON(ctx, "/v1/admin/regions/"+url.PathEscape(region)+"/drain", body)
	if err != nil {
		return err
	}
	if o.output == "json" {
		return printJSON(stdout, raw)
	}
	var hosts []hostRow
	if err := json.Unmarshal(raw, &hosts); err != nil {
		return fmt.Errorf("the gateway sent a malformed host list: %w", err)
	}
	for _, h := range hosts {
		if _, err := fmt.Fprintf(stdout, "%s: %s (%d/%d slots in use)\n", h.ID, h.State, h.Used+h.Reserved, h.Slots); err != nil {
			return err
		}
	}
	if missing := header.Get("X-Edgeplay-Missing-Hosts"); missing != "" {
		return fmt.Errorf("these hosts did not acknowledge the drain: %s", missing)
	}
	return nil
}

// runRegions: edgectl regions
func runRegions(ctx context.Context, o *options, args []string, stdout, stderr io.Writer) error {
	if _, err := parseCommand("regions", o, args, 0, stderr, func(*flag.FlagSet) {}); err != nil {
		return err
	}
	c, err := newClient(o)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	raw, _, err := c.getJSON(ctx, "/v1/admin/regions", nil)
	if err != nil {
		return err
	}
	if o.output == "json" {
		return printJSON(stdout, raw)
	}
	var rows []map[string]any
	if err := json.Unmarshal(raw, &rows); err != nil {
		return fmt.Errorf("the gateway sent a malformed region list: %w", err)
	}
	t := newTable(stdout, "ID", "HOSTS", "READY", "DRAINING", "SLOTS", "USED", "FREE")
	for _, r := range rows {
		t.row(fmt.Sprint(r["id"]), num(r["hosts"]), num(r["ready"]), num(r["draining"]), num(r["slots"]), num(r["used"]), num(r["ready_free"]))
	}
	return t.flush()
}

func num(v any) string {
	if f, ok := v.(float64); ok {
		return fmt.Sprintf("%.0f", f)
	}
	return "-"
}
