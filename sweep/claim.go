package sweep

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"rout/internal/atomicfile"
	"rout/internal/boundedio"
	"rout/runlog"
)

// ClaimFile is the file in a run folder that says a worker is training that run (its name is
// runlog's, which the report reads).
const ClaimFile = runlog.ClaimFile

// Claim timing defaults: a held claim's modification time is touched every DefaultHeartbeat;
// one untouched for DefaultClaimTimeout belongs to a dead worker. The timeout must exceed any
// stall a live worker can have (a slow shared filesystem, a suspended job) and the clock skew
// between machines sharing the folder.
const (
	DefaultHeartbeat    = 30 * time.Second
	DefaultClaimTimeout = 5 * time.Minute
)

// ClaimInfo is the content of a claim file: who holds the run.
type ClaimInfo struct {
	Host string `json:"host"`
	PID  int    `json:"pid"`
	// PIDNamespace tells apart processes on one host name in different pid namespaces
	// (containers sharing the host's name), whose pids cannot be checked from each other.
	PIDNamespace string `json:"pid_namespace,omitempty"`
	Worker       string `json:"worker"` // a sweep worker's shard, I/N, or what else holds it ("rout train")
	Started      string `json:"started"`
	Token        string `json:"token"` // unique to this claim
}

func (i ClaimInfo) String() string {
	if i.Token == "" {
		return "an unknown worker (unreadable claim)"
	}
	who := i.Worker
	if _, err := ParseShard(who); err == nil {
		who = "shard " + who
	}
	return fmt.Sprintf("pid %d on %s (%s, since %s)", i.PID, i.Host, who, i.Started)
}

// Claimer claims runs for one worker process. Use one per process: it knows which claims the
// process holds, so that a claim with this process's host and pid that it does not hold (left
// by an earlier process that had the same pid, as in a restarted container) counts as dead.
type Claimer struct {
	Host         string
	PID          int
	PIDNamespace string
	Worker       string
	Timeout      time.Duration // a claim untouched this long is stale
	Heartbeat    time.Duration // how often a held claim is touched

	mu   sync.Mutex
	held map[string]bool // tokens of the claims this process holds
}

// NewClaimer is a claimer for this process, as worker (its shard), with the given timings.
func NewClaimer(worker string, timeout, heartbeat time.Duration) (*Claimer, error) {
	if heartbeat <= 0 || timeout < 2*heartbeat {
		return nil, fmt.Errorf("claims: timeout %v must be at least twice the heartbeat %v (which must be positive): a live worker's claim is up to one heartbeat old", timeout, heartbeat)
	}
	host, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("claims: host name: %w", err)
	}
	ns, _ := os.Readlink("/proc/self/ns/pid") // Linux; elsewhere empty, and the host name alone decides
	return &Claimer{Host: host, PID: os.Getpid(), PIDNamespace: ns, Worker: worker, Timeout: timeout, Heartbeat: heartbeat}, nil
}

// Claim is a claim this worker holds. Release it when the run ends.
type Claim struct {
	Path string
	Info ClaimInfo
	// Previous is the dead worker's claim this one took over, nil for a fresh claim.
	Previous *ClaimInfo
	c        *Claimer
	stop     chan struct{}
	done     chan struct{}
	lost     atomic.Pointer[error] // set once Check finds the claim lost
}

// Acquire claims the run in folder dir (which it creates). It returns the claim, or nil and the
// live holder's info when another worker holds the run. A claim file is created exclusively
// (see atomicfile.Create), so of workers racing for a free run exactly one gets it. A stale claim (its
// heartbeat older than Timeout, or its process gone from this host) is taken over: see
// takeOver for why two workers cannot both take it.
func (c *Claimer) Acquire(dir string) (*Claim, *ClaimInfo, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("claim %s: %w", dir, err)
	}
	path := filepath.Join(dir, ClaimFile)
	for attempt := 0; attempt < 5; attempt++ {
		info, err := c.newInfo()
		if err != nil {
			return nil, nil, err
		}
		b, _ := json.Marshal(info)
		c.hold(info.Token)
		err = atomicfile.Create(path, append(b, '\n'))
		if err == nil {
			return &Claim{Path: path, Info: info, c: c}, nil, nil
		}
		c.drop(info.Token)
		if !errors.Is(err, fs.ErrExist) {
			return nil, nil, fmt.Errorf("claim %s: %w", path, err)
		}
		old, mtime, err := readClaim(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue // released meanwhile: try again
		}
		if err != nil {
			return nil, nil, err
		}
		if stale, _ := c.stale(old, mtime); !stale {
			return nil, &old, nil
		}
		cl, err := c.takeOver(dir, old, mtime)
		if err != nil || cl != nil {
			return cl, nil, err
		}
		// Another worker took it over, or its holder turned out alive: look again.
	}
	old, _, err := readClaim(path)
	if err != nil {
		return nil, nil, err
	}
	return nil, &old, nil
}

