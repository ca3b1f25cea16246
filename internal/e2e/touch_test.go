package e2e

import (
	"strings"
	"testing"
	"time"

	cdpinput "github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/pion/transport/v5/test"

	"github.com/edgeplay/edgeplay/internal/app"
)

// TestTouch plays the demo on an emulated phone (touch, mobile, 844×390 landscape): a tap on
// the picture plays; the player fills the screen with on-screen controls over the video and the page stops
// scrolling; CDP touch events on the virtual sticks move the ship and aim and fire (the touch
// controls are a virtual gamepad, pad 7, so the game sees a pad); turning the phone upright
// asks to turn it back; ✕ leaves. The ship is read from the game itself (watchedDemo).
func TestTouch(t *testing.T) {
	chromePath(t) // skip in -short mode before starting anything
	defer test.CheckRoutines(t)()
	var games watchedGames
	a := startApp(t, appOpts{mutate: func(c *app.Config) { games.use(c) }})
	defer func() { _ = a.Close(ctxFor(t, 10*time.Second)) }()
	ctx, closeBrowser := startBrowser(t)
	defer closeBrowser()

	phone := func(w, h int64, orientation chromedp.EmulateViewportOption) chromedp.Action[chromedp.Void] {
		return chromedp.EmulateViewport(w, h, chromedp.EmulateScale(3), orientation, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	run(t, ctx, "emulate a phone", phone(844, 390, chromedp.EmulateLandscape))
	run(t, ctx, "open the page", chromedp.Navigate(a.URL()+"/"))
	waitJS(t, ctx, `window.edgeplay?.state === "idle" && !document.getElementById("play").disabled`, jsTimeout)
	if !evalJS[bool](t, ctx, `edgeplay.touch && matchMedia("(pointer: coarse)").matches`) {
		t.Fatal("the emulated phone is not in touch mode")
	}
	// Landscape on a phone the page's Play button is below the fold: the picture itself is one.
	x, y := centre(t, ctx, ".ep-overlay")
	run(t, ctx, "tap the picture", chromedp.TapXY(x, y))
	waitJS(t, ctx, `edgeplay.state === "playing" && edgeplay.framesDecoded > 10`, 30*time.Second)

	// The controls over the video, the player filling the screen, no scrolling or zooming.
	type layout struct {
		Controls      bool
		TouchAction   string
		NoScroll      bool
		Viewport      string
		Width, Height int
		Rotate        string
	}
	l := evalJS[layout](t, ctx, `(r => ({
		Controls: !document.querySelector(".ep-touch").hidden,
		TouchAction: getComputedStyle(document.querySelector(".ep-touch")).touchAction,
		NoScroll: getComputedStyle(document.body).overflow === "hidden",
		Viewport: document.querySelector('meta[name="viewport"]').content,
		Width: Math.round(r.width), Height: Math.round(r.height),
		Rotate: getComputedStyle(document.querySelector(".ep-rotate")).display,
	}))(document.querySelector(".ep-root").getBoundingClientRect())`)
	t.Logf("layout while playing: %+v", l)
	if !l.Controls || l.TouchAction != "none" || !l.NoScroll || l.Width != 844 || l.Height != 390 || l.Rotate != "none" {
		t.Errorf("layout %+v: want the controls shown, touch-action none, no scroll, the player 844×390, no rotate prompt", l)
	}
	if want := "user-scalable=no"; !strings.Contains(l.Viewport, want) {
		t.Errorf("viewport %q while playing, want %s", l.Viewport, want)
	}

	g := games.only(t)
	waitFor(t, 5*time.Second, "the game sees the touch pad", func() bool { return g.Ship().Pads == 1 })
	start := g.Ship()

	// A thumb on the left half, dragged right: the ship moves right.
	lx, ly := centre(t, ctx, ".ep-tleft")
	run(t, ctx, "drag the move stick right", drag(lx, ly, 80, 0))
	waitFor(t, 5*time.Second, "the move stick moves the ship right", func() bool {
		s := g.Ship()
		return s.X > start.X+150 && s.Y > start.Y-5 && s.Y < start.Y+5
	})
	run(t, ctx, "lift the thumb", touch(cdpinput.DispatchTouchEventTypeTouchEnd, 0, 0))
	waitFor(t, 5*time.Second, "the stick comes back to rest", func() bool {
		s := g.Ship()
		return s.PadX == 0 && s.PadY == 0
	})

	// A thumb on the right half, dragged up past half way: the gun points up and fires.
	rx, ry := centre(t, ctx, ".ep-tright")
	run(t, ctx, "drag the aim stick up", drag(rx, ry, 0, -70))
	waitFor(t, 5*time.Second, "the aim stick aims up and fires", func() bool {
		s := g.Ship()
		return s.DirY < -0.99 && s.Shots >= 3
	})
	run(t, ctx, "lift the thumb", touch(cdpinput.DispatchTouchEventTypeTouchEnd, 0, 0))
	waitFor(t, 5*time.Second, "the game sees the aim stick released", func() bool { return !g.Ship().Firing })

	// Upright: a prompt to turn the phone.
	run(t, ctx, "turn the phone upright", phone(390, 844, chromedp.EmulatePortrait))
	waitJS(t, ctx, `getComputedStyle(document.querySelector(".ep-rotate")).display !== "none"`, 5*time.Second)
	run(t, ctx, "turn the phone back", phone(844, 390, chromedp.EmulateLandscape))
	waitJS(t, ctx, `getComputedStyle(document.querySelector(".ep-rotate")).display === "none"`, 5*time.Second)

	// ✕ leaves: the session ends, the page scrolls and zooms again.
	x, y = centre(t, ctx, ".ep-texit")
	run(t, ctx, "tap ✕", chromedp.TapXY(x, y))
	waitJS(t, ctx, `edgeplay.state === "ended" && edgeplay.endReason === "player_left"`, 5*time.Second)
	if got := evalJS[string](t, ctx, `JSON.stringify([document.querySelector(".ep-touch").hidden, getComputedStyle(document.body).overflow, document.querySelector('meta[name="viewport"]').content])`); got != `[true,"visible","width=device-width, initial-scale=1, viewport-fit=cover"]` {
		t.Errorf("after leaving [controls hidden, body overflow, viewport] = %s", got)
	}
	waitFor(t, 5*time.Second, "the host frees the slot", func() bool { return len(a.Hosts()[0].Sessions()) == 0 })

	closeBrowser()
	if err := a.Close(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
}
