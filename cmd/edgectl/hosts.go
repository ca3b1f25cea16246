package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/edgeplay/edgeplay/protocol"
)

// hostRow is an admin API host object (docs/API.md): the matchmaker's HostStatus and "id".
type hostRow struct {
	ID string `json:"id"`
	protocol.HostStatus
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
			fmt.Sprintf("%.2f", h.CPULoad), orDash(strings.Join(h.Encoders, ",")), gpuText(h.GPUs),
			orDash(h.Version), age(h.AgeMillis))
	}
	return t.flush()
}

// gpuText is the GPU model, with a count when there are several, and their mean utilisation.
func gpuText(gpus []protocol.GPU) string {
	if len(gpus) == 0 {
		return "-"
	}
	s := orDash(gpus[0].Model)
	if len(gpus) > 1 {
		s = fmt.Sprintf("%dx%s", len(gpus), s)
	}
	var sum float64
	for _, g := range gpus {
		sum += g.Utilization
	}
	return fmt.Sprintf("%s %.0f%%", s, sum/float64(len(gpus)))
}
