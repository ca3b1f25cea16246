package e2e

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pion/transport/v5/test"

	"github.com/edgeplay/edgeplay/internal/app"
)

// TestGamepad plays the demo with a gamepad in Chromium: a standard-mapping pad behind the
// page's Gamepad API (navigator.getGamepads overridden, as the browser has no virtual pads). The
// page shows it connected; on the host the game sees it; the left stick moves the ship, the
// right stick aims and the trigger fires; unplugging it releases everything. The ship is read
// from the game itself (watchedDemo), after each frame.
func TestGamepad(t *testing.T) {
	chromePath(t) // skip in -short mode before starting anything
	defer test.CheckRoutines(t)()
	var games watchedGames
	a := startApp(t, appOpts{mutate: func(c *app.Config) { games.use(c) }})
	defer func() { _ = a.Close(ctxFor(t, 10*time.Second)) }()
	ctx, closeBrowser := startBrowser(t)
	defer closeBrowser()

	run(t, ctx, "open the page", chromedp.Navigate(a.URL()+"/"))
	waitJS(t, ctx, `window.edgeplay?.state === "idle" && !document.getElementById("play").disabled`, jsTimeout)
	if !evalJS[bool](t, ctx, fakePadJS) {
		t.Fatal("could not install the fake pad")
	}
	run(t, ctx, "click Play", chromedp.Click(chromedp.ID("play")))
	waitJS(t, ctx, `edgeplay.state === "playing" && edgeplay.framesDecoded > 10`, 30*time.Second)

	// Connected: on the page, and in the game.
	waitJS(t, ctx, `edgeplay.gamepads.length === 1 && edgeplay.gamepads[0].rumble`, 5*time.Second)
	if got := evalJS[string](t, ctx, `(e => e.hidden ? "" : e.textContent)(document.querySelector(".ep-toast"))`); got != "🎮 gamepad 1 connected: Fake pad" {
		t.Errorf("the page says %q, want the pad connected", got)
	}
	g := games.only(t)
	waitFor(t, 5*time.Second, "the game sees the pad", func() bool { return g.Ship().Pads == 1 })
	start := g.Ship()
	t.Logf("ship at (%.0f, %.0f)", start.X, start.Y)

	// Left stick right: the ship moves right (420 px/s at full deflection).
	evalJS[any](t, ctx, `window.__pad.axes = [1, 0, 0, 0]`)
	waitFor(t, 5*time.Second, "the left stick moves the ship right", func() bool {
		s := g.Ship()
		return s.X > start.X+150 && s.Y > start.Y-5 && s.Y < start.Y+5
	})
	// Left stick up-left, by half: the ship turns and moves up and left.
	evalJS[any](t, ctx, `window.__pad.axes = [-0.5, -0.5, 0, 0]`)
	mid := g.Ship()
	waitFor(t, 5*time.Second, "the left stick moves the ship up and left", func() bool {
		s := g.Ship()
		return s.X < mid.X-60 && s.Y < mid.Y-60
	})

	// Stick at rest, right stick down, right trigger: the gun points down and fires.
	evalJS[any](t, ctx, `(p => { p.axes = [0, 0, 0, 1]; p.buttons[7] = { pressed: true, touched: true, value: 1 }; })(window.__pad)`)
	waitFor(t, 5*time.Second, "the right stick aims down and the trigger fires", func() bool {
		s := g.Ship()
		return s.DirY > 0.99 && s.Shots >= 3
	})
	evalJS[any](t, ctx, `(p => { p.axes = [0, 0, 0, 0]; p.buttons[7] = { pressed: false, touched: false, value: 0 }; })(window.__pad)`)
	waitFor(t, 5*time.Second, "the game sees the trigger released", func() bool {
		s := g.Ship()
		return !s.Firing && s.PadX == 0 && s.PadY == 0
	})

	// Unplugged while the stick is pushed: the game lets go, the page says so.
	evalJS[any](t, ctx, `window.__pad.axes = [1, 0, 0, 0]`)
	waitFor(t, 5*time.Second, "the ship moves again", func() bool { return g.Ship().X > mid.X })
	evalJS[any](t, ctx, `window.__pads = []`)
	waitFor(t, 5*time.Second, "the game sees the pad go and lets go of its stick", func() bool {
		s := g.Ship()
		return s.Pads == 0 && s.PadX == 0 && s.PadY == 0
	})
	waitJS(t, ctx, `edgeplay.gamepads.length === 0 && document.querySelector(".ep-toast").textContent === "gamepad 1 disconnected"`, 5*time.Second)

	t.Logf("rumbles played: %d; %s", evalJS[int](t, ctx, `window.__rumbles.length`),
		evalJS[string](t, ctx, `JSON.stringify(edgeplay.audio)`))
	evalJS[any](t, ctx, `document.exitPointerLock()`)
	run(t, ctx, "click Stop", chromedp.Click(chromedp.ID("stop")))
	waitJS(t, ctx, `edgeplay.state === "ended"`, 5*time.Second)
	waitFor(t, 5*time.Second, "the host frees the slot", func() bool { return len(a.Hosts()[0].Sessions()) == 0 })

	closeBrowser()
	if err := a.Close(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
}
