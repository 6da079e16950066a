package net

import (
	"strings"
	"testing"
)

// panics returns the message f panics with, or "" when it returns.
func panics(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = r.(string)
		}
	}()
	f()
	return ""
}

func shape(n, c, h, w int) *Tensor { return &Tensor{N: n, C: c, H: h, W: w, Stride: c * h * w} }

func TestCheckPool(t *testing.T) {
	p := PoolParams{Mode: MaxPool, KH: 3, KW: 3, StrideH: 2, StrideW: 2, Ceil: true}
	x := shape(2, 4, 28, 28)
	cases := []struct {
		what string
		y    *Tensor
		p    PoolParams
		want string // in the panic; "" for none
	}{
		{"matching (the ceil rule: 28 -> 14)", shape(2, 4, 14, 14), p, ""},
		{"the floor rule's size under the ceil rule", shape(2, 4, 13, 13), p, "op: x [2 4 28 28] and y [2 4 13 13] do not match"},
		{"another channel count", shape(2, 3, 14, 14), p, "do not match"},
		{"a zero stride", shape(2, 4, 14, 14), PoolParams{KH: 3, KW: 3, StrideW: 2}, "op: bad parameters"},
		{"a negative pad", shape(2, 4, 14, 14), PoolParams{KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: -1}, "op: bad parameters"},
	}
	for _, tc := range cases {
		got := panics(func() { CheckPool("op", x, tc.y, tc.p) })
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: panic %q, want one containing %q", tc.what, got, tc.want)
		}
	}
}

func TestCheckGather(t *testing.T) {
	a := Augment{CropH: 24, CropW: 24, Pad: 0, ChanMean: []float32{1, 2, 3}}
	x, labels := shape(8, 3, 24, 24), shape(8, 1, 1, 1)
	if err := CheckGather("op", 3, 32, 32, x, labels, a); err != nil {
		t.Fatalf("a 24x24 crop of 32x32 images: %v", err)
	}
	big := a
	big.CropH, big.CropW = 36, 36
	err := CheckGather("op", 3, 32, 32, shape(8, 3, 36, 36), labels, big)
	if err == nil || err.Error() != "op: a 36x36 crop of 32x32 images padded by 0 does not fit" {
		t.Errorf("a 36x36 crop of 32x32 images: %v", err)
	}
	big.Pad = 2
	if err := CheckGather("op", 3, 32, 32, shape(8, 3, 36, 36), labels, big); err != nil {
		t.Errorf("a 36x36 crop of 32x32 images padded by 2: %v", err)
	}
	wrongMean := a
	wrongMean.Mean = shape(1, 3, 32, 32)
	twoMeans := a
	twoMeans.ChanMean = []float32{1, 2}
	for _, tc := range []struct {
		what      string
		x, labels *Tensor
		a         Augment
		want      string
	}{
		{"x with 4 channels", shape(8, 4, 24, 24), labels, a, "op: x [8 4 24 24], labels [8 1 1 1] for 3x32x32 images cropped to 24x24"},
		{"fewer labels than examples", x, shape(7, 1, 1, 1), a, "cropped to 24x24"},
		{"2 channel means for 3 channels", x, labels, twoMeans, "op: 2 channel means and 0 inverse deviations for 3 channels"},
		{"a mean image of the uncropped size", x, labels, wrongMean, "op: mean image"},
	} {
		got := panics(func() { CheckGather("op", 3, 32, 32, tc.x, tc.labels, tc.a) })
		if !strings.Contains(got, tc.want) || got == "" {
			t.Errorf("%s: panic %q, want one containing %q", tc.what, got, tc.want)
		}
	}
}
