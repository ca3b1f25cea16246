package media

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/edgeplay/edgeplay/internal/pionlog"
)

func TestNATRules(t *testing.T) {
	addrs := func(s ...string) []netip.Addr {
		var out []netip.Addr
		for _, a := range s {
			out = append(out, netip.MustParseAddr(a))
		}
		return out
	}
	tests := []struct {
		name      string
		publics   []string
		bound     []netip.Addr
		wantLocal []string // per rule; nil with wantErr
		wantErr   string
	}{
		{"pinned", []string{"203.0.113.7/10.0.0.5"}, addrs("127.0.0.1", "10.0.0.5", "10.1.0.5"), []string{"10.0.0.5"}, ""},
		{"the one address bound", []string{"203.0.113.7"}, addrs("10.0.0.5"), []string{"10.0.0.5"}, ""},
		{"the one non-loopback address", []string{"203.0.113.7"}, addrs("127.0.0.1", "10.0.0.5", "fe80::1", "::1"), []string{"10.0.0.5"}, ""},
		{"IPv6 maps to IPv6", []string{"2001:db8::7"}, addrs("10.0.0.5", "2001:db8:1::5", "fe80::1"), []string{"2001:db8:1::5"}, ""},
		{"two of each", []string{"203.0.113.7/10.0.0.5", "2001:db8::7/2001:db8:1::5"}, addrs("10.0.0.5", "2001:db8:1::5"), []string{"10.0.0.5", "2001:db8:1::5"}, ""},
		{"ambiguous", []string{"198.51.100.9"}, addrs("10.0.0.5", "10.1.0.5"), nil, "PUBLIC/LOCAL"},
		{"not an address", []string{"gw.example.com"}, addrs("10.0.0.5"), nil, "not an IP address"},
		{"bad local part", []string{"203.0.113.7/eth0"}, addrs("10.0.0.5"), nil, "local part"},
		{"pinned to an address not bound", []string{"203.0.113.7/10.0.0.6"}, addrs("10.0.0.5"), nil, "not one of the addresses"},
		{"pinned across IP versions", []string{"2001:db8::7/10.0.0.5"}, addrs("10.0.0.5"), nil, "one IP version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := natRules(tt.publics, tt.bound)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want ErrConfig mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(rules) != len(tt.wantLocal) {
				t.Fatalf("%d rules, want %d", len(rules), len(tt.wantLocal))
			}
			for i, r := range rules {
				pub, _, _ := strings.Cut(tt.publics[i], "/")
				if r.Local != tt.wantLocal[i] || len(r.External) != 1 || r.External[0] != pub {
					t.Errorf("rule %d: %+v, want %s → %s", i, r, tt.wantLocal[i], pub)
				}
			}
		})
	}
}

func TestListenUDP(t *testing.T) {
	plog := pionlog.Factory{Logger: slog.Default()}
	u, err := listenUDP("127.0.0.1:0", slog.Default(), plog)
	if err != nil {
		t.Fatal(err)
	}
	if u.port == 0 || len(u.local) != 1 || u.local[0] != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("bound %v port %d", u.local, u.port)
	}
	_ = u.close()

	// Every interface address, one port.
	u, err = listenUDP(":0", slog.Default(), plog)
	if err != nil {
		t.Fatal(err)
	}
	defer u.close()
	if u.port == 0 || !containsAddr(u.local, netip.MustParseAddr("127.0.0.1")) {
		t.Errorf("bound %v port %d, want loopback among them", u.local, u.port)
	}
	for _, a := range u.mux.GetListenAddresses() {
		if !strings.HasSuffix(a.String(), ":"+strconv.Itoa(u.port)) {
			t.Errorf("socket %s is not on the shared port %d", a, u.port)
		}
	}

	// A port another socket holds on one of the addresses is an error, not a skipped address.
	taken, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	if _, err := listenUDP(":"+strconv.Itoa(taken.LocalAddr().(*net.UDPAddr).Port), slog.Default(), plog); err == nil ||
		!errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("binding every address on a port 127.0.0.1 already holds: %v, want EADDRINUSE", err)
	}

	for _, bad := range []string{"8443", "host.example:8443", "127.0.0.1:x", "127.0.0.1:70000"} {
		if _, err := listenUDP(bad, slog.Default(), plog); !errors.Is(err, ErrConfig) {
			t.Errorf("listenUDP(%q) = %v, want ErrConfig", bad, err)
		}
	}
}

func containsAddr(as []netip.Addr, a netip.Addr) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}

func TestParseCodecs(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{"h264,vp8", "h264,vp8", ""},
		{" VP8 , h264 ", "vp8,h264", ""},
		{"vp8", "vp8", ""},
		{"h264,h264", "", "twice"},
		{"av1", "", "unknown codec"},
		{"", "", "unknown codec"},
	}
	for _, tt := range tests {
		cs, err := ParseCodecs(tt.in)
		if tt.wantErr != "" {
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseCodecs(%q) err %v, want ErrConfig mentioning %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || codecNames(cs) != tt.want {
			t.Errorf("ParseCodecs(%q) = %s, %v; want %s", tt.in, codecNames(cs), err, tt.want)
		}
	}
}
