package main

import (
	"fmt"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"rout/trainer"
)

// exportCommand is `rout export RUN_OR_CHECKPOINT`: the network's weights as a safetensors file
// with PyTorch's names and shapes.
func exportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write a run's network as safetensors with PyTorch's names and shapes",
		ArgsUsage: "RUN_OR_CHECKPOINT (a run folder, or a checkpoint.safetensors)",
		Description: "One tensor per layer parameter, named and shaped as PyTorch's modules name them (conv1.weight\n" +
			"[F, C, KH, KW], conv1.bias [F], fc.weight [units, inputs], NAME.bn.weight, NAME.bn.running_mean, ...),\n" +
			"the preprocessing tensors under prep.*, and in the metadata the model's TOML (model_toml), its resolved\n" +
			"layers (graph), the class names, the input shape and the preprocessing settings.\n" +
			"scripts/torch_model.py builds the network in PyTorch from such a file and checks it against\n" +
			"`rout eval --logits`.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "file to write (default: model.safetensors beside the checkpoint)"},
		},
		Action: func(c *cli.Context) error {
			args, err := interspersedFlags(c)
			if err != nil {
				return usageError{fmt.Errorf("export: %w", err)}
			}
			if len(args) != 1 {
				return usageError{fmt.Errorf("export: want one run folder or checkpoint, got %d arguments", len(args))}
			}
			ck := trainer.CheckpointPath(args[0])
			out := c.String("out")
			if out == "" {
				out = filepath.Join(filepath.Dir(ck), "model.safetensors")
			}
			res, err := trainer.Export(ck, out)
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			fmt.Fprintf(c.App.Writer, "wrote %s: %d tensors, %d parameters\n", res.Path, res.Tensors, res.Params)
			return nil
		},
		OnUsageError: commandUsageError,
	}
}
