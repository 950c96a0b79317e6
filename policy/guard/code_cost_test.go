package guard

import (
	"strings"
	"testing"
)

// BenchmarkCheckCode: CheckCode on results that hold code, where its
// anchors fire and its parses and call forms run: a 2 KB Python module
// that runs subprocesses, a 2 KB Node script that uses child_process, and
// a 2 KB shell script with pipes and downloads.
func BenchmarkCheckCode(b *testing.B) {
	py := strings.Repeat("import os, shlex, subprocess\nfrom pathlib import Path\n\ndef build(target, flags):\n"+
		"    cmd = ['make', target] + flags\n    out = subprocess.run(cmd, check=True, capture_output=True)\n"+
		"    os.makedirs(Path('build') / target, exist_ok=True)\n    return out.stdout.decode()\n\n", 10)
	js := strings.Repeat("const cp = require('child_process');\nconst path = require('path');\n"+
		"function sha() {\n  return cp.execSync('git rev-parse HEAD').toString().trim();\n}\n"+
		"function run(args) {\n  return cp.spawn('npm', args, { stdio: 'inherit', cwd: path.join(__dirname, '..') });\n}\n", 10)
	sh := strings.Repeat("#!/bin/sh\nset -eu\ncurl -fsSL https://example.test/data.json | jq -r '.items[]' | sort > items.txt\n"+
		"rm -rf ./build && mkdir -p build\nfor f in $(cat items.txt); do cp \"$f\" build/; done\n"+
		"tar czf out.tgz build | tee -a log.txt\n", 10)
	for _, tc := range []struct{ name, text string }{{"python", py[:min(len(py), 2048)]}, {"node", js[:min(len(js), 2048)]}, {"shell", sh[:min(len(sh), 2048)]}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				CheckCode(tc.text)
			}
		})
	}
}
