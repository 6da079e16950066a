package data

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// records makes n CIFAR records with the given label bytes per record (labels[i] for record i)
// and pixels that differ from record to record.
func records(n int, labels func(i int) []byte) []byte {
	var b []byte
	for i := 0; i < n; i++ {
		b = append(b, labels(i)...)
		for j := 0; j < cifarPixels; j++ {
			b = append(b, byte(i*31+j*7+j/1024))
		}
	}
	return b
}

// splitOf is the split a record file holds: labels from byte at, pixels after labelBytes.
func splitOf(b []byte, labelBytes, at int) Split {
	rec := labelBytes + cifarPixels
	s := Split{C: 3, H: 32, W: 32, N: len(b) / rec}
	for i := 0; i < s.N; i++ {
		r := b[i*rec : (i+1)*rec]
		s.Labels = append(s.Labels, int32(r[at]))
		s.Pixels = append(s.Pixels, r[labelBytes:]...)
	}
	return s
}

func sameSplit(t *testing.T, what string, got, want Split) {
	t.Helper()
	if got.N != want.N || got.C != want.C || got.H != want.H || got.W != want.W {
		t.Fatalf("%s: shape %d x %dx%dx%d, want %d x %dx%dx%d", what, got.N, got.C, got.H, got.W, want.N, want.C, want.H, want.W)
	}
	if !slices.Equal(got.Labels, want.Labels) {
		t.Fatalf("%s: labels differ", what)
	}
	if !bytes.Equal(got.Pixels, want.Pixels) {
		t.Fatalf("%s: pixels differ", what)
	}
}

// officialCIFAR10 lays out the five training batches, the test batch and the class names as
// cifar-10-binary.tar.gz does (one folder, entries in no particular order, a readme beside them).
func officialCIFAR10(batches [5][]byte, test []byte, meta string) []tarEntry {
	d := "cifar-10-batches-bin/"
	return []tarEntry{
		{d, nil},
		{d + "data_batch_4.bin", batches[3]},
		{d + "batches.meta.txt", []byte(meta)},
		{d + "data_batch_1.bin", batches[0]},
		{d + "test_batch.bin", test},
		{d + "readme.html", []byte("<html></html>")},
		{d + "data_batch_3.bin", batches[2]},
		{d + "data_batch_2.bin", batches[1]},
		{d + "data_batch_5.bin", batches[4]},
	}
}

const metaText = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n"

// checkCIFAR10Forms opens the same records as the official archive, as a folder holding it, as
// the extracted folder, as the cache folder and as a list of .bin files, and checks each result.
func checkCIFAR10Forms(t *testing.T, batches [5][]byte, test []byte) {
	all := bytes.Join(batches[:], nil)
	wantTrain, wantTest := splitOf(all, 1, 0), splitOf(test, 1, 0)
	dir := t.TempDir()
	archive := filepath.Join(dir, "dl", "cifar-10-binary.tar.gz")
	entries := officialCIFAR10(batches, test, metaText)
	writeTar(t, archive, true, entries)
	extracted := filepath.Join(dir, "x")
	for _, e := range entries[1:] {
		writeFile(t, filepath.Join(extracted, e.name), e.data)
	}
	files := filepath.Join(extracted, "cifar-10-batches-bin")
	t.Setenv("ROUT_DATA", filepath.Join(dir, "cache"))
	writeTar(t, filepath.Join(dir, "cache", "cifar10", "cifar-10-binary.tar.gz"), true, entries)

	if _, err := Open("cifar10:" + filepath.Join(files, "data_batch_1.bin") + ","); err == nil || !strings.Contains(err.Error(), "item 2 of the comma-separated list of files is empty") {
		t.Errorf("a trailing comma: %v, want an error naming the empty item", err)
	}
	for _, spec := range []string{
		"cifar10:" + archive,
		"cifar10:" + filepath.Dir(archive),
		"cifar10:" + extracted,
		"cifar10:" + files,
		"cifar10",
		"cifar10:" + filepath.Join(files, "data_batch_1.bin") + "," + filepath.Join(files, "data_batch_2.bin") + "," +
			filepath.Join(files, "data_batch_3.bin") + "," + filepath.Join(files, "data_batch_4.bin") + "," +
			filepath.Join(files, "data_batch_5.bin") + "," + filepath.Join(files, "test_batch.bin"),
		// Spaces after the commas, as a user types a list.
		"cifar10:" + filepath.Join(files, "data_batch_1.bin") + ", " + filepath.Join(files, "data_batch_2.bin") + ", " +
			filepath.Join(files, "data_batch_3.bin") + ", " + filepath.Join(files, "data_batch_4.bin") + ", " +
			filepath.Join(files, "data_batch_5.bin") + ", " + filepath.Join(files, "test_batch.bin"),
	} {
		d, err := Open(spec)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		sameSplit(t, spec+" train", d.Train, wantTrain)
		sameSplit(t, spec+" test", d.Test, wantTest)
		if !slices.Equal(d.Classes, CIFAR10Classes) || d.Name != "cifar10" {
			t.Fatalf("%s: name %q classes %q", spec, d.Name, d.Classes)
		}
	}
}

