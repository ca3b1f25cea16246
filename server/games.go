package server

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/edgeplay/edgeplay/protocol"
)

// The game list, GET /v1/games: public and read-only, for players' pages (a game picker; the
// page's ?game=ID). docs/API.md, "Games". It comes from the matchmaker's registry (the hosts
// query the admin API uses, protocol.SubjectHosts) and names no host: only what a player
// chooses by.

// gamesCacheTTL is how long one answer of the matchmaker serves /v1/games: every page load
// asks, and the matchmaker should not be asked for its whole registry each time.
const gamesCacheTTL = time.Second

// gameInfo is one game of /v1/games.
type gameInfo struct {
	ID string `json:"id"`
	// Title is the game's name for players, from its hosts' heartbeats; omitted when none
	// gave one.
	Title string `json:"title,omitempty"`
	// Free is the free slots of every ready host that offers the game: 0 means a player is
	// queued.
	Free    int          `json:"free"`
	Regions []gameRegion `json:"regions"` // sorted by id
}

// gameRegion is a game in one data center.
type gameRegion struct {
	ID    string `json:"id"`
	Hosts int    `json:"hosts"` // ready hosts that offer the game
	Free  int    `json:"free"`  // their free slots
}

// gamesOf lists the games that at least one ready host offers, sorted by id. A host counts
// when it is ready by its own word and the matchmaker's (heartbeats on time): draining,
// suspect and stopped hosts take no new session. A game's title is the first one given by
// its hosts in hosts' order.
func gamesOf(hosts []protocol.HostStatus) []gameInfo {
	by := map[string]*gameInfo{}
	for _, h := range hosts {
		if h.State != protocol.HostReady || h.Health != "ready" {
			continue
		}
		free := max(0, h.Slots-h.Used-h.Reserved)
		for _, id := range h.Games {
			g := by[id]
			if g == nil {
				g = &gameInfo{ID: id}
				by[id] = g
			}
			if g.Title == "" {
				g.Title = h.Titles[id]
			}
			g.Free += free
			i := slices.IndexFunc(g.Regions, func(r gameRegion) bool { return r.ID == h.Region })
			if i < 0 {
				g.Regions = append(g.Regions, gameRegion{ID: h.Region})
				i = len(g.Regions) - 1
			}
			g.Regions[i].Hosts++
			g.Regions[i].Free += free
		}
	}
	out := make([]gameInfo, 0, len(by))
	for _, g := range by {
		slices.SortFunc(g.Regions, func(a, b gameRegion) int { return cmp.Compare(a.ID, b.ID) })
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b gameInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// gamesHandler serves GET /v1/games from a cached answer of the matchmaker. One request at a
// time asks it (the others wait for that answer, or for their own context); an answer, or a
// failure (no matchmaker, shutting down, a malformed reply), serves for gamesCacheTTL, so a
// missing matchmaker costs one 2 s wait per second, not one per request.
type gamesHandler struct {
	hosts func(context.Context) ([]protocol.HostStatus, error)
	now   func() time.Time
	log   *slog.Logger

	// sem holds the right to read and fill the cache: a channel rather than a mutex so that
	// a waiting request can give up when its client leaves.
	sem   chan struct{}
	at    time.Time  // guarded by sem; when games or err was fetched; zero: never
	games []gameInfo // guarded by sem
	err   error      // guarded by sem
}

func newGamesHandler(hosts func(context.Context) ([]protocol.HostStatus, error), now func() time.Time, log *slog.Logger) *gamesHandler {
	return &gamesHandler{hosts: hosts, now: now, log: log, sem: make(chan struct{}, 1)}
}

// mountGames registers GET /v1/games (and so HEAD) on the gateway's mux: no token.
func (s *Server) mountGames() {
	log := s.log.With("api", "games")
	mm := &admin{s: s, log: log} // for its hosts query alone: the same question, asked the same way
	s.mux.Handle("GET /v1/games", newGamesHandler(mm.hosts, time.Now, log))
}

// list returns the games, from the cache when it is fresh.
func (g *gamesHandler) list(ctx context.Context) ([]gameInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case g.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-g.sem }()
	if now := g.now(); !g.at.IsZero() && now.Sub(g.at) < gamesCacheTTL && now.Sub(g.at) >= 0 {
		return g.games, g.err
	}
	hosts, err := g.hosts(ctx)
	if err != nil && ctx.Err() != nil {
		return nil, err // this client left: not the matchmaker's answer, so not kept
	}
	g.at, g.games, g.err = g.now(), gamesOf(hosts), err
	return g.games, g.err
}

func (g *gamesHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if _, err := adminQuery(r); err != nil {
		g.fail(w, r, err)
		return
	}
	games, err := g.list(r.Context())
	if err != nil {
		g.fail(w, r, err)
		return
	}
	adminJSON(w, http.StatusOK, games)
}

// fail writes err as the admin API does: a JSON {code, message}, details of internal errors
// only in the log.
func (g *gamesHandler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client is gone
	}
	m := protocol.ErrorMessage(err)
	if m.Code == protocol.CodeInternal {
		g.log.Error("games request failed", "err", err)
	}
	adminJSON(w, adminStatus(m.Code), adminError{Code: m.Code, Message: m.Message})
}
