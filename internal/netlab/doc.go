// Package netlab builds emulated network links on this machine for tests: Linux network
// namespaces joined by veth pairs, a token bucket (tc tbf) for each direction's rate, random
// UDP loss with nftables, and optionally a router namespace doing 1:1 NAT. It needs root and
// the ip, tc and nft programs (`make test` installs iproute2 and nftables). The kernel has no
// netem, so the lab adds no fixed delay: only the delay of a full rate-limiter queue.
//
// # Topology
//
// The test process is the player side and stays in the root namespace, with the headless
// chromium it starts (chromedp talks to it over 127.0.0.1). The host side is a namespace the
// lab creates, whose one link is eth0. n is a free subnet number (1…254) the lab picks:
//
//	direct:  root ns epPID-SEQ 10.77.n.2 (PlayerIP) ⟷ host ns eth0 10.77.n.1 (HostIP = PublicIP)
//
//	NAT:     root ns epPID-SEQ 198.18.n.2 (PlayerIP) ⟷ router wan 198.18.n.1 (PublicIP)
//	         router lan 10.77.n.2 ⟷ host ns eth0 10.77.n.1 (HostIP)
//
// In NAT mode the router maps PublicIP to HostIP 1:1: it DNATs whatever arrives for PublicIP
// to HostIP and SNATs what the host sends out to PublicIP (conntrack handles replies), so a
// host given --public-ip PublicIP is reachable there although PublicIP is not one of its own
// addresses; the host sees the player's real address. The host's default route leads back
// to the root namespace, so it reaches any root address; the root namespace routes only
// the lab link's /24, never the host's private subnet.
//
// # Use from a test
//
//	lab := netlab.New(t, netlab.Options{NAT: true}) // skips when not root; closed at cleanup
//	ln, _ := net.Listen("tcp", net.JoinHostPort(lab.PlayerIP.String(), "0")) // NATS, gateway
//	cmd := lab.Command(ctx, "./bin/edgeplay", "host", "--public-ip", lab.PublicIP.String(), …)
//	// or in process: sockets created inside Do belong to the host namespace
//	lab.Do(func() error { mux, err = ice.NewMultiUDPMuxFromPort(8443); return err })
//	lab.Shape(netlab.ToPlayer, netlab.Shape{RateKbit: 3000, LossPermille: 20})
//	st, _ := lab.Stats(netlab.ToPlayer) // QueueDrops, LossDrops: did the shaping act?
//
// Shape can be called at any time to step a direction's rate or loss mid-session. The rate
// limiter sits on the egress of the lab link's sending end, the loss on the ingress of its
// receiving end, so no sender ever sees an error for a dropped packet (a netfilter drop on a
// local sender's output path would fail its sendmsg with EPERM; a full qdisc's ENOBUFS is
// hidden from UDP sockets). Only UDP is lost at random; TCP (NATS, HTTP) only queues. The
// loss counter runs from Open; the rate limiter's counters restart when the limit is
// installed again after being removed.
//
// # Caveats
//
//   - Services the host must reach (NATS, the gateway) must listen on PlayerIP or 0.0.0.0:
//     the host namespace has its own loopback.
//   - Do switches one locked OS thread: goroutines started inside fn, and sockets opened
//     later by other goroutines (a pion agent gathering on its own, a NATS reconnect), are in
//     the root namespace. A subprocess through Command is the faithful way to run a host.
//   - By default DAD is off on the lab's interfaces and New waits until no address is
//     tentative. With Options.KeepDAD the host's fe80:: address stays tentative for one to two
//     seconds after New (kernel defaults); binding it fails with EADDRNOTAVAIL (so does
//     pion's ice.NewMultiUDPMuxFromPort, which binds every interface address), while binding
//     the wildcard address works. WaitDAD waits until DAD is over.
//   - Close removes the namespaces, links, qdiscs and nft tables; processes started with
//     Command should be stopped first. A lab whose process died is removed by the next Open
//     on the machine: every name the lab creates in the root namespace carries its pid
//     (eplab-PID-SEQ-h, eplab-PID-SEQ-r, epPID-SEQ, nft table inet eplab_PID_SEQ).
//   - Labs in parallel tests and parallel test processes get different names and subnets
//     (creation is serialised by a lock file, /run/edgeplay-netlab.lock).
package netlab
