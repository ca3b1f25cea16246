package server

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgeplay/edgeplay/protocol"
	"github.com/edgeplay/edgeplay/studio"
)

// Usage (docs/STUDIO.md, "Usage"): what sessions played, from the usage records the hosts
// store in protocol.StreamUsage. GET /v1/admin/usage (operators, any studio) and GET
// /v1/studio/usage (a studio, with its API key: its own only) answer the same query.

const (
	usageDefaultSince = 24 * time.Hour
	usageDefaultLimit = 1000
	usageMaxLimit     = 100000
	usageTimeout      = 60 * time.Second
)

// usageQuery is what a usage request asks.
type usageQuery struct {
	studio string    // "": every studio; protocol.NoStudio: sessions without a token
	since  time.Time // sessions with a record at or after it
	by     string    // session (list them), or game, day, region, studio, player (sum them)
	limit  int       // most sessions listed (by session)
}

func parseUsageQuery(r *http.Request, now time.Time, studioParam bool) (usageQuery, error) {
	allowed := []string{"since", "by", "limit"}
	if studioParam {
		allowed = append(allowed, "studio")
	}
	q, err := adminQuery(r, allowed...)
	if err != nil {
		return usageQuery{}, err
	}
	uq := usageQuery{studio: q.Get("studio"), since: now.Add(-usageDefaultSince), by: q.Get("by"), limit: usageDefaultLimit}
	if uq.studio != "" && !protocol.ValidName(uq.studio) && uq.studio != protocol.NoStudio {
		return usageQuery{}, protocol.Errorf(protocol.CodeBadField, "studio: a studio id, or _ for sessions without a join token")
	}
	if v := q.Get("since"); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 && d <= protocol.UsageRetention {
			uq.since = now.Add(-d)
		} else if t, err := time.Parse(time.RFC3339, v); err == nil && !t.After(now) {
			uq.since = t
		} else {
			return usageQuery{}, protocol.Errorf(protocol.CodeBadField, "since: a duration (24h, up to %s) or an RFC 3339 time", protocol.UsageRetention)
		}
	}
	switch uq.by {
	case "":
		uq.by = "session"
	case "session", "game", "day", "region", "studio", "player":
	default:
		return usageQuery{}, protocol.Errorf(protocol.CodeBadField, "by: session, game, day, region, studio or player")
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > usageMaxLimit {
			return usageQuery{}, protocol.Errorf(protocol.CodeBadField, "limit: 1 to %d", usageMaxLimit)
		}
		uq.limit = n
	}
	return uq, nil
}

// usageGroup is the sum of the sessions that share a key.
type usageGroup struct {
	Key      string  `json:"key"`
	Sessions int     `json:"sessions"`
	Seconds  float64 `json:"played_s"`
}

// usageSession is a session's usage as its latest record tells it; Open: no end record (it
// is playing, or its host died and its last tick stands).
type usageSession struct {
	protocol.UsageRecord
	Open bool `json:"open"`
}

// usageAnswer is the body of a usage request.
type usageAnswer struct {
	Since     time.Time      `json:"since"`
	Studio    string         `json:"studio,omitempty"`
	By        string         `json:"by"`
	Sessions  int            `json:"sessions"` // every session in the window
	Seconds   float64        `json:"played_s"`
	List      []usageSession `json:"list,omitempty"` // by session: the latest, newest first, at most limit
	Truncated bool           `json:"truncated,omitempty"`
	Groups    []usageGroup   `json:"groups,omitempty"` // by anything else
}

// readUsage reads the usage records of q's window and returns each session's latest.
func readUsage(ctx context.Context, js jetstream.JetStream, q usageQuery) (map[string]usageSession, error) {
	filter := protocol.SubjectUsageAll
	if q.studio != "" {
		filter = "edgeplay.usage." + q.studio + ".>"
	}
	since := q.since
	cons, err := js.OrderedConsumer(ctx, protocol.StreamUsage, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{filter}, DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &since,
		InactiveThreshold: eventsConsumerIdle, MaxResetAttempts: 3,
	})
	if err != nil {
		return nil, err
	}
	out := map[string]usageSession{}
	info := cons.CachedInfo()
	if info == nil || info.NumPending == 0 {
		return out, nil
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(4096))
	if err != nil {
		return nil, err
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return nil, err
		}
		var r protocol.UsageRecord
		if json.Unmarshal(msg.Data(), &r) == nil && r.Session != "" {
			prev, seen := out[r.Session]
			if !seen || (prev.Open && (r.Kind == protocol.UsageKindEnd || r.Seconds >= prev.Seconds)) {
				out[r.Session] = usageSession{UsageRecord: r, Open: r.Kind != protocol.UsageKindEnd}
			}
		}
		meta, err := msg.Metadata()
		if err != nil {
			return nil, err
		}
		if meta.NumPending == 0 {
			return out, nil
		}
	}
}

