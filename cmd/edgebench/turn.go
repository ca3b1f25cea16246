package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pionturn "github.com/pion/turn/v5"

	"github.com/edgeplay/edgeplay/internal/pionlog"
	"github.com/edgeplay/edgeplay/turn"
)

func init() {
	commands = append(commands, command{
		name: "turn", summary: "TURN relay CPU per Mbit/s: relayed traffic against the same traffic sent directly",
		run: runTURN,
	})
}

// turnOpts are the flags of edgebench turn.
type turnOpts struct {
	rates      []float64 // Mbit/s of UDP payload
	dur        time.Duration
	runs       int
	size       int      // UDP payload bytes per packet
	transports []string // the client's transport to the relay: udp, tcp
	directions []string // down: peer (host) → relay → client (player); up: the reverse
}

// turnDrain is how long a measurement waits after the last packet is sent for the rest to
// arrive; what has not arrived by then counts as lost.
const turnDrain = 500 * time.Millisecond

// flowResult is one measured run of paced traffic.
type flowResult struct {
	sent, delivered int64
	cpu             time.Duration // process user + system CPU from the first send to the last delivery (or the drain's end)
	wall            time.Duration // first send to last send
}

// cpuPerSec is CPU milliseconds per second of sending.
func (f flowResult) cpuPerSec() float64 {
	if f.wall <= 0 {
		return 0
	}
	return float64(f.cpu) / float64(time.Millisecond) / f.wall.Seconds()
}

// turnRow is one line of the report: a rate, a direction and a transport, relayed, against
// the direct runs at the same rate.
type turnRow struct {
	rate      float64
	direction string
	transport string
	relayed   []flowResult // one per run
	direct    []flowResult // one per run, shared by the rows of a rate
}

// turnCost is what a row works out to.
type turnCost struct {
	relayedMin, directMin float64 // CPU ms/s, the smallest of the runs
	diff                  float64 // relayedMin − directMin, ms/s
	spread                float64 // the larger max − min of relayed and direct runs, ms/s; NaN with one run
	pctPerMbit            float64 // diff ÷ 10 ÷ rate: % of one core per Mbit/s
	usPerPacket           float64 // diff per relayed packet, µs
	sent, delivered       int64   // relayed packets, all runs
}

func minMax(fs []flowResult) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, f := range fs {
		lo, hi = min(lo, f.cpuPerSec()), max(hi, f.cpuPerSec())
	}
	return lo, hi
}

func (r turnRow) cost(size int) turnCost {
	var c turnCost
	rlo, rhi := minMax(r.relayed)
	dlo, dhi := minMax(r.direct)
	c.relayedMin, c.directMin, c.diff = rlo, dlo, rlo-dlo
	c.spread = math.NaN()
	if len(r.relayed) > 1 && len(r.direct) > 1 {
		c.spread = max(rhi-rlo, dhi-dlo)
	}
	c.pctPerMbit = c.diff / 10 / r.rate
	c.usPerPacket = c.diff * 1000 / packetsPerSec(r.rate, size)
	for _, f := range r.relayed {
		c.sent += f.sent
		c.delivered += f.delivered
	}
	return c
}

// withinNoise says whether the difference is not above the run-to-run spread (or below zero).
func (c turnCost) withinNoise() bool {
	return c.diff <= 0 || (!math.IsNaN(c.spread) && c.diff <= c.spread)
}

func packetsPerSec(rate float64, size int) float64 { return rate * 1e6 / 8 / float64(size) }

// packetInterval is the time between packets of size bytes at rate Mbit/s.
func packetInterval(rate float64, size int) time.Duration {
	return time.Duration(float64(time.Second) / packetsPerSec(rate, size))
}

func parseRates(v string) ([]float64, error) {
	var rates []float64
	for _, f := range strings.Split(v, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || !(r > 0) || math.IsInf(r, 0) {
			return nil, fmt.Errorf("bad rate %q: want Mbit/s, e.g. 5,20", f)
		}
		rates = append(rates, r)
	}
	return rates, nil
}

// parseChoices parses a comma-separated list of words, each one of allowed, without repeats.
func parseChoices(flagName, v string, allowed ...string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(allowed, f) || slices.Contains(out, f) {
			return nil, fmt.Errorf("bad -%s %q: want a list of %s", flagName, v, strings.Join(allowed, ", "))
		}
		out = append(out, f)
	}
	return out, nil
}

