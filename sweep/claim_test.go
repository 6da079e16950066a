package sweep

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testClaimer is a worker on its own (pretend) host, so claimers in one test process see each
// other as other machines and only the heartbeat decides staleness.
func testClaimer(t *testing.T, host string, timeout, beat time.Duration) *Claimer {
	t.Helper()
	c, err := NewClaimer("0/1", timeout, beat)
	if err != nil {
		t.Fatal(err)
	}
	c.Host = host
	return c
}

// age sets a claim's heartbeat (modification time) d in the past.
func age(t *testing.T, path string, d time.Duration) {
	t.Helper()
	old := time.Now().Add(-d)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
}

func writeClaim(t *testing.T, dir string, info ClaimInfo) {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	b, _ := json.Marshal(info)
	if err := os.WriteFile(filepath.Join(dir, ClaimFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestClaimExclusiveAndRelease(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "runs", "baseline", "1")
	a := testClaimer(t, "host-a", time.Minute, time.Second)
	b := testClaimer(t, "host-b", time.Minute, time.Second)
	cl, _, err := a.Acquire(dir)
	if err != nil || cl == nil || cl.Previous != nil {
		t.Fatalf("first claim: %v %v", cl, err)
	}
	var info ClaimInfo
	raw, _ := os.ReadFile(filepath.Join(dir, ClaimFile))
	if json.Unmarshal(raw, &info) != nil || info.Host != "host-a" || info.PID != os.Getpid() || info.Token == "" || info.Started == "" {
		t.Errorf("claim file %s", raw)
	}
	got, holder, err := b.Acquire(dir)
	if err != nil || got != nil || holder == nil || holder.Token != cl.Info.Token || !strings.Contains(holder.String(), "host-a") {
		t.Fatalf("second worker: claim %v holder %v err %v", got, holder, err)
	}
	if s, _ := b.Stale(dir); s {
		t.Error("a fresh claim is stale")
	}
	if err := cl.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ClaimFile)); !os.IsNotExist(err) {
		t.Errorf("released claim still there: %v", err)
	}
	if got, _, err := b.Acquire(dir); err != nil || got == nil {
		t.Errorf("claim after release: %v %v", got, err)
	}
	if _, err := NewClaimer("0/1", time.Second, time.Second); err == nil {
		t.Error("timeout not above the heartbeat: no error")
	}
}

func TestClaimStaleTakeover(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ClaimFile)
	a := testClaimer(t, "host-a", time.Minute, time.Second)
	b := testClaimer(t, "host-b", time.Minute, time.Second)
	cl, _, _ := a.Acquire(dir)

	age(t, path, 50*time.Second) // old, but within the timeout: still held
	if got, holder, _ := b.Acquire(dir); got != nil || holder == nil {
		t.Fatalf("claim 50s old taken over (timeout 1m): %v", got)
	}
	age(t, path, 2*time.Minute)
	if s, why := b.Stale(dir); !s || !strings.Contains(why, "heartbeat is 2m0s old") {
		t.Errorf("Stale = %v %q", s, why)
	}
	got, _, err := b.Acquire(dir)
	if err != nil || got == nil || got.Previous == nil || got.Previous.Token != cl.Info.Token {
		t.Fatalf("takeover of a stale claim: %v %v", got, err)
	}
	if s, _ := b.Stale(dir); s {
		t.Error("the new claim is stale")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("folder holds %v, want the claim alone (no lock or temporary files)", entries)
	}
	// The old holder, if it was alive after all, does not remove the new claim on release.
	if err := cl.Release(); err != nil {
		t.Fatal(err)
	}
	if now, _, err := readClaim(path); err != nil || now.Token != got.Info.Token {
		t.Errorf("after the old holder's release: %v %v", now, err)
	}

	// An unreadable claim counts as held until its heartbeat is stale.
	os.WriteFile(path, []byte("garbage"), 0o644)
	if got, holder, _ := a.Acquire(dir); got != nil || holder == nil || !strings.Contains(holder.String(), "unknown worker") {
		t.Errorf("fresh unreadable claim: %v %v", got, holder)
	}
	age(t, path, 2*time.Minute)
	if got, _, err := a.Acquire(dir); err != nil || got == nil {
		t.Errorf("stale unreadable claim: %v %v", got, err)
	}
}