// Stale reports whether the run in dir has a claim whose worker is dead, and says why.
func (c *Claimer) Stale(dir string) (bool, string) {
	old, mtime, err := readClaim(filepath.Join(dir, ClaimFile))
	if err != nil {
		return false, ""
	}
	return c.stale(old, mtime)
}

// stale decides whether a claim read with modification time mtime belongs to a dead worker.
func (c *Claimer) stale(old ClaimInfo, mtime time.Time) (bool, string) {
	if age := time.Since(mtime); age > c.Timeout {
		return true, fmt.Sprintf("its heartbeat is %s old (timeout %s)", age.Round(time.Second), c.Timeout)
	}
	if old.Token == "" || old.Host != c.Host || old.PIDNamespace != c.PIDNamespace {
		return false, ""
	}
	if old.PID == c.PID && !c.holding(old.Token) {
		return true, fmt.Sprintf("it was left by an earlier process with this one's pid %d", c.PID)
	}
	if old.PID != c.PID && !pidAlive(old.PID) {
		return true, fmt.Sprintf("its process %d on this host is gone", old.PID)
	}
	return false, ""
}

// takeOver replaces the stale claim old (read with modification time mtime) with a claim of
// this worker. Renaming a new claim over the old one is atomic but not exclusive: two workers
// that both judged the claim stale could both rename. So the right to replace this particular
// claim is itself taken exclusively first, by creating the lock file claim.takeover-TOKEN.GEN
// named after the old claim's token; its holder re-reads the claim and replaces it only if it
// is still the same stale claim. A lock left by a worker that died during the takeover (older
// than Timeout; a takeover takes milliseconds) is skipped for the next generation rather than
// removed, since removing it would race. It returns nil, nil when another worker is taking the
// claim over, took it, or the old holder proved alive.
func (c *Claimer) takeOver(dir string, old ClaimInfo, mtime time.Time) (*Claim, error) {
	path := filepath.Join(dir, ClaimFile)
	key := old.Token
	if key == "" {
		key = "unreadable-" + strconv.FormatInt(mtime.UnixNano(), 10)
	}
	for gen := 1; gen <= 100; gen++ {
		lock := filepath.Join(dir, fmt.Sprintf("%s.takeover-%s.%d", ClaimFile, key, gen))
		f, err := os.OpenFile(lock, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if errors.Is(err, fs.ErrExist) {
			if st, err := os.Stat(lock); err == nil && time.Since(st.ModTime()) > c.Timeout {
				continue
			}
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("claim %s: takeover lock: %w", path, err)
		}
		f.Close()
		defer os.Remove(lock)

		now, nowMtime, err := readClaim(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		nowKey := now.Token
		if nowKey == "" {
			nowKey = "unreadable-" + strconv.FormatInt(nowMtime.UnixNano(), 10)
		}
		if nowKey != key {
			return nil, nil
		}
		if stale, _ := c.stale(now, nowMtime); !stale {
			return nil, nil
		}
		info, err := c.newInfo()
		if err != nil {
			return nil, err
		}
		c.hold(info.Token)
		if err := writeReplace(path, info); err != nil {
			c.drop(info.Token)
			return nil, fmt.Errorf("claim %s: takeover: %w", path, err)
		}
		prev := now
		return &Claim{Path: path, Info: info, Previous: &prev, c: c}, nil
	}
	return nil, fmt.Errorf("claim %s: 100 abandoned takeover locks (%s.takeover-*): remove them", path, ClaimFile)
}

// Watch starts the heartbeat and returns a context derived from ctx that is cancelled, with
// the cause ErrClaimLost, if the claim is lost: the context to run the claimed run under.
// Call cancel when the run ends.
func (cl *Claim) Watch(ctx context.Context) (_ context.Context, cancel func()) {
	runCtx, cancelCause := context.WithCancelCause(ctx)
	cl.StartHeartbeat(func() { cancelCause(ErrClaimLost) })
	return runCtx, func() { cancelCause(nil) }
}

// StartHeartbeat touches the claim every Heartbeat until Release. If the claim stops being
// this worker's (another worker judged it stale and took it over), lost is called once, so
// that the run stops rather than two workers writing one folder.
func (cl *Claim) StartHeartbeat(lost func()) {
	cl.stop, cl.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(cl.done)
		t := time.NewTicker(cl.c.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-cl.stop:
				return
			case <-t.C:
			}
			if cl.Check() != nil {
				lost()
				return
			}
			if _, err := os.Stat(cl.Path); err == nil {
				tm := time.Now()
				os.Chtimes(cl.Path, tm, tm) // a failed touch (a filesystem hiccup) is retried next beat
			}
		}
	}()
}