func runTURN(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("edgebench turn", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ratesFlag := fs.String("rates", "5,20", "rates to relay, Mbit/s of UDP payload, comma-separated")
	seconds := fs.Float64("seconds", 5, "seconds of traffic per measurement")
	runs := fs.Int("runs", 2, "times each measurement is made (interleaved); the spread between them is the noise")
	size := fs.Int("size", 1200, "UDP payload bytes per packet (a video RTP packet is about 1200)")
	transports := fs.String("transports", "udp,tcp", "the client's transport to the TURN server: udp, tcp")
	directions := fs.String("directions", "down", "down: host (peer) → relay → player (client), how media flows; up: player → relay → host")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var o turnOpts
	var err error
	if o.rates, err = parseRates(*ratesFlag); err != nil {
		return err
	}
	if o.transports, err = parseChoices("transports", *transports, "udp", "tcp"); err != nil {
		return err
	}
	if o.directions, err = parseChoices("directions", *directions, "down", "up"); err != nil {
		return err
	}
	if !(*seconds > 0) || *seconds > 3600 || *runs < 1 || *size < 1 || *size > 1400 {
		return errors.New("-seconds (up to 3600) and -runs must be positive, -size 1 to 1400")
	}
	o.dur, o.runs, o.size = time.Duration(*seconds*float64(time.Second)), *runs, *size

	loadBefore := loadAverage()
	rows, err := benchTURN(ctx, o, stderr)
	if err != nil {
		return err
	}
	writeTURNReport(stdout, o, rows, machineLine(), loadBefore, loadAverage())
	return nil
}

// benchTURN measures every row runs times. The runs are interleaved (all of run 1, then all
// of run 2), so that a change in the machine's background load shows as spread rather than as
// a difference between relayed and direct.
func benchTURN(ctx context.Context, o turnOpts, stderr io.Writer) ([]*turnRow, error) {
	var rows []*turnRow
	direct := map[float64]*[]flowResult{}
	for _, rate := range o.rates {
		d := new([]flowResult)
		direct[rate] = d
		for _, dir := range o.directions {
			for _, tr := range o.transports {
				rows = append(rows, &turnRow{rate: rate, direction: dir, transport: tr})
			}
		}
	}
	for run := range o.runs {
		for _, rate := range o.rates {
			fmt.Fprintf(stderr, "turn: run %d/%d, %g Mbit/s direct…\n", run+1, o.runs, rate)
			f, err := directFlow(ctx, o, rate)
			if err != nil {
				return nil, fmt.Errorf("direct, %g Mbit/s: %w", rate, err)
			}
			*direct[rate] = append(*direct[rate], f)
			for _, row := range rows {
				if row.rate != rate {
					continue
				}
				fmt.Fprintf(stderr, "turn: run %d/%d, %g Mbit/s relayed %s over %s…\n", run+1, o.runs, rate, row.direction, row.transport)
				f, err := relayedFlow(ctx, o, rate, row.transport, row.direction)
				if err != nil {
					return nil, fmt.Errorf("relayed %s over %s, %g Mbit/s: %w", row.direction, row.transport, rate, err)
				}
				row.relayed = append(row.relayed, f)
			}
		}
	}
	for _, row := range rows {
		row.direct = *direct[row.rate]
	}
	return rows, nil
}

// measure sends paced traffic with send and measures the process's CPU from the first packet
// until delivered reaches what was sent (or turnDrain after the last send).
func measure(ctx context.Context, o turnOpts, rate float64, send func() error, delivered func() int64) (flowResult, error) {
	runtime.GC() // the set-up's garbage is not the traffic's
	cpu0, t0 := cpuTime(), time.Now()
	sent, err := pace(ctx, o.dur, packetInterval(rate, o.size), send)
	if err != nil {
		return flowResult{}, err
	}
	wall := time.Since(t0)
	deadline := time.Now().Add(turnDrain)
	for delivered() < sent && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	f := flowResult{sent: sent, delivered: delivered(), cpu: cpuTime() - cpu0, wall: wall}
	return f, ctx.Err()
}

// pace calls send dur/interval times, the k-th call at start + k·interval (late calls catch
// up at once), and returns how many it made.
func pace(ctx context.Context, dur, interval time.Duration, send func() error) (int64, error) {
	total := max(int64(dur/interval), 1)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	start := time.Now()
	var n int64
	for {
		due := min(int64(time.Since(start)/interval)+1, total)
		for ; n < due; n++ {
			if err := send(); err != nil {
				return n, err
			}
		}
		if n == total {
			return n, nil
		}
		timer.Reset(time.Duration(n)*interval - time.Since(start))
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-timer.C:
		}
	}
}

