package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdpinput "github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/edgeplay/edgeplay/input"
)

// fakePadJS puts a standard-mapping gamepad behind navigator.getGamepads (as the browser would
// after a button press on a real pad). The test moves it through window.__pad and unplugs it by
// emptying window.__pads; its rumbles are collected in window.__rumbles.
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

// nextState returns the next gamepad state that satisfies ok, skipping the others (repeats,
// states on the way).
func (h *fakeHost) nextState(t *testing.T, what string, ok func(input.Event) bool) input.Event {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-h.events:
			if ev.Type == input.GamepadState && ok(ev) {
				return ev
			}
		case <-timeout:
			t.Fatalf("host: no gamepad state with %s within 5 s", what)
		}
	}
}

// TestBrowserGamepad: a gamepad behind the Gamepad API is announced on the page and to the host
// (connect on "input", its states on "motion", byte for byte as PROTOCOL.md says, dead zones
// applied); the host's rumble reaches the pad's actuator; unplugging it is a disconnect. The
// host's audio track plays, and mute and volume are remembered across a reload.
func TestBrowserGamepad(t *testing.T) {
	ctx := browser(t)
	script := newHostScript("demo", true)
	script.audio = true
	srv := fakeGateway(t, script.run(t))

	do(t, ctx, chromedp.Navigate(srv.URL+"/"))
	if !eval[bool](t, ctx, fakePadJS) {
		t.Fatal("could not install the fake pad")
	}
	do(t, ctx, chromedp.Click(chromedp.ID("play")))
	waitJS(t, ctx, `edgeplay.state === "playing" && edgeplay.framesDecoded > 3`, 20*time.Second)
	h := <-script.hosts

	if ev := h.next(t, input.GamepadConnect); ev.Pad != 0 || ev.PadFlags != input.PadRumble {
		t.Errorf("connect %+v, want pad 0 with rumble", ev)
	}
	if ev := h.nextState(t, "the pad at rest", func(input.Event) bool { return true }); ev.Pad != 0 || ev.Buttons != 0 || ev.LX != 0 || ev.RT != 0 {
		t.Errorf("first state %+v, want pad 0 at rest", ev)
	}
	waitJS(t, ctx, `edgeplay.gamepads.length === 1 && edgeplay.gamepads[0].index === 0 && edgeplay.gamepads[0].rumble && !edgeplay.gamepads[0].touch`, 2*time.Second)
	if got := eval[string](t, ctx, `document.querySelector(".ep-toast").textContent`); got != "🎮 gamepad 1 connected: Fake pad" {
		t.Errorf("toast %q", got)
	}

	// Left stick right, right stick 0.66 up, A and the right trigger: one state with all of it.
	eval[any](t, ctx, `(p => {
		p.axes = [1, 0, 0, -0.66];
		p.buttons[0] = { pressed: true, touched: true, value: 1 };
		p.buttons[7] = { pressed: true, touched: true, value: 0.8 };
	})(window.__pad)`)
	ev := h.nextState(t, "the stick pushed", func(ev input.Event) bool { return ev.LX != 0 })
	want := input.Event{
		Type: input.GamepadState, Seq: ev.Seq, Time: ev.Time, Buttons: 1<<input.PadA | 1<<input.PadRT,
		RT: 201,    // (0.8 − 0.05) / 0.95 × 255
		LX: 32767,  // full deflection
		RY: -19660, // (0.66 − 0.15) / 0.85 = 0.6, up
	}
	if ev != want {
		t.Errorf("state\n got %+v\nwant %+v", ev, want)
	}
	// Held, the state is repeated (a lost one must not leave the host behind).
	if rep := h.nextState(t, "a repeat", func(e input.Event) bool { return e.Seq > ev.Seq }); rep.LX != ev.LX || rep.Buttons != ev.Buttons {
		t.Errorf("repeat %+v, want the same state as %+v", rep, ev)
	}

	// The host's rumble plays on the pad.
	h.sendControl(t, `{"type":"rumble","strong":0.75,"weak":0.25,"ms":120}`)
	waitJS(t, ctx, `window.__rumbles.length === 1`, 2*time.Second)
	if got := eval[string](t, ctx, `JSON.stringify(window.__rumbles[0])`); got != `{"type":"dual-rumble","startDelay":0,"duration":120,"strongMagnitude":0.75,"weakMagnitude":0.25}` {
		t.Errorf("rumble %s", got)
	}
	if got := eval[int](t, ctx, `edgeplay.rumbles`); got != 1 {
		t.Errorf("edgeplay.rumbles %d, want 1", got)
	}

	// Unplugged: a disconnect, and the page says so.
	eval[any](t, ctx, `window.__pads = []`)
	if ev := h.next(t, input.GamepadDisconnect); ev.Pad != 0 {
		t.Errorf("disconnect %+v, want pad 0", ev)
	}
	waitJS(t, ctx, `edgeplay.gamepads.length === 0 && document.querySelector(".ep-toast").textContent === "gamepad 1 disconnected"`, 2*time.Second)

	// Sound: the audio track plays through the player's <audio>; mute and volume stick.
	waitJS(t, ctx, `edgeplay.audio.track && edgeplay.audio.playing && !edgeplay.audio.muted`, 10*time.Second)
	if got := eval[int](t, ctx, `document.querySelector("audio.ep-audio").srcObject.getAudioTracks().length`); got != 1 {
		t.Errorf("the audio element has %d audio tracks, want 1", got)
	}
	do(t, ctx, chromedp.Click(chromedp.ID("mute")))
	waitJS(t, ctx, `edgeplay.audio.muted && document.querySelector("audio.ep-audio").muted && document.getElementById("mute").getAttribute("aria-pressed") === "true"`, 2*time.Second)
	eval[any](t, ctx, `(v => { v.value = "40"; v.dispatchEvent(new Event("input")); })(document.getElementById("volume"))`)
	waitJS(t, ctx, `edgeplay.audio.volume === 0.4 && !edgeplay.audio.muted && document.querySelector("audio.ep-audio").volume === 0.4`, 2*time.Second)
	do(t, ctx, chromedp.Click(chromedp.ID("mute")))
	waitJS(t, ctx, `edgeplay.audio.muted`, 2*time.Second)

	do(t, ctx, chromedp.Click(chromedp.ID("stop")))
	waitJS(t, ctx, `edgeplay.state === "ended" && !edgeplay.audio.playing`, 5*time.Second)
	do(t, ctx, chromedp.Reload())
	waitJS(t, ctx, `window.edgeplay?.state === "idle"`, 5*time.Second)
	if got := eval[string](t, ctx, `JSON.stringify([edgeplay.audio.muted, edgeplay.audio.volume, document.getElementById("volume").value, document.querySelector("audio.ep-audio").muted])`); got != `[true,0.4,"40",true]` {
		t.Errorf("after a reload [muted, volume, slider, element muted] = %s, want [true,0.4,\"40\",true]", got)
	}
}

