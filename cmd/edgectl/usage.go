package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"
)

// usageRecord and usageAnswer are GET /v1/admin/usage's answer (docs/API.md).
type usageRecord struct {
	Session string    `json:"session"`
	Studio  string    `json:"studio"`
	Player  string    `json:"player"`
	Game    string    `json:"game"`
	Region  string    `json:"region"`
	Host    string    `json:"host"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Seconds float64   `json:"played_s"`
	Reason  string    `json:"reason"`
	Open    bool      `json:"open"`
}

type usageGroup struct {
	Key      string  `json:"key"`
	Sessions int     `json:"sessions"`
	Seconds  float64 `json:"played_s"`
}

type usageAnswer struct {
	Since     time.Time         `json:"since"`
	By        string            `json:"by"`
	Sessions  int               `json:"sessions"`
	Seconds   float64           `json:"played_s"`
	List      []json.RawMessage `json:"list"`
	Truncated bool              `json:"truncated"`
	Groups    []json.RawMessage `json:"groups"`
}

// runUsage: edgectl usage [--studio S] [--since 24h] [--by session|game|day|region|studio|player] [--limit N] [-o table|json|csv]
func runUsage(ctx context.Context, o *options, args []string, stdout, stderr io.Writer) error {
	var studio, since, by string
	limit := 0
	if _, err := parseCommand("usage", o, args, 0, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&studio, "studio", "", "only this studio's sessions (_ : those without a join token)")
		fs.StringVar(&since, "since", "", "sessions active since: a duration (24h, the default) or an RFC 3339 time")
		fs.StringVar(&by, "by", "session", "list sessions, or sum them by game, day, region, studio or player")
		fs.IntVar(&limit, "limit", 0, "most sessions listed (default 1000)")
	}); err != nil {
		return err
	}
	q := url.Values{}
	for k, v := range map[string]string{"studio": studio, "since": since, "by": by} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	c, err := newClient(o)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, max(o.timeout, 60*time.Second))
	defer cancel()
	raw, _, err := c.getJSON(ctx, "/v1/admin/usage", q)
	if err != nil {
		return err
	}
	var a usageAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		return fmt.Errorf("the gateway sent a malformed usage answer: %w", err)
	}
	rows := a.List
	if a.By != "session" {
		rows = a.Groups
	}
	if o.output == "json" {
		return printJSONArray(stdout, rows)
	}
	var header []string
	var cells [][]string
	if a.By == "session" {
		header = []string{"SESSION", "STUDIO", "PLAYER", "GAME", "REGION", "HOST", "START", "END", "PLAYED", "REASON"}
		for _, r := range rows {
			var u usageRecord
			if err := json.Unmarshal(r, &u); err != nil {
				return fmt.Errorf("the gateway sent a malformed session: %w", err)
			}
			end, reason := u.End.Format(time.RFC3339), u.Reason
			if u.Open {
				end, reason = "-", "open"
			}
			cells = append(cells, []string{
				u.Session, orDash(u.Studio), orDash(u.Player), u.Game, u.Region, u.Host,
				u.Start.Format(time.RFC3339), end, seconds(u.Seconds, o.output), reason,
			})
		}
	} else {
		header = []string{"KEY", "SESSIONS", "PLAYED"}
		header[0] = map[string]string{"game": "GAME", "day": "DAY", "region": "REGION", "studio": "STUDIO", "player": "STUDIO/PLAYER"}[a.By]
		for _, r := range rows {
			var g usageGroup
			if err := json.Unmarshal(r, &g); err != nil {
				return fmt.Errorf("the gateway sent a malformed group: %w", err)
			}
			cells = append(cells, []string{g.Key, strconv.Itoa(g.Sessions), seconds(g.Seconds, o.output)})
		}
	}
	if o.output == "csv" {
		w := csv.NewWriter(stdout)
		_ = w.Write(header)
		_ = w.WriteAll(cells)
		return w.Error()
	}
	t := newTable(stdout, header...)
	for _, c := range cells {
		t.row(c...)
	}
	if err := t.flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "\n%d sessions since %s, %s played%s\n", a.Sessions, a.Since.Format(time.RFC3339),
		duration(a.Seconds), map[bool]string{true: " (list truncated: --limit)", false: ""}[a.Truncated])
	return err
}

// seconds formats played seconds: exact in CSV, readable in a table.
func seconds(s float64, output string) string {
	if output == "csv" {
		return strconv.FormatFloat(s, 'f', 3, 64)
	}
	return duration(s)
}
