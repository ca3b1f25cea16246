package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
)

// gameRow is a /v1/games object (docs/API.md, "The game list").
type gameRow struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Free    int    `json:"free"`
	Regions []struct {
		ID    string `json:"id"`
		Hosts int    `json:"hosts"`
		Free  int    `json:"free"`
	} `json:"regions"`
}

// runGames: edgectl games — the games the ready hosts offer (public: no token needed).
func runGames(ctx context.Context, o *options, args []string, stdout, stderr io.Writer) error {
	if _, err := parseCommand("games", o, args, 0, stderr, func(*flag.FlagSet) {}); err != nil {
		return err
	}
	c, err := newPublicClient(o)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	raw, _, err := c.getJSON(ctx, "/v1/games", nil)
	if err != nil {
		return err
	}
	if o.output == "json" {
		return printJSON(stdout, raw)
	}
	var rows []gameRow
	if err := json.Unmarshal(raw, &rows); err != nil {
		return fmt.Errorf("the gateway sent a malformed game list: %w", err)
	}
	t := newTable(stdout, "ID", "TITLE", "FREE", "DATA CENTERS (hosts/free)")
	for _, g := range rows {
		dcs := make([]string, len(g.Regions))
		for i, r := range g.Regions {
			dcs[i] = fmt.Sprintf("%s %d/%d", r.ID, r.Hosts, r.Free)
		}
		t.row(g.ID, orDash(g.Title), fmt.Sprint(g.Free), orDash(strings.Join(dcs, ", ")))
	}
	return t.flush()
}
