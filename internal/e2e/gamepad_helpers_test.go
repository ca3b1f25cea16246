package e2e

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdpinput "github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/game/demo"
	"github.com/edgeplay/edgeplay/internal/app"
)

// Helpers of the gamepad and touch tests: a demo game whose ship the test can watch, a fake pad
// behind the Gamepad API, and CDP touches.

// watchedDemo is the demo game, publishing after every frame where its ship is. The ship is read
// in Run's sink, on the game's own goroutine, so the read does not race with the simulation.
// Embedding *demo.Game keeps its optional interfaces (sound, rumble) visible to the host.
type watchedDemo struct {
	*demo.Game
	ship atomic.Pointer[demo.ShipState]
}

func (w *watchedDemo) Run(ctx context.Context, sink func(*game.Frame)) error {
	return w.Game.Run(ctx, func(f *game.Frame) {
		st := w.ShipForTest()
		w.ship.Store(&st)
		sink(f)
	})
}

// Ship is the ship after the latest frame (zero before the first).
func (w *watchedDemo) Ship() demo.ShipState {
	if st := w.ship.Load(); st != nil {
		return *st
	}
	return demo.ShipState{}
}

// watchedGames is a game factory for the hosts that keeps the games it made.
type watchedGames struct {
	mu    sync.Mutex
	games []*watchedDemo // guarded by mu
}

func (wg *watchedGames) factory(cfg game.Config) (game.Game, error) {
	g, err := demo.New(cfg)
	if err != nil {
		return nil, err
	}
	w := &watchedDemo{Game: g}
	wg.mu.Lock()
	wg.games = append(wg.games, w)
	wg.mu.Unlock()
	return w, nil
}

// use makes every host of cfg run watched demo games.
func (wg *watchedGames) use(cfg *app.Config) {
	for i := range cfg.Hosts {
		cfg.Hosts[i].Games = map[string]game.Factory{"demo": wg.factory}
	}
}

// only waits for the one game the test plays and returns it.
func (wg *watchedGames) only(tb testing.TB) *watchedDemo {
	tb.Helper()
	var g *watchedDemo
	waitFor(tb, 5*time.Second, "the host runs one game", func() bool {
		wg.mu.Lock()
		defer wg.mu.Unlock()
		if len(wg.games) != 1 {
			return false
		}
		g = wg.games[0]
		return g.ship.Load() != nil
	})
	return g
}

// fakePadJS puts a standard-mapping gamepad behind navigator.getGamepads, as the browser would
// after a button press on a real pad (Chromium has no way to plug in a virtual one). The test
// moves it through window.__pad and unplugs it by emptying window.__pads; rumbles played on it
// are collected in window.__rumbles.
const fakePadJS = `(() => {
  const button = () => ({ pressed: false, touched: false, value: 0 });
  const pad = {
    id: "Fake pad (STANDARD GAMEPAD Vendor: 045e Product: 028e)", index: 0, connected: true,
    mapping: "standard", timestamp: 0, axes: [0, 0, 0, 0], buttons: Array.from({ length: 17 }, button),
    vibrationActuator: {
      type: "dual-rumble", effects: ["dual-rumble"],
      playEffect(type, params) { window.__rumbles.push({ type, ...params }); return Promise.resolve("complete"); },
      reset() { return Promise.resolve("complete"); },
    },
  };
  window.__rumbles = [];
  window.__pad = pad;
  window.__pads = [pad];
  Object.defineProperty(navigator, "getGamepads", {
    configurable: true, value: () => [window.__pads[0] ?? null, null, null, null],
  });
  return true;
})()`

// touch dispatches one touch event of a single finger at (x, y) (none for touchEnd).
func touch(typ cdpinput.DispatchTouchEventType, x, y float64) chromedp.Action[chromedp.Void] {
	id, one := 1.0, 1.0
	pts := []*cdpinput.TouchPoint{{X: x, Y: y, ID: &id, RadiusX: &one, RadiusY: &one, Force: &one}}
	if typ == cdpinput.DispatchTouchEventTypeTouchEnd {
		pts = []*cdpinput.TouchPoint{}
	}
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, cdpinput.DispatchTouchEvent, cdpinput.DispatchTouchEventParams{Type: typ, TouchPoints: pts})
		return err
	})
}

// drag puts a finger down at (x, y) and moves it by (dx, dy) in steps, leaving it down.
func drag(x, y, dx, dy float64) chromedp.Action[chromedp.Void] {
	steps := []chromedp.Action[chromedp.Void]{touch(cdpinput.DispatchTouchEventTypeTouchStart, x, y)}
	for i := 1; i <= 4; i++ {
		f := float64(i) / 4
		steps = append(steps, touch(cdpinput.DispatchTouchEventTypeTouchMove, x+dx*f, y+dy*f))
	}
	return chromedp.Steps(steps...)
}

// centre returns the middle of the element that selector finds, in CSS pixels.
func centre(tb testing.TB, ctx context.Context, selector string) (x, y float64) {
	tb.Helper()
	r := evalJS[[]float64](tb, ctx, `(r => [r.left + r.width / 2, r.top + r.height / 2])(document.querySelector(`+"`"+selector+"`"+`).getBoundingClientRect())`)
	return r[0], r[1]
}
