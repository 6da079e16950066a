package trainer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"rout/net"
)

// The revival rules a run can use, by the name --revive takes.
const (
	RuleNone      = "none"
	RuleRandomOut = "randomout"
	RuleReDo      = "redo"
	RuleCBP       = "cbp"
)

// legacyKeys maps settings renamed since runs were first recorded to their names now, so that
// old sweep plans (arm overrides) and checkpoints still read.
var legacyKeys = map[string]string{"randomout-every": "revive-every"}

// setReviveDefaults sets the revival rules' settings to their references' values: ReDo's tau of
// 0.1 (Sokar et al.), continual backprop's rate 1e-4, decay 0.99 and maturity 100 (convGnT).
func setReviveDefaults(c *Config) {
	c.Revive, c.ReviveInit = RuleNone, ""
	c.RedoTau = 0.1
	c.CBPRate, c.CBPDecay, c.CBPMaturity = 1e-4, 0.99, 100
}

// UnmarshalJSON reads a config recorded by any version of rout: renamed keys are read under
// their names now, and the settings of the revival rules, absent from runs recorded before
// there were several, take their defaults (the rule is then RandomOut or none, as --randomout
// says). Unknown keys are an error.
func (c *Config) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	for old, now := range legacyKeys {
		if v, ok := raw[old]; ok {
			if _, both := raw[now]; both {
				return fmt.Errorf("config: both %s and its former name %s", now, old)
			}
			raw[now] = v
			delete(raw, old)
		}
	}
	fixed, err := json.Marshal(raw)
	if err != nil {
		return err
	}
	type plain Config // without this method
	p := plain(*c)
	var d Config
	setReviveDefaults(&d)
	p.Revive, p.ReviveInit, p.RedoTau, p.CBPRate, p.CBPDecay, p.CBPMaturity = d.Revive, d.ReviveInit, d.RedoTau, d.CBPRate, d.CBPDecay, d.CBPMaturity
	dec := json.NewDecoder(bytes.NewReader(fixed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return err
	}
	*c = Config(p)
	return nil
}

// Rule is the revival rule the run uses: --revive, or randomout when --randomout is set.
func (c *Config) Rule() string {
	if c.RandomOut {
		return RuleRandomOut
	}
	return c.Revive
}

// checkRevive checks the revival rules' settings.
func (c *Config) checkRevive() error {
	if c.RandomOut && c.Revive != RuleNone && c.Revive != RuleRandomOut {
		return fmt.Errorf("setting randomout: true is the shorthand for revive=randomout, but revive is %s: give one rule", c.Revive)
	}
	switch {
	case !(c.RedoTau >= 0):
		return fmt.Errorf("setting redo-tau: %v, want 0 or more", c.RedoTau)
	case !(c.CBPRate >= 0 && c.CBPRate <= 1):
		return fmt.Errorf("setting cbp-rate: %v, want a number in [0, 1]", c.CBPRate)
	case !(c.CBPDecay >= 0 && c.CBPDecay < 1):
		return fmt.Errorf("setting cbp-decay: %v, want a number in [0, 1)", c.CBPDecay)
	case c.CBPMaturity < 0 || c.CBPMaturity > 1<<24:
		return fmt.Errorf("setting cbp-maturity: %d, want 0 to 16777216 (ages are counted in float32)", c.CBPMaturity)
	}
	return nil
}

// reviveInit is the initialiser a rule re-draws from: --revive-init, or the rule's reference.
func (c *Config) reviveInit() string {
	if c.ReviveInit != "" {
		return c.ReviveInit
	}
	switch c.Rule() {
	case RuleReDo:
		return "glorot" // dopamine's xavier_uniform
	case RuleCBP:
		return "fan-in" // convGnT's bound for a conv layer, sqrt(1/fan_in)
	}
	return "layer"
}

// redrawTable is ft with each group's bound set to what init (see reviveInit) draws for it.
func redrawTable(rt *net.ReviveTable, init string) (*net.FilterTable, error) {
	groups := append([]net.FilterGroup(nil), rt.FilterTable.Groups...)
	for i := range groups {
		g := &groups[i]
		switch init {
		case "layer":
		case "fan-in":
			g.Bound = float32(1 / math.Sqrt(float64(g.FilterLen)))
		case "glorot", "he":
			in, err := net.ParseInit(init)
			if err != nil {
				return nil, err
			}
			g.Bound = in.BoundFor(g.FilterLen, rt.Groups[i].FanOut)
		default:
			return nil, fmt.Errorf("setting revive-init: %q is not layer, glorot, he or fan-in", init)
		}
	}
	return net.NewFilterTable(groups), nil
}

// activationWatcher is a Reviver that takes statistics of the forward pass: the loop calls
// AfterForward right after the forward pass of step (counting from 0).
type activationWatcher interface {
	AfterForward(step int)
}