// counter is a UDP socket that counts the packets of one size it receives, until closed.
type counter struct {
	conn net.PacketConn
	got  atomic.Int64
	wg   sync.WaitGroup
}

func listenCounter(ctx context.Context, size int) (*counter, error) {
	var lc net.ListenConfig
	conn, err := lc.ListenPacket(ctx, "udp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c := &counter{conn: conn}
	c.wg.Go(func() {
		buf := make([]byte, 2048)
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			if n == size {
				c.got.Add(1)
			}
		}
	})
	return c, nil
}

func (c *counter) close() {
	_ = c.conn.Close()
	c.wg.Wait()
}

// directFlow is the baseline: the same packets at the same pace from one plain UDP socket to
// another, no relay.
func directFlow(ctx context.Context, o turnOpts, rate float64) (flowResult, error) {
	rx, err := listenCounter(ctx, o.size)
	if err != nil {
		return flowResult{}, err
	}
	defer rx.close()
	var lc net.ListenConfig
	tx, err := lc.ListenPacket(ctx, "udp4", "127.0.0.1:0")
	if err != nil {
		return flowResult{}, err
	}
	defer func() { _ = tx.Close() }()
	payload, to := make([]byte, o.size), rx.conn.LocalAddr()
	return measure(ctx, o, rate, func() error {
		_, err := tx.WriteTo(payload, to)
		return err
	}, rx.got.Load)
}

// relayedFlow relays the packets through a TURN server in this process.
func relayedFlow(ctx context.Context, o turnOpts, rate float64, transport, direction string) (flowResult, error) {
	r, err := startTURNRig(ctx, transport, o.size)
	if err != nil {
		return flowResult{}, err
	}
	var f flowResult
	payload := make([]byte, o.size)
	switch direction {
	case "down": // the host sends to the relay address; the player gets ChannelData
		base, to := r.toClient.Load(), r.relay.LocalAddr()
		f, err = measure(ctx, o, rate, func() error {
			_, err := r.peer.conn.WriteTo(payload, to)
			return err
		}, func() int64 { return r.toClient.Load() - base })
	case "up": // the player sends ChannelData to the server; the host gets the payload
		frame := channelData(uint16(r.ch.Load()), payload)
		base, to := r.peer.got.Load(), r.srv.Addr()
		f, err = measure(ctx, o, rate, func() error {
			_, err := r.conn.WriteTo(frame, to)
			return err
		}, func() int64 { return r.peer.got.Load() - base })
	}
	return f, errors.Join(err, r.close(ctx))
}

// channelData frames payload as a TURN ChannelData message (RFC 8656 §12.4), padded to four
// bytes as TCP needs (harmless over UDP).
func channelData(ch uint16, payload []byte) []byte {
	b := make([]byte, 4+(len(payload)+3)&^3)
	binary.BigEndian.PutUint16(b, ch)
	binary.BigEndian.PutUint16(b[2:], uint16(len(payload)))
	copy(b[4:], payload)
	return b
}

// turnRig is a TURN server on loopback with one allocation: a pion client (the player) with a
// channel bound to a peer (the host). The client's socket is read here, not by pion: STUN
// messages go to pion (HandleInbound), ChannelData on the bound channel is only counted, so
// the client costs one read per packet, as the direct baseline's receiver does.
type turnRig struct {
	srv      *turn.Server
	peer     *counter       // the host: counts the payloads relayed to it
	conn     net.PacketConn // the client's socket to the server: UDP, or STUN framing over TCP
	cl       *pionturn.Client
	relay    net.PacketConn // the allocation
	ch       atomic.Uint32  // the channel bound to the peer; 0 until bound
	size     int
	toClient atomic.Int64 // payloads of size bytes the client got on the channel
	wg       sync.WaitGroup
}

// boundConn is what pion's relayed connection tells about its channels.
type boundConn interface {
	FindChannelNumberByAddr(net.Addr) (uint16, bool)
	IsChannelActive(uint16) bool
}

