// Command testgame is gameproc's test game: a gamesdk game that fills every frame with one
// colour, the next colour of its palette after each key press, at the welcome's fps until
// shutdown. Environment variables make it misbehave:
//
//	TESTGAME_CRASH_AFTER=N     exit with status 3 after N frames
//	TESTGAME_NEVER_READY=1     never send ready
//	TESTGAME_HANG_AFTER=N      stop everything (sleep) after N frames
//	TESTGAME_IGNORE_SHUTDOWN=1 do not exit at shutdown (sleep), and ignore SIGTERM
//	TESTGAME_CHILD_PIDFILE=P   fork a child (sleep) and write its pid to P
//	TESTGAME_FDFILE=P          write the descriptors it inherited to P, one "fd target" a line
//	TESTGAME_LOAD_MS=N         take N ms to load (sends loading first)
//	TESTGAME_LOAD_QUIET=1      … without saying loading (the ready deadline stands)
//	TESTGAME_HANG_READY=1      stop everything (sleep) once ready
//	TESTGAME_END_AFTER=N       end the session itself after N frames, result {"frames":N}
//	TESTGAME_GARBAGE_AFTER=N   write a malformed datagram on the link after N frames
//	TESTGAME_OVERSIZE_AFTER=N  write a 70,000-byte datagram on the link after N frames
//	TESTGAME_EVENTFILE=P       append what the host says to P, a line each: "assign SESSION",
//	                           "joined PLAYER "PAYLOAD"", "away", "back", "drain"
//
// and others change what it renders:
//
//	TESTGAME_FORMAT=F          announce F (i420 or nv12) besides RGBA, insist on the host
//	                           picking it (fatal otherwise), and render the palette's
//	                           colours in it, in BT.709
//	TESTGAME_MARKER=1          draw edgeplay's latency marker (game/marker) with the last
//	                           input's seq, in any format
//
// At drain it ends the session itself with the result {"drained":true}.
package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/edgeplay/edgeplay/game/marker"
	"github.com/edgeplay/edgeplay/gameproto"
	"github.com/edgeplay/edgeplay/gamesdk"
	"github.com/edgeplay/edgeplay/input"
)

// Palette is the colours frames cycle through, one step per key press (R, G, B).
var Palette = [][3]byte{{0xff, 0, 0}, {0, 0xff, 0}, {0, 0, 0xff}, {0xff, 0xff, 0}}

func envInt(name string) int {
	n, _ := strconv.Atoi(os.Getenv(name))
	return n
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "testgame:", err)
		os.Exit(1)
	}
}