func TestCIFAR10OfficialLayouts(t *testing.T) {
	var batches [5][]byte
	for k := range batches {
		batches[k] = records(7+k, func(i int) []byte { return []byte{byte((i + k) % 10)} })
	}
	checkCIFAR10Forms(t, batches, records(5, func(i int) []byte { return []byte{byte(9 - i)} }))
}

// TestCIFAR10SharedBytes checks the loader on the original bytes: the first records of
// data_batch_1.bin and test_batch.bin, and an official-layout archive built from them.
func TestCIFAR10SharedBytes(t *testing.T) {
	dir := filepath.Join(sharedData(t), "cifar10")
	train := filepath.Join(dir, "train_first4000.bin")
	test := filepath.Join(dir, "test_first1000.bin")
	d, err := Open("cifar10:" + train + "," + test)
	if err != nil {
		t.Fatal(err)
	}
	if d.Train.N != 4000 || d.Test.N != 1000 {
		t.Fatalf("%d train and %d test examples, want 4000 and 1000", d.Train.N, d.Test.N)
	}
	if d.Train.Labels[0] != 6 || d.Classes[6] != "frog" || !bytes.Equal(d.Train.Image(0)[:8], []byte{59, 43, 50, 68, 98, 119, 139, 145}) {
		t.Fatalf("train record 0: label %d (%s), R starts %v; want a frog (6) starting 59 43 50 68 98 119 139 145",
			d.Train.Labels[0], d.Classes[d.Train.Labels[0]], d.Train.Image(0)[:8])
	}
	if d.Test.Labels[0] != 3 || d.Classes[3] != "cat" || !bytes.Equal(d.Test.Image(0)[:3], []byte{158, 159, 165}) {
		t.Fatalf("test record 0: label %d, R starts %v; want a cat (3) starting 158 159 165", d.Test.Labels[0], d.Test.Image(0)[:3])
	}
	// The class names of batches.meta.txt beside the files are the built-in ones.
	if !slices.Equal(d.Classes, CIFAR10Classes) {
		t.Fatalf("classes %q", d.Classes)
	}
	labels, err := os.ReadFile(filepath.Join(dir, "labels_train50000_plus_test1000.u8"))
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range d.Train.Labels {
		if l != int32(labels[i]) {
			t.Fatalf("train label %d is %d, the label file says %d", i, l, labels[i])
		}
	}
	for i, l := range d.Test.Labels {
		if l != int32(labels[50000+i]) {
			t.Fatalf("test label %d is %d, the label file says %d", i, l, labels[50000+i])
		}
	}

	// The official archive's layout, from these records: 800 per training batch.
	tb, err := os.ReadFile(train)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := os.ReadFile(test)
	if err != nil {
		t.Fatal(err)
	}
	var batches [5][]byte
	for k := range batches {
		batches[k] = tb[k*800*3073 : (k+1)*800*3073]
	}
	checkCIFAR10Forms(t, batches, sb)
}

func TestCIFAR100(t *testing.T) {
	fineNames, coarseNames := "", ""
	for i := 0; i < 100; i++ {
		fineNames += "fine" + string(rune('a'+i/10)) + string(rune('a'+i%10)) + "\n"
	}
	for i := 0; i < 20; i++ {
		coarseNames += "coarse" + string(rune('a'+i)) + "\n"
	}
	lab := func(i int) []byte { return []byte{byte(i % 20), byte((i * 37) % 100)} }
	train, test := records(23, lab), records(6, lab)
	dir := t.TempDir()
	archive := filepath.Join(dir, "cifar-100-binary.tar.gz")
	writeTar(t, archive, true, []tarEntry{
		{"cifar-100-binary/", nil},
		{"cifar-100-binary/coarse_label_names.txt", []byte(coarseNames)},
		{"cifar-100-binary/test.bin", test},
		{"cifar-100-binary/fine_label_names.txt", []byte(fineNames)},
		{"cifar-100-binary/train.bin", train},
	})
	fine, err := Open("cifar100:" + archive)
	if err != nil {
		t.Fatal(err)
	}
	sameSplit(t, "fine train", fine.Train, splitOf(train, 2, 1))
	sameSplit(t, "fine test", fine.Test, splitOf(test, 2, 1))
	if len(fine.Classes) != 100 || fine.Classes[37] != "finedh" || fine.Name != "cifar100" {
		t.Fatalf("fine: %s, %d classes, class 37 %q", fine.Name, len(fine.Classes), fine.Classes[37])
	}
	coarse, err := Open("cifar100-coarse:" + dir)
	if err != nil {
		t.Fatal(err)
	}
	sameSplit(t, "coarse train", coarse.Train, splitOf(train, 2, 0))
	sameSplit(t, "coarse test", coarse.Test, splitOf(test, 2, 0))
	if len(coarse.Classes) != 20 || coarse.Classes[3] != "coarsed" || coarse.Name != "cifar100-coarse" {
		t.Fatalf("coarse: %s, %d classes, class 3 %q", coarse.Name, len(coarse.Classes), coarse.Classes[3])
	}
	// Extracted files without the name files: numbered classes.
	ex := filepath.Join(dir, "x", "cifar-100-binary")
	writeFile(t, filepath.Join(ex, "train.bin"), train)
	writeFile(t, filepath.Join(ex, "test.bin"), test)
	d, err := Open("cifar100:" + filepath.Dir(ex))
	if err != nil {
		t.Fatal(err)
	}
	sameSplit(t, "folder train", d.Train, splitOf(train, 2, 1))
	if d.Classes[99] != "99" {
		t.Fatalf("class 99 named %q, want \"99\"", d.Classes[99])
	}
}