func startTURNRig(ctx context.Context, transport string, size int) (r *turnRig, err error) {
	quiet := slog.New(slog.DiscardHandler)
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)          // never fails
	srv, err := turn.New(turn.Config{ //nolint:contextcheck // the server outlives this call; close stops it
		Addr: "127.0.0.1:0", Secret: secret, AllowLoopbackPeers: true, Logger: quiet,
	})
	if err != nil {
		return nil, err
	}
	r = &turnRig{srv: srv, size: size}
	defer func() {
		if err != nil {
			_ = r.close(ctx)
			r = nil
		}
	}()
	if r.peer, err = listenCounter(ctx, size); err != nil {
		return r, err
	}
	addr := srv.Addr().String()
	switch transport {
	case "udp":
		var lc net.ListenConfig
		r.conn, err = lc.ListenPacket(ctx, "udp4", "127.0.0.1:0")
	case "tcp":
		var d net.Dialer
		var c net.Conn
		if c, err = d.DialContext(ctx, "tcp4", addr); err == nil {
			r.conn = pionturn.NewSTUNConn(c)
		}
	default:
		err = fmt.Errorf("unknown transport %q", transport)
	}
	if err != nil {
		return r, err
	}
	user, pass, err := turn.Credentials(secret, "edgebench", time.Hour, time.Now())
	if err != nil {
		return r, err
	}
	r.cl, err = pionturn.NewClient(&pionturn.ClientConfig{
		STUNServerAddr: addr, TURNServerAddr: addr, Conn: r.conn,
		Username: user, Password: pass, Realm: turn.DefaultRealm,
		LoggerFactory: pionlog.Factory{Logger: quiet},
	})
	if err != nil {
		return r, err
	}
	r.wg.Go(r.readClient)
	if r.relay, err = r.cl.Allocate(); err != nil {
		return r, fmt.Errorf("allocate: %w", err)
	}
	if err := r.bindPeer(ctx); err != nil {
		return r, err
	}
	return r, r.probe(ctx)
}

