package trainer

import (
	"context"
	"testing"

	"rout/data"
)

// tinyConfig is a run small enough for a unit test: convnet-small at a quarter width on 16x16
// crops of a few hundred shapes images.
func tinyConfig() Config {
	c, _ := Preset("quick")
	c.Model = "convnet-small@0.25"
	c.Crop = 16
	c.Batch = 16
	c.Epochs = 2
	c.LogEvery = 5
	c.Device = "cpu"
	c.Threads = 1
	c.Seed = 7
	c.DataSeed = 3
	return c
}

func tinyData() *data.Dataset { return data.Shapes(1, 320, 100) }

func TestSmoke(t *testing.T) {
	dir := t.TempDir()
	s, err := Run(context.Background(), tinyConfig(), dir, WithDataset(tinyData()))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", s)
}
