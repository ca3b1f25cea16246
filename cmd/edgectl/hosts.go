package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// hostRow is what the hosts table shows of an admin API host object (docs/API.md). CPULoad
// and GPUs are read when heartbeats carry them; until then their columns show "-".
type hostRow struct {
	ID        string   `json:"id"`
	Region    string   `json:"region"`
	State     string   `json:"state"`
	Health    string   `json:"health"`
	Slots     int      `json:"slots"`
	Used      int      `json:"used"`
	Reserved  int      `json:"reserved"`
	Encoders  []string `json:"encoders"`
	Version   string   `json:"version"`
	AgeMillis int64    `json:"heartbeat_age_ms"`
	CPULoad   *float64 `json:"cpu_load"` // 0..1 of all cores
	GPUs      []struct {
		Model string   `json:"model"`
		Util  *float64 `json:"util"` // 0..1
	} `json:"gpus"`
}

// runHosts: edgectl hosts [ID] [--region R]
func runHosts(ctx context.Context, o *options, args []string, stdout, stderr io.Writer) error {
	var region string
	pos, err := parseCommand("hosts", o, args, 1, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&region, "region", "", "only hosts of this data center")
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
		if region != "" {
			return fmt.Errorf("%w: hosts: give a host id or --region, not both", errUsage)
		}
		one, _, err := c.getJSON(ctx, "/v1/admin/hosts/"+url.PathEscape(pos[0]), nil)
		if err != nil {
			return err
		}
		raw = append(append([]byte("["), one...), ']') // always an array, as documented
	} else {
		q := url.Values{}
		if region != "" {
			q.Set("region", region)
		}
		if raw, _, err = c.getJSON(ctx, "/v1/admin/hosts", q); err != nil {
			return err
		}
	}
	if o.output == "json" {
		return printJSON(stdout, raw)
	}
	var rows []hostRow
	if err := json.Unmarshal(raw, &rows); err != nil {
		return fmt.Errorf("the gateway sent a malformed host list: %w", err)
	}
	t := newTable(stdout, "ID", "REGION", "STATE", "SLOTS", "LOAD", "ENCODERS", "GPU", "VERSION", "AGE")
	for _, h := range rows {
		state := h.State
		if h.Health != "" && h.Health != "ready" {
			state += "/" + h.Health
		}
		t.row(h.ID, h.Region, state,
			fmt.Sprintf("%d/%d", h.Used+h.Reserved, h.Slots),
			percent(h.CPULoad), orDash(strings.Join(h.Encoders, ",")), gpuText(h),
			orDash(h.Version), age(h.AgeMillis))
	}
	return t.flush()
}

// gpuText is the GPU model, with a count when there are several, and their mean utilisation.
func gpuText(h hostRow) string {
	if len(h.GPUs) == 0 {
		return "-"
	}
	s := orDash(h.GPUs[0].Model)
	if len(h.GPUs) > 1 {
		s = fmt.Sprintf("%dx%s", len(h.GPUs), s)
	}
	var sum float64
	var n int
	for _, g := range h.GPUs {
		if g.Util != nil {
			sum += *g.Util
			n++
		}
	}
	if n > 0 {
		mean := sum / float64(n)
		s += " " + percent(&mean)
	}
	return s
}