func run() error {
	if p := os.Getenv("TESTGAME_FDFILE"); p != "" {
		if err := writeFDs(p); err != nil {
			return err
		}
	}
	crashAfter, hangAfter := envInt("TESTGAME_CRASH_AFTER"), envInt("TESTGAME_HANG_AFTER")
	ignoreShutdown := os.Getenv("TESTGAME_IGNORE_SHUTDOWN") != ""
	if ignoreShutdown {
		signal.Ignore(syscall.SIGTERM)
	}
	if pf := os.Getenv("TESTGAME_CHILD_PIDFILE"); pf != "" {
		c := exec.CommandContext(context.Background(), "/bin/sleep", "1000")
		if err := c.Start(); err != nil {
			return err
		}
		if err := os.WriteFile(pf, []byte(strconv.Itoa(c.Process.Pid)), 0o600); err != nil {
			return err
		}
	}
	fmt.Println("testgame starting") // captured into the host's log
	// A copy of the link, for writing what the SDK would never send (the SDK's Open takes fd 3
	// over and may close it).
	link, err := syscall.Dup(3)
	if err != nil {
		return err
	}

	var cfg gamesdk.Config
	format := gameproto.RGBA
	switch f := os.Getenv("TESTGAME_FORMAT"); f {
	case "":
	case "i420":
		cfg.I420, format = true, gameproto.I420
	case "nv12":
		cfg.NV12, format = true, gameproto.NV12
	default:
		return fmt.Errorf("TESTGAME_FORMAT %q: want i420 or nv12", f)
	}
	drawMarker := os.Getenv("TESTGAME_MARKER") != ""
	g, err := gamesdk.Open(cfg)
	if err != nil {
		return err
	}
	defer g.Close()
	if got := g.Pool().Format; got != format {
		return g.Fatal(fmt.Sprintf("the host picked %s, want %s", got, format))
	}
	if os.Getenv("TESTGAME_NEVER_READY") != "" {
		for {
			if _, err := g.Poll(time.Second); err != nil {
				return err
			}
		}
	}
	if ms := envInt("TESTGAME_LOAD_MS"); ms > 0 {
		if os.Getenv("TESTGAME_LOAD_QUIET") == "" {
			if err := g.Loading(time.Duration(ms)*time.Millisecond + 5*time.Second); err != nil {
				return err
			}
		}
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
	if err := g.Ready(); err != nil {
		return err
	}
	_ = g.Log(gamesdk.LevelInfo, "testgame ready")
	if os.Getenv("TESTGAME_HANG_READY") != "" {
		time.Sleep(time.Hour)
	}
	note := func(format string, args ...any) {
		if p := os.Getenv("TESTGAME_EVENTFILE"); p != "" {
			f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
			if err == nil {
				_, _ = fmt.Fprintf(f, format+"\n", args...)
				_ = f.Close()
			}
		}
	}

	every := time.Second / time.Duration(g.Welcome().FPS)
	var started bool
	var colour, frames int
	var lastInput uint32
	next := time.Now()
	for {
		wait := time.Second
		if started {
			wait = max(time.Until(next), time.Millisecond)
		}
		ev, err := g.Poll(wait)
		if err != nil {
			return err
		}
		switch ev := ev.(type) {
		case gamesdk.Assign:
			note("assign %s", ev.Session)
			if err := g.Started(); err != nil {
				return err
			}
			started, next = true, time.Now()
		case gamesdk.PlayerJoined:
			note("joined %s %q", ev.ID, ev.Payload)
		case gamesdk.PlayerAway:
			note("away")
		case gamesdk.PlayerBack:
			note("back")
		case gamesdk.Drain:
			note("drain")
			return g.End(`{"drained":true}`)
		case gamesdk.Input:
			for _, in := range ev.Events {
				if in.Type == input.KeyDown {
					colour++
				}
				lastInput = in.Seq
			}
		case gamesdk.Shutdown:
			if ignoreShutdown {
				time.Sleep(time.Hour)
			}
			return nil
		}
		if !started || time.Now().Before(next) {
			continue
		}
		next = next.Add(every)
		f, ok := g.AcquireFrame()
		if !ok {
			continue
		}
		fill(f, Palette[colour%len(Palette)])
		if drawMarker {
			markFrame(f, uint16(lastInput))
		}
		if err := g.SubmitFrame(f, lastInput); err != nil {
			return err
		}
		frames++
		if crashAfter > 0 && frames >= crashAfter {
			os.Exit(3)
		}
		if n := envInt("TESTGAME_END_AFTER"); n > 0 && frames >= n {
			return g.End(fmt.Sprintf(`{"frames":%d}`, frames))
		}
		if n := envInt("TESTGAME_GARBAGE_AFTER"); n > 0 && frames >= n {
			_, _ = syscall.Write(link, []byte{0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3})
			time.Sleep(time.Hour) // the host cuts it off
		}
		if n := envInt("TESTGAME_OVERSIZE_AFTER"); n > 0 && frames >= n {
			_, _ = syscall.Write(link, make([]byte, 70000))
			time.Sleep(time.Hour)
		}
		if hangAfter > 0 && frames >= hangAfter {
			time.Sleep(time.Hour)
		}
	}
}

// fill paints the whole frame in colour c: RGBA as it is, YUV in BT.709, limited range.
func fill(f *gamesdk.Frame, c [3]byte) {
	y, u, v := yuv709(c)
	switch f.Format {
	case gameproto.I420:
		fillPlane(f.Planes[0], f.Strides[0], f.Height, []byte{y}, f.Width)
		fillPlane(f.Planes[1], f.Strides[1], f.Height/2, []byte{u}, f.Width/2)
		fillPlane(f.Planes[2], f.Strides[2], f.Height/2, []byte{v}, f.Width/2)
	case gameproto.NV12:
		fillPlane(f.Planes[0], f.Strides[0], f.Height, []byte{y}, f.Width)
		fillPlane(f.Planes[1], f.Strides[1], f.Height/2, []byte{u, v}, f.Width/2)
	default:
		fillPlane(f.Planes[0], f.Strides[0], f.Height, []byte{c[0], c[1], c[2], 0xff}, f.Width)
	}
}

// fillPlane writes n copies of sample into each of the first rows rows of a plane: the first
// row sample by sample, the others as copies of it.
func fillPlane(pix []byte, stride, rows int, sample []byte, n int) {
	first := pix[:n*len(sample)]
	for i := 0; i < len(first); i += len(sample) {
		copy(first[i:], sample)
	}
	for y := 1; y < rows; y++ {
		copy(pix[y*stride:], first)
	}
}

// yuv709 is the BT.709 limited-range YUV of an RGB colour (docs/SDK.md, "buffer_pool").
func yuv709(c [3]byte) (y, u, v byte) {
	r, g, b := float64(c[0]), float64(c[1]), float64(c[2])
	l := 0.2126*r + 0.7152*g + 0.0722*b
	return byte(math.Round(16 + l*219/255)),
		byte(math.Round(128 + (b-l)/1.8556*224/255)),
		byte(math.Round(128 + (r-l)/1.5748*224/255))
}

// markFrame draws the latency marker with value into the frame's top-left corner: in RGBA
// as game/marker draws it, in YUV as Y 235 (1) and 16 (0) cells over neutral chroma.
func markFrame(f *gamesdk.Frame, value uint16) {
	f.Marker = true
	if f.Format == gameproto.RGBA {
		marker.Draw(f.Planes[0], f.Strides[0], value)
		return
	}
	const cols = marker.Width / marker.Cell
	black, white := []byte{16}, []byte{235}
	for r := range marker.Height / marker.Cell {
		for c := range cols {
			cell := black
			if value&(1<<(15-(r*cols+c))) != 0 {
				cell = white
			}
			top := r*marker.Cell*f.Strides[0] + c*marker.Cell
			fillPlane(f.Planes[0][top:], f.Strides[0], marker.Cell, cell, marker.Cell)
		}
	}
	grey := []byte{128}
	for i := 1; i < 3; i++ {
		if f.Planes[i] != nil {
			// Under the region: Width/2 samples a row of I420's U and V; NV12's UV holds both
			// in Width bytes.
			n := marker.Width / 2
			if f.Format == gameproto.NV12 {
				n = marker.Width
			}
			fillPlane(f.Planes[i], f.Strides[i], marker.Height/2, grey, n)
		}
	}
}

// writeFDs lists the open descriptors, but for the one reading the list.
func writeFDs(path string) error {
	dir, err := os.Open("/proc/self/fd")
	if err != nil {
		return err
	}
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return err
	}
	var out []byte
	for _, n := range names {
		if n == strconv.Itoa(int(dir.Fd())) {
			continue
		}
		target, _ := os.Readlink("/proc/self/fd/" + n)
		out = fmt.Appendf(out, "%s %s\n", n, target)
	}
	_ = dir.Close()
	return os.WriteFile(path, out, 0o600)
}
