package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/edgeplay/edgeplay/protocol"
)

// maxEventLine bounds one line of the event stream.
const maxEventLine = 1 << 20

// runEvents: edgectl events [--follow] [--type T[,T...]] [--since D] [--limit N]
func runEvents(ctx context.Context, o *options, args []string, stdout, stderr io.Writer) error {
	var (
		follow       bool
		types, since string
		limit        int
	)
	if _, err := parseCommand("events", o, args, 0, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&follow, "follow", false, "keep printing new events until Ctrl-C")
		fs.BoolVar(&follow, "f", false, "short for --follow")
		fs.StringVar(&types, "type", "", "only these event kinds, comma-separated (placed,ended,...)")
		fs.StringVar(&since, "since", "", "start this long ago (15m, 2h) or at this RFC 3339 time")
		fs.IntVar(&limit, "limit", 100, "print at most the last N past events (0: none, with --follow only new ones)")
	}); err != nil {
		return err
	}
	c, err := newClient(o)
	if err != nil {
		return err
	}
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if follow {
		q.Set("follow", "1")
	} else {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	if types != "" {
		q.Set("type", types)
	}
	if since != "" {
		q.Set("since", since)
	}
	resp, err := c.get(ctx, "/v1/admin/events", q)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
	defer resp.Body.Close()

	p := eventPrinter{w: stdout, json: o.output == "json", follow: follow}
	p.start()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventLine)
	for sc.Scan() {
		if err := p.line(sc.Bytes()); err != nil {
			return err
		}
	}
	switch {
	case ctx.Err() != nil && follow:
		return nil // Ctrl-C
	case sc.Err() != nil:
		return fmt.Errorf("reading the event stream from %s: %w", c.base, sc.Err())
	case follow:
		return errors.New("the gateway ended the event stream (is it shutting down?)")
	}
	return p.end()
}

// eventPrinter prints events as they arrive: table rows, or JSON (an array once the stream
// ends, or, when following, one object per line as received).
type eventPrinter struct {
	w      io.Writer
	json   bool
	follow bool
	buf    [][]byte // -o json without --follow: the events so far
}

const eventFormat = "%-24s  %-16s  %-8s  %-12s  %-16s  %-8s  %s"

func (p *eventPrinter) start() {
	if !p.json {
		p.printRow("TIME", "KIND", "REGION", "HOST", "SESSION", "GAME", "DETAIL")
	}
}

func (p *eventPrinter) printRow(cells ...any) {
	fmt.Fprintln(p.w, strings.TrimRight(fmt.Sprintf(eventFormat, cells...), " "))
}

// line handles one line of the NDJSON stream.
func (p *eventPrinter) line(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil // keep-alive
	}
	var ev struct {
		protocol.Event
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(b, &ev); err != nil {
		return fmt.Errorf("the gateway sent a malformed event: %w", err)
	}
	if ev.Kind == "" && ev.Code != "" {
		return fmt.Errorf("the event stream broke: %s (%s)", ev.Message, ev.Code)
	}
	switch {
	case p.json && p.follow:
		_, err := fmt.Fprintf(p.w, "%s\n", b)
		return err
	case p.json:
		p.buf = append(p.buf, bytes.Clone(b))
		return nil
	}
	when := "-"
	if !ev.Time.IsZero() {
		when = ev.Time.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	var detail []string
	if ev.Reason != "" {
		detail = append(detail, "reason="+string(ev.Reason))
	}
	if ev.RTTMillis > 0 {
		detail = append(detail, "rtt="+millis(ev.RTTMillis))
	}
	if ev.Detail != "" {
		detail = append(detail, strings.ReplaceAll(ev.Detail, "\n", " "))
	}
	p.printRow(when, ev.Kind, orDash(ev.Region), orDash(ev.Host), orDash(ev.Session), orDash(ev.Game),
		strings.Join(detail, " "))
	return nil
}

// end prints what waited for the end of the stream.
func (p *eventPrinter) end() error {
	if !p.json || p.follow {
		return nil
	}
	return printJSON(p.w, append(append([]byte("["), bytes.Join(p.buf, []byte(","))...), ']'))
}
