package data

import (
	"errors"
	"fmt"

	"rout/internal/membudget"
)

// Limits on what a dataset may claim, beyond the memory budget: they keep a damaged header
// from sending a loader into absurd work before the budget check can see the total.
const (
	// maxImageSide bounds an image's width and height (as IDX headers are bounded).
	maxImageSide = 1 << 15
	// maxArchiveEntries bounds the entries of an archive rout walks through.
	maxArchiveEntries = 1 << 24
	// entryOverhead is what rout keeps per image besides its bytes (name, class, label).
	entryOverhead = 256
)

// errBudget is wrapped by every refusal of the memory budget.
var errBudget = errors.New("over the memory budget")

// budgetError is a refusal of the memory budget; its message names the file itself.
type budgetError string

func (e budgetError) Error() string        { return string(e) }
func (e budgetError) Is(target error) bool { return target == errBudget }

// account adds up the memory one dataset load will hold and refuses, before it is allocated,
// what would take it past the memory budget (membudget): every size a file announces (CIFAR
// record counts, IDX dimensions, image headers, archive entry sizes) is reserved here first.
type account struct{ used int64 }

// reserve adds n bytes that where (a file or archive entry) claims as what ("50000 records",
// "a 60000x60000 image"), refusing them when the total passes the budget.
func (a *account) reserve(n int64, where, what string) error {
	if n < 0 {
		return fmt.Errorf("%s: %s: the size overflows", where, what)
	}
	a.used += n
	if a.used < 0 {
		a.used = -1 >> 1
	}
	b, err := membudget.Current()
	if err != nil {
		return err
	}
	if a.used > b.Bytes {
		return budgetError(fmt.Sprintf("%s: %s (%s) would bring the dataset to %s, more than the memory budget of %s: "+
			"if the file is right and the machine has the memory, raise the budget with --memory-budget or $%s",
			where, what, membudget.Format(n), membudget.Format(a.used), b, membudget.EnvVar))
	}
	return nil
}