func TestCIFARBadInput(t *testing.T) {
	dir := t.TempDir()
	good := records(4, func(i int) []byte { return []byte{byte(i)} })
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		writeFile(t, p, b)
		return p
	}
	badLabel := slices.Clone(good)
	badLabel[3*3073] = 10
	badFine := records(3, func(i int) []byte { return []byte{1, byte(98 + i)} })
	var batches [5][]byte
	for k := range batches {
		batches[k] = good
	}
	full := officialCIFAR10(batches, good, metaText)
	writeTar(t, filepath.Join(dir, "ok.tar.gz"), true, full)
	okArchive, err := os.ReadFile(filepath.Join(dir, "ok.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	corrupt := slices.Clone(okArchive)
	for i := len(corrupt) / 2; i < len(corrupt)/2+64; i++ {
		corrupt[i] ^= 0x5a
	}
	missing := slices.DeleteFunc(slices.Clone(full), func(e tarEntry) bool { return e.name == "cifar-10-batches-bin/data_batch_3.bin" })
	writeTar(t, filepath.Join(dir, "missing.tar.gz"), true, missing)
	shortMember := slices.Clone(full)
	shortMember[1] = tarEntry{shortMember[1].name, good[:3073*2+100]}
	writeTar(t, filepath.Join(dir, "short.tar.gz"), true, shortMember)
	badMeta := slices.Clone(full)
	badMeta[2] = tarEntry{badMeta[2].name, []byte("a\nb\nc\n")}
	writeTar(t, filepath.Join(dir, "meta.tar.gz"), true, badMeta)
	writeFile(t, filepath.Join(dir, "partial", "data_batch_1.bin"), good)
	writeFile(t, filepath.Join(dir, "partial", "test_batch.bin"), good)

	for _, c := range []struct {
		spec string
		want []string
	}{
		{"cifar10:" + write("trunc.bin", good[:len(good)-1]), []string{"trunc.bin", "12291 bytes", "3073-byte records", "3 records and 3072 bytes over", "truncated or padded"}},
		{"cifar10:" + write("padded.bin", append(slices.Clone(good), 1, 2, 3)), []string{"padded.bin", "12295 bytes", "4 records and 3 bytes over"}},
		{"cifar10:" + write("empty.bin", nil), []string{"empty.bin", "empty file"}},
		{"cifar10:" + write("label.bin", badLabel), []string{"label.bin", "record 3", "label 10, want 0..9"}},
		{"cifar100:" + write("fine.bin", badFine), []string{"fine.bin", "record 2", "fine label 100, want 0..99"}},
		{"cifar100:" + write("c10.bin", good), []string{"c10.bin", "3074-byte records"}},
		{"cifar10:" + write("corrupt.tar.gz", corrupt), []string{"corrupt.tar.gz", "damaged or cut short after entry cifar-10-batches-bin/"}},
		{"cifar10:" + write("cut.tar.gz", okArchive[:len(okArchive)-300]), []string{"cut.tar.gz", "damaged or cut short", "unexpected EOF"}},
		{"cifar10:" + write("garbage.tar.gz", append([]byte{0x1f, 0x8b}, bytes.Repeat([]byte{7}, 600)...)), []string{"garbage.tar.gz", "not a readable archive: gzip: invalid header"}},
		{"cifar10:" + filepath.Join(dir, "missing.tar.gz"), []string{"missing.tar.gz", "no data_batch_3.bin", "cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin"}},
		{"cifar10:" + filepath.Join(dir, "short.tar.gz"), []string{"short.tar.gz", "entry cifar-10-batches-bin/data_batch_4.bin", "6246 bytes"}},
		{"cifar10:" + filepath.Join(dir, "meta.tar.gz"), []string{"meta.tar.gz", "batches.meta.txt", "3 class names, want 10"}},
		{"cifar10:" + filepath.Join(dir, "partial"), []string{"partial", "data_batch_2.bin missing"}},
		{"cifar10:" + filepath.Join(dir, "nothing-here"), []string{"nothing-here", "no such file"}},
		{"cifar10:" + dir, []string{dir, "found neither", "cifar-10-binary.tar.gz"}},
	} {
		d, err := Open(c.spec)
		if d != nil {
			t.Errorf("%s: got a dataset with an error %v", c.spec, err)
		}
		wantErr(t, err, c.want...)
	}
}
