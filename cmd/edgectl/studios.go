package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// studioJSON is a studio as the admin API returns it (docs/API.md).
type studioJSON struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Games       []string  `json:"games"`
	MaxSessions int       `json:"max_sessions"`
	MaxQueued   int       `json:"max_queued"`
	Origins     []string  `json:"origins"`
	Webhook     string    `json:"webhook_url"`
	Secret      string    `json:"webhook_secret"`
	Created     time.Time `json:"created"`
	Keys        []keyJSON `json:"keys"`
}

type keyJSON struct {
	ID      string    `json:"id"`
	Studio  string    `json:"studio"`
	Last4   string    `json:"last4"`
	Created time.Time `json:"created"`
}

// runStudios: edgectl studios [list] | create NAME | show ID | update ID | delete ID |
// keys add ID | keys revoke ID KEY
func runStudios(ctx context.Context, o *options, args []string, stdout, stderr io.Writer) error {
	sub := "list"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	if sub == "keys" {
		if len(args) == 0 || strings.HasPrefix(args[0], "-") {
			return fmt.Errorf("%w: studios keys add STUDIO | studios keys revoke STUDIO KEY", errUsage)
		}
		sub, args = "keys "+args[0], args[1:]
	}
	// The settings flags of create and update; only those given are sent.
	var (
		name, games, origins  string
		webhook               string
		maxSessions, maxQueue int
		set                   = map[string]bool{}
	)
	settings := func(fs *flag.FlagSet) {
		fs.StringVar(&name, "name", "", "the studio's name")
		fs.StringVar(&games, "games", "", "games its tokens may be for, comma-separated (empty: any)")
		fs.IntVar(&maxSessions, "max-sessions", 0, "most concurrent sessions (0: no limit)")
		fs.IntVar(&maxQueue, "max-queued", 0, "most queued tickets (0: no limit)")
		fs.StringVar(&origins, "origins", "", "web origins that may embed its player, comma-separated, e.g. https://play.example.com")
		fs.StringVar(&webhook, "webhook", "", "URL that receives its session.started and session.ended webhooks (\"\": none)")
	}
	var (
		pos []string
		err error
	)
	want := map[string]int{"list": 0, "create": 1, "show": 1, "update": 1, "delete": 1, "keys add": 1, "keys revoke": 2}
	n, ok := want[sub]
	if !ok {
		return fmt.Errorf("%w: unknown studios command %q (list, create, show, update, delete, keys add, keys revoke)", errUsage, sub)
	}
	var (
		define func(*flag.FlagSet)
		flags  *flag.FlagSet
	)
	if sub == "create" || sub == "update" {
		define = func(fs *flag.FlagSet) { settings(fs); flags = fs }
	}
	if pos, err = parseCommand("studios "+sub, o, args, n, stderr, define); err != nil {
		return err
	}
	if len(pos) != n {
		return fmt.Errorf("%w: studios %s takes %d argument(s)", errUsage, sub, n)
	}
	if flags != nil {
		flags.Visit(func(f *flag.Flag) { set[f.Name] = true })
		delete(set, "o")
		delete(set, "output")
		delete(set, "server")
		delete(set, "token")
		delete(set, "timeout")
	}
	c, err := newClient(o)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	spec := func() []byte {
		m := map[string]any{}
		if sub == "create" {
			m["name"] = pos[0]
		}
		if set["name"] {
			m["name"] = name
		}
		if set["games"] {
			m["games"] = splitList(games)
		}
		if set["origins"] {
			m["origins"] = splitList(origins)
		}
		if set["max-sessions"] {
			m["max_sessions"] = maxSessions
		}
		if set["max-queued"] {
			m["max_queued"] = maxQueue
		}
		if set["webhook"] {
			m["webhook_url"] = webhook
		}
		b, _ := json.Marshal(m)
		return b
	}
	path := "/v1/admin/studios"
	if n > 0 && sub != "create" {
		path += "/" + url.PathEscape(pos[0])
	}
	switch sub {
	case "list":
		raw, _, err := c.getJSON(ctx, path, nil)
		if err != nil {
			return err
		}
		var body struct {
			Studios []json.RawMessage `json:"studios"`
		}
		if err := json.Unmarshal(raw, &body); err != nil {
			return fmt.Errorf("the gateway sent a malformed studio list: %w", err)
		}
		if o.output == "json" {
			return printJSONArray(stdout, body.Studios)
		}
		t := newTable(stdout, "ID", "NAME", "GAMES", "SESSIONS", "QUEUED", "ORIGINS", "KEYS")
		for _, r := range body.Studios {
			var s studioJSON
			if err := json.Unmarshal(r, &s); err != nil {
				return fmt.Errorf("the gateway sent a malformed studio: %w", err)
			}
			t.row(s.ID, s.Name, listOrAny(s.Games), limit(s.MaxSessions), limit(s.MaxQueued), orDash(strings.Join(s.Origins, ",")), strconv.Itoa(len(s.Keys)))
		}
		return t.flush()
	case "show", "update":
		var raw []byte
		if sub == "show" {
			raw, _, err = c.getJSON(ctx, path, nil)
		} else {
			if len(set) == 0 {
				return fmt.Errorf("%w: studios update needs a setting to change (--name, --games, --max-sessions, --max-queued, --origins, --webhook)", errUsage)
			}
			raw, _, err = c.readJSON(c.do(ctx, http.MethodPatch, path, nil, spec()))
		}
		if err != nil {
			return err
		}
		return printStudio(stdout, o, raw)
	case "create":
		raw, _, err := c.postJSON(ctx, path, spec())
		if err != nil {
			return err
		}
		var body struct {
			Studio json.RawMessage `json:"studio"`
			APIKey string          `json:"api_key"`
		}
		if err := json.Unmarshal(raw, &body); err != nil {
			return fmt.Errorf("the gateway sent a malformed answer: %w", err)
		}
		if o.output == "json" {
			return printJSON(stdout, raw)
		}
		if err := printStudio(stdout, o, body.Studio); err != nil {
			return err
		}
		return printAPIKey(stdout, body.APIKey)
	case "delete":
		if _, _, err := c.readJSON(c.do(ctx, http.MethodDelete, path, nil, nil)); err != nil {
			return err
		}
		_, err := fmt.Fprintf(stdout, "%s: deleted (its API keys and unused join tokens no longer work)\n", pos[0])
		return err
	case "keys add":
		raw, _, err := c.postJSON(ctx, path+"/keys", nil)
		if err != nil {
			return err
		}
		var body struct {
			Key    keyJSON `json:"key"`
			APIKey string  `json:"api_key"`
		}
		if err := json.Unmarshal(raw, &body); err != nil {
			return fmt.Errorf("the gateway sent a malformed answer: %w", err)
		}
		if o.output == "json" {
			return printJSON(stdout, raw)
		}
		fmt.Fprintf(stdout, "key %s added to %s\n", body.Key.ID, body.Key.Studio)
		return printAPIKey(stdout, body.APIKey)
	default: // keys revoke
		if _, _, err := c.readJSON(c.do(ctx, http.MethodDelete, path+"/keys/"+url.PathEscape(pos[1]), nil, nil)); err != nil {
			return err
		}
		_, err := fmt.Fprintf(stdout, "key %s of %s: revoked (it mints no more tokens, and its unused ones no longer join)\n", pos[1], pos[0])
		return err
	}
}