// summarize answers q from the sessions.
func summarize(q usageQuery, sessions map[string]usageSession) usageAnswer {
	a := usageAnswer{Since: q.since.UTC(), Studio: q.studio, By: q.by, Sessions: len(sessions)}
	groups := map[string]*usageGroup{}
	for _, s := range sessions {
		a.Seconds += s.Seconds
		if q.by == "session" {
			a.List = append(a.List, s)
			continue
		}
		key := ""
		switch q.by {
		case "game":
			key = s.Game
		case "day":
			key = s.Start.UTC().Format(time.DateOnly)
		case "region":
			key = s.Region
		case "studio":
			key = cmp.Or(s.Studio, protocol.NoStudio)
		case "player":
			key = cmp.Or(s.Studio, protocol.NoStudio) + "/" + cmp.Or(s.Player, "-")
		}
		g := groups[key]
		if g == nil {
			g = &usageGroup{Key: key}
			groups[key] = g
		}
		g.Sessions++
		g.Seconds += s.Seconds
	}
	a.Seconds = round3(a.Seconds)
	for _, g := range groups {
		g.Seconds = round3(g.Seconds)
		a.Groups = append(a.Groups, *g)
	}
	slices.SortFunc(a.Groups, func(x, y usageGroup) int { return cmp.Compare(x.Key, y.Key) })
	slices.SortFunc(a.List, func(x, y usageSession) int {
		return cmp.Or(y.Start.Compare(x.Start), cmp.Compare(x.Session, y.Session))
	})
	if len(a.List) > q.limit {
		a.List, a.Truncated = a.List[:q.limit], true
	}
	return a
}

func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }

// usage answers a usage request for q.
func (s *Server) usage(w http.ResponseWriter, r *http.Request, js jetstream.JetStream, q usageQuery) error {
	ctx, cancel := context.WithTimeout(r.Context(), usageTimeout)
	defer cancel()
	sessions, err := readUsage(ctx, js, q)
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return protocol.Errorf(protocol.CodeEventsUnavailable, "the usage stream does not exist yet (a matchmaker creates it)")
		}
		return protocol.Errorf(protocol.CodeEventsUnavailable, "the usage stream cannot be read: %v", err)
	}
	adminJSON(w, http.StatusOK, summarize(q, sessions))
	return nil
}

// adminUsage serves GET /v1/admin/usage.
func (a *admin) usage(w http.ResponseWriter, r *http.Request) error {
	q, err := parseUsageQuery(r, time.Now(), true)
	if err != nil {
		return err
	}
	return a.s.usage(w, r, a.js, q)
}

// studioUsage serves GET /v1/studio/usage: the studio of the API key, its own sessions only.
func (s *Server) studioUsage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	st, _, ok := s.studioAuth(w, r)
	if !ok {
		return
	}
	q, err := parseUsageQuery(r, time.Now(), false)
	if err != nil {
		s.studioFail(w, r, err)
		return
	}
	q.studio = st.ID
	if err := s.usage(w, r, s.js, q); err != nil {
		s.studioFail(w, r, err)
	}
}

// studioAuth authenticates a studio API request by its API key and returns the studio and
// the key's id; on failure it has answered.
func (s *Server) studioAuth(w http.ResponseWriter, r *http.Request) (studio.Studio, string, bool) {
	if s.cfg.Studios == nil || s.cfg.Tokens == nil {
		s.studioFail(w, r, errNoStudios)
		return studio.Studio{}, "", false
	}
	key := bearer(r)
	if key == "" {
		s.studioFail(w, r, protocol.Errorf(protocol.CodeBadAPIKey, "missing header Authorization: Bearer <studio API key>"))
		return studio.Studio{}, "", false
	}
	ctx, cancel := context.WithTimeout(r.Context(), studioTimeout)
	defer cancel()
	st, keyID, err := s.cfg.Studios.Authenticate(ctx, key)
	if err != nil {
		if errors.Is(err, studio.ErrBadKey) {
			s.log.Info("studio API key refused", "remote", r.RemoteAddr, "path", r.URL.Path, "err", err)
		}
		s.studioFail(w, r, err)
		return studio.Studio{}, "", false
	}
	return st, keyID, true
}
