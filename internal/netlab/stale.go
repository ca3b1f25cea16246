package netlab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Names of what a lab creates outside its own namespaces carry the creating pid, so that a
// later lab can remove the leftovers of a process that died without Close: namespaces
// "eplab-PID-SEQ-h" (host) and "eplab-PID-SEQ-r" (router), the root end of the link
// "epPID-SEQ" (at most 15 characters), and the root nft table "inet eplab_PID_SEQ".
const (
	nsPrefix    = "eplab-"
	ifPrefix    = "ep"
	tablePrefix = "eplab_"
)

var (
	staleNS    = regexp.MustCompile(`^eplab-(\d+)-\d+-[hr]$`)
	staleIf    = regexp.MustCompile(`^ep(\d+)-\d+$`)
	staleTable = regexp.MustCompile(`^eplab_(\d+)_\d+$`)
)

// lockPath serialises lab creation across test processes (go test runs packages in parallel).
const lockPath = "/run/edgeplay-netlab.lock"

// lockLabs takes the machine-wide lab lock and returns its release.
func lockLabs() (func(), error) {
	f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("netlab: lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("netlab: lock: %w", err)
	}
	return func() { f.Close() }, nil // closing the file releases the lock
}

// alive reports whether process pid exists. A reused pid keeps a leftover until that process
// ends too, which errs on the safe side.
func alive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// staleName reports whether name matches re and its pid is dead.
func staleName(re *regexp.Regexp, name string) bool {
	m := re.FindStringSubmatch(name)
	if m == nil {
		return false
	}
	pid, err := strconv.Atoi(m[1])
	return err == nil && pid != os.Getpid() && !alive(pid)
}

// cleanStale removes namespaces, root links and root nft tables left by labs whose process
// is dead. Call it with the lab lock held.
func cleanStale(ctx context.Context) error {
	out, err := run(ctx, "", "", "ip", "netns", "list")
	if err != nil {
		return err
	}
	for _, name := range firstFields(out) {
		if staleName(staleNS, name) {
			if _, err := run(ctx, "", "", "ip", "netns", "del", name); err != nil && !notFound(err) {
				return err
			}
		}
	}
	out, err = run(ctx, "", "", "ip", "-j", "link", "show")
	if err != nil {
		return err
	}
	var links []struct{ Ifname string }
	if err := json.Unmarshal(out, &links); err != nil {
		return fmt.Errorf("netlab: parse ip output: %w", err)
	}
	for _, link := range links {
		if staleName(staleIf, link.Ifname) {
			if _, err := run(ctx, "", "", "ip", "link", "del", link.Ifname); err != nil && !notFound(err) {
				return err
			}
		}
	}
	out, err = run(ctx, "", "", "nft", "list", "tables", "inet")
	if err != nil {
		return err
	}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line) // "table inet NAME"
		if len(f) == 3 && staleName(staleTable, f[2]) {
			if _, err := run(ctx, "", "", "nft", "delete", "table", "inet", f[2]); err != nil && !notFound(err) {
				return err
			}
		}
	}
	return nil
}

func firstFields(out []byte) []string {
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

// freeSubnet picks n in 1…254 such that neither 10.77.n.0/24 nor 198.18.n.0/24 overlaps a
// route or address of the root namespace. Call it with the lab lock held.
func freeSubnet(ctx context.Context) (int, error) {
	var used []netip.Prefix
	out, err := run(ctx, "", "", "ip", "-j", "-4", "route", "show", "table", "all")
	if err != nil {
		return 0, err
	}
	var routes []struct{ Dst string }
	if err := json.Unmarshal(out, &routes); err != nil {
		return 0, fmt.Errorf("netlab: parse ip output: %w", err)
	}
	for _, r := range routes {
		if p, ok := parsePrefix(r.Dst); ok {
			used = append(used, p)
		}
	}
	out, err = run(ctx, "", "", "ip", "-j", "-4", "addr", "show")
	if err != nil {
		return 0, err
	}
	var links []struct {
		AddrInfo []struct {
			Local     string
			Prefixlen int
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		return 0, fmt.Errorf("netlab: parse ip output: %w", err)
	}
	for _, link := range links {
		for _, a := range link.AddrInfo {
			if p, ok := parsePrefix(a.Local + "/" + strconv.Itoa(a.Prefixlen)); ok {
				used = append(used, p.Masked())
			}
		}
	}
	start := os.Getpid() % 254
	for i := range 254 {
		n := (start+i)%254 + 1
		if !overlapsAny(privateNet(n), used) && !overlapsAny(outsideNet(n), used) {
			return n, nil
		}
	}
	return 0, fmt.Errorf("netlab: no free subnet in 10.77.0.0/16 and 198.18.0.0/16")
}

// parsePrefix parses an `ip route` destination ("default" is skipped: it overlaps everything).
func parsePrefix(s string) (netip.Prefix, bool) {
	if s == "" || s == "default" {
		return netip.Prefix{}, false
	}
	if !strings.Contains(s, "/") {
		s += "/32"
	}
	p, err := netip.ParsePrefix(s)
	return p, err == nil
}

func overlapsAny(p netip.Prefix, used []netip.Prefix) bool {
	for _, u := range used {
		if u.Overlaps(p) {
			return true
		}
	}
	return false
}