// bindPeer sends to the peer through the relay, as a browser's ICE checks do: pion creates
// the permission and binds a channel, and from then on both directions use ChannelData.
func (r *turnRig) bindPeer(ctx context.Context) error {
	bc, ok := r.relay.(boundConn)
	if !ok {
		return fmt.Errorf("pion's relayed connection %T does not report its channels", r.relay)
	}
	peer := r.peer.conn.LocalAddr()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := r.relay.WriteTo([]byte("hello"), peer); err != nil {
			return fmt.Errorf("permission for the peer: %w", err)
		}
		if ch, ok := bc.FindChannelNumberByAddr(peer); ok && bc.IsChannelActive(ch) {
			r.ch.Store(uint32(ch))
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("no channel bound to the peer within 5 s")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// probe checks that a packet from the peer reaches the client on the channel, and one from
// the client the peer.
func (r *turnRig) probe(ctx context.Context) error {
	payload := make([]byte, r.size)
	frame := channelData(uint16(r.ch.Load()), payload)
	down0, up0 := r.toClient.Load(), r.peer.got.Load()
	deadline := time.Now().Add(5 * time.Second)
	for r.toClient.Load() == down0 || r.peer.got.Load() == up0 {
		if _, err := r.peer.conn.WriteTo(payload, r.relay.LocalAddr()); err != nil {
			return err
		}
		if _, err := r.conn.WriteTo(frame, r.srv.Addr()); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return errors.New("no packet came through the relay within 5 s")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// readClient reads the client's socket until it is closed.
func (r *turnRig) readClient() {
	buf := make([]byte, 64<<10)
	for {
		n, from, err := r.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		b := buf[:n]
		if ch := r.ch.Load(); ch != 0 && len(b) >= 4 && uint32(binary.BigEndian.Uint16(b)) == ch {
			if int(binary.BigEndian.Uint16(b[2:])) == r.size {
				r.toClient.Add(1)
			}
			continue
		}
		_, _ = r.cl.HandleInbound(b, from) // STUN responses; errors are pion's to log
	}
}

// close deletes the allocation, closes the client, the sockets and the server, and waits for
// the read loops.
func (r *turnRig) close(ctx context.Context) error {
	if r.relay != nil {
		_ = r.relay.Close() // a Refresh with lifetime 0, not waited for
	}
	if r.cl != nil {
		r.cl.Close()
	}
	if r.conn != nil {
		_ = r.conn.Close()
	}
	r.wg.Wait()
	if r.peer != nil {
		r.peer.close()
	}
	// Closing must finish even when ctx has ended (an interrupted run).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return r.srv.Close(ctx)
}

func writeTURNReport(w io.Writer, o turnOpts, rows []*turnRow, machine, loadBefore, loadAfter string) {
	fmt.Fprintf(w, "## TURN relay: CPU per Mbit/s relayed\n\n")
	fmt.Fprintf(w, "%s\n\nLoad average (1, 5, 15 min) before: %s; after: %s.\n\n", machine, loadBefore, loadAfter)
	fmt.Fprintf(w, "Method: a turn.Server in this process on 127.0.0.1 (AllowLoopbackPeers), one allocation per "+
		"measurement by a pion/turn client over UDP or TCP; the client first sends to the peer through the relay, "+
		"as a browser's ICE checks do, so the server has a permission and a channel bound and the traffic is "+
		"ChannelData. %d-byte UDP payloads (Mbit/s counts payload; ChannelData adds 4 bytes) paced at the rate "+
		"for %s, direction %s. The same packets at the same pace between two plain UDP sockets, no relay, are the "+
		"baseline. CPU is getrusage(RUSAGE_SELF) user + system of the whole process, all threads, from the first "+
		"packet sent to the last one delivered (waiting at most %s after the last send), per second of sending. "+
		"Difference = relayed − direct, the smallest run of each; %% of a core per Mbit/s = difference ms/s ÷ 10 ÷ rate; "+
		"µs per packet = difference ÷ packets per second.\n\n",
		o.size, o.dur, dirWords(o.directions), turnDrain)

	fmt.Fprintf(w, "| Mbit/s | direction | transport | packets delivered | loss | CPU relayed ms/s (runs) | CPU direct ms/s (runs) "+
		"| difference ms/s | run-to-run spread ms/s | %% of a core per Mbit/s | µs per packet |\n")
	fmt.Fprintf(w, "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	var notes []string
	for _, r := range rows {
		c := r.cost(o.size)
		loss := 0.0
		if c.sent > 0 {
			loss = 100 * float64(c.sent-c.delivered) / float64(c.sent)
		}
		spread := "–"
		if !math.IsNaN(c.spread) {
			spread = fmt.Sprintf("%.1f", c.spread)
		}
		fmt.Fprintf(w, "| %g | %s | %s | %d/%d | %.2f%% | %s | %s | %.1f | %s | %.2f | %.2f |\n",
			r.rate, r.direction, r.transport, c.delivered, c.sent, loss, runsCell(r.relayed), runsCell(r.direct),
			c.diff, spread, c.pctPerMbit, c.usPerPacket)
		what := fmt.Sprintf("%g Mbit/s %s over %s", r.rate, r.direction, r.transport)
		switch {
		case c.withinNoise():
			notes = append(notes, fmt.Sprintf("%s: the difference (%.1f ms/s) is within run-to-run noise (spread %s ms/s): "+
				"the relay's cost is not resolved at this rate; measure longer (-seconds), more often (-runs) or at a higher rate.",
				what, c.diff, spread))
		case math.IsNaN(c.spread):
			notes = append(notes, fmt.Sprintf("%s: one run, so the noise is not known; at %.2f %% of a core per Mbit/s one core "+
				"would relay about %.0f Mbit/s (extrapolated linearly, not measured).", what, c.pctPerMbit, 100/c.pctPerMbit))
		default:
			notes = append(notes, fmt.Sprintf("%s: the difference (%.1f ms/s) is above the run-to-run spread (%s ms/s); at %.2f %% "+
				"of a core per Mbit/s one core would relay about %.0f Mbit/s (extrapolated linearly, not measured).",
				what, c.diff, spread, c.pctPerMbit, 100/c.pctPerMbit))
		}
	}
	fmt.Fprintf(w, "\nEverything runs in this one process: the peer (standing in for the session host), the relay and the "+
		"client (standing in for the player; it reads its socket itself and only checks each ChannelData header, no "+
		"per-packet pion parsing). So the difference is the relay's work (one more receive and send per packet, the "+
		"allocation's look-ups, edgeplay's byte counters) plus, over TCP, both ends of the TCP connection; on loopback "+
		"the kernel's delivery work is charged to this process either way. Runs are interleaved (every measurement of "+
		"run 1, then of run 2, …); the spread is the larger max − min of the relayed and the direct runs.\n\n")
	for _, n := range notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
}

func dirWords(dirs []string) string {
	var ws []string
	for _, d := range dirs {
		switch d {
		case "down":
			ws = append(ws, "down (peer, the host, sends to the relay address; the client, the player, reads: how media flows)")
		case "up":
			ws = append(ws, "up (the client sends ChannelData; the peer reads)")
		}
	}
	return strings.Join(ws, " and ")
}

// runsCell is "12.3 / 11.8": CPU ms/s of each run.
func runsCell(fs []flowResult) string {
	var s []string
	for _, f := range fs {
		s = append(s, fmt.Sprintf("%.1f", f.cpuPerSec()))
	}
	return strings.Join(s, " / ")
}