// touchAt dispatches one touch event with a single finger (id 1) at (x, y).
func touchAt(typ cdpinput.DispatchTouchEventType, x, y float64) chromedp.Action[chromedp.Void] {
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

// TestBrowserTouch: on a phone (emulated: touch, a coarse pointer, 844×390 landscape) the page
// shows on-screen controls while playing; they are the virtual pad 7, connected with the touch
// flag, and a drag on the left stick is a left-stick state. Portrait shows the rotate prompt.
func TestBrowserTouch(t *testing.T) {
	ctx := browser(t)
	script := newHostScript("demo", true)
	srv := fakeGateway(t, script.run(t))

	do(t, ctx,
		chromedp.EmulateViewport(844, 390, chromedp.EmulateScale(3), chromedp.EmulateLandscape, chromedp.EmulateMobile, chromedp.EmulateTouch),
		chromedp.Navigate(srv.URL+"/"),
	)
	if !eval[bool](t, ctx, `matchMedia("(pointer: coarse)").matches && edgeplay.touch`) {
		t.Fatal("an emulated phone is not in touch mode")
	}
	if !eval[bool](t, ctx, `document.querySelector(".ep-touch").hidden`) {
		t.Error("the touch controls show before Play")
	}
	do(t, ctx, chromedp.Click(chromedp.ID("play")))
	waitJS(t, ctx, `edgeplay.state === "playing" && edgeplay.framesDecoded > 3`, 20*time.Second)
	h := <-script.hosts
	if ev := h.next(t, input.GamepadConnect); ev.Pad != input.TouchPad || ev.PadFlags&input.PadTouch == 0 {
		t.Errorf("connect %+v, want pad %d with the touch flag", ev, input.TouchPad)
	}
	layout := eval[string](t, ctx, `(r => JSON.stringify([
		!document.querySelector(".ep-touch").hidden,
		getComputedStyle(document.querySelector(".ep-touch")).touchAction,
		document.documentElement.classList.contains("ep-noscroll"),
		getComputedStyle(document.querySelector(".ep-rotate")).display,
		Math.round(r.width), Math.round(r.height),
	]))(document.querySelector(".ep-root").getBoundingClientRect())`)
	if layout != `[true,"none",true,"none",844,390]` {
		t.Errorf("[controls shown, touch-action, no scroll, rotate prompt, player w, h] = %s, want [true,\"none\",true,\"none\",844,390]", layout)
	}

	// A thumb on the left half, dragged right by a full stick radius.
	r := eval[[]float64](t, ctx, `(r => [r.left, r.top, r.width, r.height])(document.querySelector(".ep-tleft").getBoundingClientRect())`)
	x, y := r[0]+r[2]/2, r[1]+r[3]/2
	do(t, ctx, touchAt(cdpinput.DispatchTouchEventTypeTouchStart, x, y))
	for i := 1; i <= 4; i++ {
		do(t, ctx, touchAt(cdpinput.DispatchTouchEventTypeTouchMove, x+float64(i)*20, y))
	}
	ev := h.nextState(t, "the left stick fully right", func(ev input.Event) bool { return ev.LX == 32767 })
	if ev.Pad != input.TouchPad || ev.LY != 0 || ev.RX != 0 || ev.Buttons != 0 {
		t.Errorf("state %+v, want pad %d with the left stick fully right", ev, input.TouchPad)
	}
	do(t, ctx, touchAt(cdpinput.DispatchTouchEventTypeTouchEnd, 0, 0))
	h.nextState(t, "the stick back at rest", func(ev input.Event) bool { return ev.LX == 0 })

	// The fire button holds A.
	fire := eval[[]float64](t, ctx, `(r => [r.left + r.width / 2, r.top + r.height / 2])(document.querySelector(".ep-tfire").getBoundingClientRect())`)
	do(t, ctx, touchAt(cdpinput.DispatchTouchEventTypeTouchStart, fire[0], fire[1]))
	h.nextState(t, "A held", func(ev input.Event) bool { return ev.Buttons == 1<<input.PadA })
	do(t, ctx, touchAt(cdpinput.DispatchTouchEventTypeTouchEnd, 0, 0))

	// Portrait: the prompt to turn the device.
	do(t, ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3), chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch))
	waitJS(t, ctx, `getComputedStyle(document.querySelector(".ep-rotate")).display !== "none"`, 2*time.Second)
	if got := eval[string](t, ctx, `document.querySelector(".ep-rotate").textContent`); !strings.Contains(got, "sideways") {
		t.Errorf("rotate prompt %q", got)
	}

	// The ✕ leaves; the page scrolls again and the controls are gone.
	do(t, ctx, chromedp.Click(chromedp.CSS(".ep-texit")))
	waitJS(t, ctx, `edgeplay.state === "ended"`, 5*time.Second)
	if got := eval[string](t, ctx, `JSON.stringify([document.querySelector(".ep-touch").hidden, document.documentElement.classList.contains("ep-noscroll"), edgeplay.gamepads.length])`); got != `[true,false,0]` {
		t.Errorf("after leaving [controls hidden, no scroll, pads] = %s, want [true,false,0]", got)
	}
}