// watch is what the activation-based rules share: the backend, the consumers of the watched
// filters, their activations, and the table re-draws use.
type watch struct {
	b    net.Backend
	rt   *net.ReviveTable
	acts []*net.Tensor
	draw *net.FilterTable
}

func newWatch(b net.Backend, n *net.Net, ft *net.FilterTable, init string) (*watch, error) {
	if len(ft.Groups) == 0 {
		return nil, fmt.Errorf("no layer to watch")
	}
	rt, acts, err := n.ReviveTable(ft)
	if err != nil {
		return nil, err
	}
	draw, err := redrawTable(rt, init)
	if err != nil {
		return nil, err
	}
	return &watch{b: b, rt: rt, acts: acts, draw: draw}, nil
}

// allocMeans allocates the per-filter activation means and each group's view of them.
func (w *watch) allocMeans() (*net.Tensor, []*net.Tensor, error) {
	means, err := w.b.Alloc(w.rt.Filters, 1, 1, 1)
	if err != nil {
		return nil, nil, fmt.Errorf("allocating statistics: %w", err)
	}
	views := make([]*net.Tensor, len(w.rt.FilterTable.Groups))
	f := 0
	for i, g := range w.rt.FilterTable.Groups {
		views[i] = means.View(f, g.Filters, 1, 1, 1)
		f += g.Filters
	}
	return means, views, nil
}

// allocAll allocates per-filter and per-group tensors of ft.
func allocAll(b net.Backend, ft *net.FilterTable, perFilter, perGroup []**net.Tensor) error {
	for _, set := range []struct {
		ts []**net.Tensor
		n  int
	}{{perFilter, ft.Filters}, {perGroup, len(ft.Groups)}} {
		for _, t := range set.ts {
			var err error
			if *t, err = b.Alloc(set.n, 1, 1, 1); err != nil {
				return fmt.Errorf("allocating state: %w", err)
			}
		}
	}
	return nil
}

func groupNames(ft *net.FilterTable) []string {
	ls := make([]string, len(ft.Groups))
	for i, g := range ft.Groups {
		ls[i] = g.Name
	}
	return ls
}

// newReviver builds the rule cfg names for the filters of ft in n. With rule none it is
// RandomOut measuring only, which is how the baseline sees its dead filters.
func newReviver(cfg *Config, b net.Backend, n *net.Net, ft *net.FilterTable, moments []*net.Tensor) (Reviver, error) {
	switch cfg.Rule() {
	case RuleReDo:
		return NewReDo(b, n, ft, ReDoOptions{Seed: cfg.Seed, Every: cfg.RandomOutEvery, Tau: cfg.RedoTau,
			Init: cfg.reviveInit(), Moments: moments})
	case RuleCBP:
		return NewCBP(b, n, ft, CBPOptions{Seed: cfg.Seed, Rate: cfg.CBPRate, Decay: cfg.CBPDecay,
			Maturity: cfg.CBPMaturity, Init: cfg.reviveInit(), Moments: moments})
	}
	ro := randomOutOptions(cfg, moments)
	if init := cfg.reviveInit(); ro.Enabled && init != "layer" {
		rt, _, err := n.ReviveTable(ft)
		if err != nil {
			return nil, err
		}
		draw, err := redrawTable(rt, init)
		if err != nil {
			return nil, err
		}
		ro.Draw = draw
	}
	return NewRandomOut(b, ft, n.Params, n.Grads, ro)
}

// RuleSummary describes the revival rule of c and its settings in a few words, for logs.
func (c *Config) RuleSummary() string {
	init := c.reviveInit()
	switch c.Rule() {
	case RuleRandomOut:
		return fmt.Sprintf("RandomOut (tau %g %s, %s, every %d, scope %s, re-draws from %s)", c.Tau, c.TauMode, c.RandomOutNorm, c.RandomOutEvery, c.RandomOutScope, init)
	case RuleReDo:
		return fmt.Sprintf("ReDo (tau %g, every %d, re-draws from %s)", c.RedoTau, c.RandomOutEvery, init)
	case RuleCBP:
		return fmt.Sprintf("continual backprop (rate %g, decay %g, maturity %d, re-draws from %s)", c.CBPRate, c.CBPDecay, c.CBPMaturity, init)
	}
	return "none (dead filters measured)"
}

// CanonicalKey is a setting's name now: key itself, or the name a renamed setting took.
func CanonicalKey(key string) string {
	if k, ok := legacyKeys[key]; ok {
		return k
	}
	return key
}

// formerNames lists the names a setting had before it was renamed.
func formerNames(name string) []string {
	var old []string
	for o, now := range legacyKeys {
		if now == name {
			old = append(old, o)
		}
	}
	slices.Sort(old)
	return old
}