// ErrClaimLost is the error of Check, and the cause of a run's cancellation, when another
// worker took a claim over.
var ErrClaimLost = errors.New("this process's claim on the run was taken over by another process (was it stalled past the claim timeout?)")

// Check returns an error wrapping ErrClaimLost, naming the new holder, when the claim is no longer
// this worker's: another worker holds it, or none does (it took the run over and finished).
// A claim it cannot read for another reason (a filesystem hiccup) counts as still held.
// Once lost, a claim stays lost: a later read error must not let a stopped run write again.
func (cl *Claim) Check() error {
	if lost := cl.lost.Load(); lost != nil {
		return *lost
	}
	now, _, err := readClaim(cl.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		err = fmt.Errorf("%w; no process holds it now", ErrClaimLost)
	case err == nil && now.Token != cl.Info.Token:
		err = fmt.Errorf("%w: now held by %s", ErrClaimLost, now)
	default:
		return nil
	}
	cl.lost.CompareAndSwap(nil, &err)
	return *cl.lost.Load()
}

// Release stops the heartbeat and removes the claim if it is still this worker's.
func (cl *Claim) Release() error {
	if cl.stop != nil {
		close(cl.stop)
		<-cl.done
		cl.stop = nil
	}
	defer cl.c.drop(cl.Info.Token)
	now, _, err := readClaim(cl.Path)
	if err != nil || now.Token != cl.Info.Token {
		return nil // taken over (the heartbeat said so) or already gone
	}
	if err := os.Remove(cl.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("claim %s: release: %w", cl.Path, err)
	}
	return nil
}

func (c *Claimer) newInfo() (ClaimInfo, error) {
	var tok [12]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return ClaimInfo{}, fmt.Errorf("claims: token: %w", err)
	}
	return ClaimInfo{Host: c.Host, PID: c.PID, PIDNamespace: c.PIDNamespace, Worker: c.Worker,
		Started: time.Now().UTC().Format(time.RFC3339), Token: hex.EncodeToString(tok[:])}, nil
}

func (c *Claimer) hold(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held == nil {
		c.held = map[string]bool{}
	}
	c.held[tok] = true
}

func (c *Claimer) drop(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.held, tok)
}

func (c *Claimer) holding(tok string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held[tok]
}

// readClaim reads a claim file and its modification time (the heartbeat). A file that does
// not parse (written by hand, or damaged) gives an empty Token: it still counts as held until
// its heartbeat is stale.
func readClaim(path string) (ClaimInfo, time.Time, error) {
	st, err := os.Stat(path)
	if err != nil {
		return ClaimInfo{}, time.Time{}, fmt.Errorf("claim: %w", err)
	}
	b, err := boundedio.ReadFile(path, runlog.MaxJSONFile)
	if err != nil {
		return ClaimInfo{}, time.Time{}, fmt.Errorf("claim: %w", err)
	}
	var info ClaimInfo
	if json.Unmarshal(b, &info) != nil {
		info = ClaimInfo{}
	}
	return info, st.ModTime(), nil
}

// writeReplace writes a claim over path atomically.
func writeReplace(path string, info ClaimInfo) error {
	b, _ := json.Marshal(info)
	return atomicfile.Write(path, append(b, '\n'))
}