func TestClaimDeadProcessOnThisHost(t *testing.T) {
	c, err := NewClaimer("0/1", time.Hour, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid

	dir := t.TempDir()
	writeClaim(t, dir, ClaimInfo{Host: c.Host, PID: dead, PIDNamespace: c.PIDNamespace, Token: "t1"})
	if s, why := c.Stale(dir); !s || !strings.Contains(why, "is gone") {
		t.Errorf("claim of exited pid %d: stale %v %q", dead, s, why)
	}
	// Same pid number on another host (or pid namespace): cannot be checked, so held.
	writeClaim(t, dir, ClaimInfo{Host: "elsewhere", PID: dead, Token: "t2"})
	if s, _ := c.Stale(dir); s {
		t.Error("a dead pid on another host judged stale")
	}
	writeClaim(t, dir, ClaimInfo{Host: c.Host, PID: dead, PIDNamespace: "pid:[1]", Token: "t3"})
	if s, _ := c.Stale(dir); s && c.PIDNamespace != "pid:[1]" {
		t.Error("a dead pid in another pid namespace judged stale")
	}
	// A live process (the test's parent) holds its claim.
	writeClaim(t, dir, ClaimInfo{Host: c.Host, PID: os.Getppid(), PIDNamespace: c.PIDNamespace, Token: "t4"})
	if s, _ := c.Stale(dir); s {
		t.Error("a live process's claim judged stale")
	}
	// This process's pid but a claim it does not hold: an earlier process with the same pid.
	writeClaim(t, dir, ClaimInfo{Host: c.Host, PID: os.Getpid(), PIDNamespace: c.PIDNamespace, Token: "t5"})
	if s, why := c.Stale(dir); !s || !strings.Contains(why, "earlier process") {
		t.Errorf("own pid, not held: %v %q", s, why)
	}
	cl, _, err := c.Acquire(dir)
	if err != nil || cl == nil || cl.Previous.Token != "t5" {
		t.Fatalf("takeover: %v %v", cl, err)
	}
	if s, _ := c.Stale(dir); s {
		t.Error("own held claim judged stale")
	}
}

// TestClaimRacingTakeover has many workers find one stale claim at once: exactly one takes it.
func TestClaimRacingTakeover(t *testing.T) {
	for round := range 20 {
		dir := t.TempDir()
		writeClaim(t, dir, ClaimInfo{Host: "dead-host", PID: 1, Token: "old"})
		age(t, filepath.Join(dir, ClaimFile), time.Hour)
		var wins atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w := range 8 {
			c := testClaimer(t, "host-"+string(rune('a'+w)), time.Minute, time.Second)
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				cl, _, err := c.Acquire(dir)
				if err != nil {
					t.Error(err)
				}
				if cl != nil {
					wins.Add(1)
				}
			}()
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("round %d: %d workers took the stale claim over", round, wins.Load())
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Fatalf("round %d: folder holds %v", round, entries)
		}
	}
}

// TestClaimAbandonedTakeoverLock: a worker that died during a takeover leaves its lock; once
// that is older than the timeout the next worker uses the next generation.
func TestClaimAbandonedTakeoverLock(t *testing.T) {
	dir := t.TempDir()
	writeClaim(t, dir, ClaimInfo{Host: "dead-host", PID: 1, Token: "old"})
	age(t, filepath.Join(dir, ClaimFile), time.Hour)
	lock := filepath.Join(dir, ClaimFile+".takeover-old.1")
	os.WriteFile(lock, nil, 0o644)
	c := testClaimer(t, "host-a", time.Minute, time.Second)
	if cl, _, _ := c.Acquire(dir); cl != nil {
		t.Fatal("took over while a fresh takeover lock exists")
	}
	age(t, lock, time.Hour)
	if cl, _, err := c.Acquire(dir); err != nil || cl == nil {
		t.Fatalf("after the lock was abandoned: %v %v", cl, err)
	}
}

func TestClaimHeartbeat(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ClaimFile)
	a := testClaimer(t, "host-a", time.Second, 20*time.Millisecond)
	cl, _, _ := a.Acquire(dir)
	lost := make(chan struct{})
	cl.StartHeartbeat(func() { close(lost) })
	age(t, path, time.Hour)
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, _ := os.Stat(path)
		if time.Since(st.ModTime()) < time.Minute {
			break // touched
		}
		if time.Now().After(deadline) {
			t.Fatal("the heartbeat did not touch the claim")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Another worker replaces the claim (as a takeover would): the holder learns it lost it.
	writeClaim(t, dir, ClaimInfo{Host: "host-b", PID: 2, Token: "theirs"})
	select {
	case <-lost:
	case <-time.After(5 * time.Second):
		t.Fatal("a lost claim was not noticed")
	}
	cl.Release()
	if now, _, err := readClaim(path); err != nil || now.Token != "theirs" {
		t.Errorf("release removed another worker's claim: %v %v", now, err)
	}
}

// TestClaimCheckIsSticky: once Check has found the claim taken over, it keeps saying so, even if
// the claim file later reads as this process's again or not at all.
func TestClaimCheckIsSticky(t *testing.T) {
	dir := t.TempDir()
	a := testClaimer(t, "host-a", time.Minute, time.Second)
	cl, _, err := a.Acquire(dir)
	if err != nil || cl == nil {
		t.Fatal(err)
	}
	if err := cl.Check(); err != nil {
		t.Fatalf("a fresh claim: %v", err)
	}
	writeClaim(t, dir, ClaimInfo{Host: "host-b", PID: 2, Token: "theirs"})
	if err := cl.Check(); !errors.Is(err, ErrClaimLost) || !strings.Contains(err.Error(), "host-b") {
		t.Fatalf("after a takeover: %v, want ErrClaimLost naming host-b", err)
	}
	writeClaim(t, dir, cl.Info)
	if err := cl.Check(); !errors.Is(err, ErrClaimLost) {
		t.Errorf("a lost claim read back as held: %v", err)
	}
}
