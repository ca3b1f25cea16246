package testplayer

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/edgeplay/edgeplay/protocol"
)

// MeasureRTTs probes every region the server listed in "welcome", as the web client does:
// answer each ping at once, keep the signed result. Regions that fail are left out.
func (p *Player) MeasureRTTs(ctx context.Context, base string) ([]protocol.RTTClaim, error) {
	type res struct {
		claim protocol.RTTClaim
		err   error
	}
	ch := make(chan res, len(p.Regions))
	for _, r := range p.Regions {
		go func() {
			c, err := probeOne(ctx, base, r, p.Session)
			ch <- res{c, err}
		}()
	}
	var out []protocol.RTTClaim
	var firstErr error
	for range p.Regions {
		r := <-ch
		if r.err != nil {
			if firstErr == nil {
				firstErr = r.err
			}
			continue
		}
		out = append(out, r.claim)
	}
	if len(out) == 0 && firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

func probeOne(ctx context.Context, base string, r protocol.RegionInfo, session string) (protocol.RTTClaim, error) {
	u := r.Probe
	if strings.HasPrefix(u, "/") {
		u = strings.TrimSuffix(base, "/") + u
	}
	if strings.HasPrefix(u, "http") { // http(s):// → ws(s)://
		u = "ws" + u[len("http"):]
	}
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	u += sep + "session=" + url.QueryEscape(session)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	ws, resp, err := websocket.DefaultDialer.DialContext(ctx, u, http.Header{})
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return protocol.RTTClaim{}, fmt.Errorf("probe %s: %w", r.ID, err)
	}
	defer ws.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = ws.SetReadDeadline(dl)
	}
	for {
		var m struct {
			Type   string  `json:"type"`
			Seq    uint64  `json:"seq"`
			Region string  `json:"region"`
			RTT    float64 `json:"rtt_ms"`
			Token  string  `json:"token"`
		}
		if err := ws.ReadJSON(&m); err != nil {
			return protocol.RTTClaim{}, fmt.Errorf("probe %s: %w", r.ID, err)
		}
		switch m.Type {
		case "ping":
			b, _ := json.Marshal(map[string]any{"type": "pong", "seq": m.Seq})
			if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
				return protocol.RTTClaim{}, err
			}
		case "result":
			return protocol.RTTClaim{Region: m.Region, Token: m.Token, RTTMillis: m.RTT}, nil
		default:
			return protocol.RTTClaim{}, fmt.Errorf("probe %s: unexpected %q", r.ID, m.Type)
		}
	}
}
