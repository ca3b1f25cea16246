package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/internal/testplayer"
	"github.com/edgeplay/edgeplay/protocol"
)

// An answer that parses but cannot be applied, followed by the right one: the session either
// takes the right one and plays, or ends at once with bad_sdp; it is never left waiting for its
// reservation to time out.
func TestBadAnswerThenGood(t *testing.T) {
	a := startApp(t, appOpts{slots: 1})
	for name, mangle := range map[string]func(string) string{
		"no fingerprint": func(sdp string) string {
			var keep []string
			for _, l := range strings.Split(sdp, "\r\n") {
				if !strings.HasPrefix(l, "a=fingerprint:") {
					keep = append(keep, l)
				}
			}
			return strings.Join(keep, "\r\n")
		},
		"no ice credentials": func(sdp string) string {
			var keep []string
			for _, l := range strings.Split(sdp, "\r\n") {
				if !strings.HasPrefix(l, "a=ice-ufrag:") && !strings.HasPrefix(l, "a=ice-pwd:") {
					keep = append(keep, l)
				}
			}
			return strings.Join(keep, "\r\n")
		},
		"no media": func(sdp string) string { return sdp[:strings.Index(sdp, "m=")] },
	} {
		t.Run(name, func(t *testing.T) {
			p, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{BadAnswerFirst: mangle})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			start := time.Now()
			offer, err := p.Join(ctxFor(t, 10*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Answer(offer); err != nil {
				t.Fatal(err)
			}
			// Played, or ended with the answer's error: either within a few seconds.
			var codes []protocol.Code
			ended := false
			ctx := ctxFor(t, 8*time.Second)
			for !ended && p.Received() < 30 && ctx.Err() == nil {
				mctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
				m, err := p.Next(mctx)
				cancel()
				switch {
				case err != nil:
				case m.Type == protocol.TypeError:
					codes = append(codes, m.Code)
				case m.Type == protocol.TypeEnded:
					ended = true
				}
			}
			switch {
			case p.Received() >= 30:
				if _, err := p.Leave(ctxFor(t, 5*time.Second)); err != nil {
					t.Fatal(err)
				}
			case ended && len(codes) > 0 && (codes[0] == protocol.CodeBadSDP || codes[0] == protocol.CodeNoCommonCodec):
			default:
				t.Fatalf("after %v: neither playing nor ended with the answer's error (errors %v, ended %v)",
					time.Since(start).Round(time.Millisecond), codes, ended)
			}
			t.Logf("%s: errors %v, ended %v, after %v", name, codes, ended, time.Since(start).Round(time.Millisecond))
			waitFor(t, 5*time.Second, "the slot is free", func() bool { return len(a.Hosts()[0].Sessions()) == 0 })
		})
	}
}