func printAPIKey(w io.Writer, key string) error {
	_, err := fmt.Fprintf(w, "\nAPI key (shown this once: store it in the studio's backend, never in a web page):\n  %s\n", key)
	return err
}

// printStudio prints one studio: its settings, then its keys.
func printStudio(w io.Writer, o *options, raw []byte) error {
	if o.output == "json" {
		return printJSON(w, append(append([]byte("["), raw...), ']'))
	}
	var s studioJSON
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("the gateway sent a malformed studio: %w", err)
	}
	fmt.Fprintf(w, "studio    %s\nname      %s\ngames     %s\nsessions  %s\nqueued    %s\norigins   %s\nwebhook   %s\n",
		s.ID, s.Name, listOrAny(s.Games), limit(s.MaxSessions), limit(s.MaxQueued),
		orDash(strings.Join(s.Origins, " ")), orDash(s.Webhook))
	if s.Secret != "" {
		fmt.Fprintf(w, "secret    %s\n", s.Secret)
	}
	fmt.Fprintf(w, "created   %s\n", s.Created.Format(time.RFC3339))
	if len(s.Keys) == 0 {
		_, err := fmt.Fprintln(w, "keys      none")
		return err
	}
	fmt.Fprintln(w)
	t := newTable(w, "KEY", "ENDS", "CREATED")
	for _, k := range s.Keys {
		t.row(k.ID, "…"+k.Last4, k.Created.Format(time.RFC3339))
	}
	return t.flush()
}

// printJSONArray prints raw objects as one indented array.
func printJSONArray(w io.Writer, objs []json.RawMessage) error {
	if objs == nil {
		objs = []json.RawMessage{}
	}
	b, _ := json.Marshal(objs)
	return printJSON(w, b)
}

func splitList(s string) []string {
	out := []string{}
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func listOrAny(l []string) string {
	if len(l) == 0 {
		return "any"
	}
	return strings.Join(l, ",")
}

func limit(n int) string {
	if n == 0 {
		return "no limit"
	}
	return strconv.Itoa(n)
}
