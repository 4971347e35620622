package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunSystemCommands(t *testing.T) {
	bin := buildLdgo(t)
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data.txt")
	if err := os.WriteFile(data, []byte(strings.Repeat("ldgo runs programs\n", 2000)), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(tmp, "db.sqlite")
	if sq, err := exec.LookPath("sqlite3"); err == nil {
		if out, err := exec.Command(sq, db, "create table t(x); insert into t values (1);").CombinedOutput(); err != nil {
			t.Fatalf("sqlite3: %v\n%s", err, out)
		}
	}
	cases := []struct {
		name  string
		stdin string
		args  []string
	}{
		{"true", "", nil},
		{"false", "", nil},
		{"ls", "", []string{"-l", "/usr"}},
		// The test's own directory, not /tmp, whose link count and time
		// other tests change between the two runs.
		{"ls", "", []string{"-l", "-d", tmp, "/usr", filepath.Join(tmp, "nonexistent")}},
		{"date", "", []string{"-u", "-d", "@0"}},
		{"sort", "pear\napple\nfig\n", nil},
		{"sort", "3\n10\n2\n", []string{"-n", "-r"}},
		{"grep", "abc123\nxyz\n42\n", []string{"-P", `\d+`}},
		{"grep", "", []string{"--badoption"}},
		{"cat", "some\ntext\n", nil},
		{"echo", "", []string{"hello", "world"}},
		{"tar", "", []string{"-cf", "-", "-C", "/usr/include", "--owner=0", "--group=0", "--mtime=@0", "stdio.h"}},
		{"tar", "", []string{"--version"}},
		{"xz", strings.Repeat("compress me\n", 5000), []string{"-T2", "-c"}},
		{"gzip", strings.Repeat("compress me\n", 5000), []string{"-c", "-n"}},
		{"sha256sum", "", []string{data}},
		{"sqlite3", "create table t(x); insert into t values (6*7), ('ldgo'); select * from t;", []string{":memory:"}},
		{"sqlite3", "", []string{"-readonly", db, "select count(*) from sqlite_master;"}},
		{"git", "", []string{"--version"}},
		{"git", "", []string{"hash-object", data}},
		{"curl", "", []string{"--version"}},
		{"curl", "", []string{"-s", "file://" + data, "-o", "/dev/null", "-w", "%{size_download}\n"}},
		{"openssl", "", []string{"version"}},
		{"openssl", "hello", []string{"dgst", "-sha256"}},
		{"vim", "", []string{"--version"}},
		{"ssh", "", []string{"-V"}},
		{"gdb", "", []string{"--version"}},
		{"gdb", "", []string{"-batch", "-nx", "-ex", "print 6*7"}},
		{"perl", "", []string{"-e", `print join(",", map { $_ * 2 } 1..5), "\n"`}},
		{"gcc", "", []string{"--version"}},
		{"node", "", []string{"-e", "console.log([1,2,3].map(x => x * 7).join())"}},
		{"find", "", []string{"/usr/include/linux", "-maxdepth", "1", "-name", "a*.h"}},
		{"sed", "hello\n", []string{"s/l/L/g"}},
		{"awk", "1 2\n3 4\n", []string{"{print $2+$1}"}},
		{"python3", "", []string{"-c", "print(6*7)"}},
		{"python3", "", []string{"-c", "import ssl, sqlite3, ctypes, decimal; print(ssl.OPENSSL_VERSION[:7], sqlite3.sqlite_version_info[0], ctypes.CDLL(None).strlen(b'four'), decimal.Decimal(1) / 7)"}},
		{"python3", "", []string{"-c", "import multiprocessing as mp\ndef work(n):\n    import json, array\n    return json.dumps(array.array('i', [n, n * n]).tolist())\nif __name__ == '__main__':\n    mp.set_start_method('fork')\n    with mp.Pool(2) as p: print(p.map(work, range(4)))"}},
		{"python3", "", []string{"-c", "import threading, hashlib\nout = []\nts = [threading.Thread(target=lambda i=i: out.append(hashlib.sha256(bytes([i]) * 100000).hexdigest()[:8])) for i in range(8)]\n[t.start() for t in ts]\n[t.join() for t in ts]\nprint(sorted(out))"}},
		{"perl", "", []string{"-MPOSIX", "-MList::Util=sum", "-e", `print floor(2.5) + sum(1..10), "\n"`}},
		{"wc", "one two\nthree\n", []string{"-lwc"}},
		{"diff", "", []string{"/etc/hostname", "/etc/hostname"}},
		{"env", "", nil},
	}
	ran := 0
	for _, c := range cases {
		path := "/usr/bin/" + c.name
		if _, err := os.Stat(path); err != nil {
			t.Logf("skipping %s: not installed", path)
			continue
		}
		what := c.name + " " + strings.Join(c.args, " ")
		want := native(t, baseEnv(), c.stdin, path, c.args...)
		got := hosted(t, bin, baseEnv(), c.stdin, path, c.args...)
		sameResult(t, what, want, got)
		ran++
	}
	t.Logf("%d commands compared with their native runs", ran)
}
