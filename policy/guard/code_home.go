package guard

import "strings"

// A recursive removal is a finding when it takes a whole home or root
// directory, in any language's spelling of one: shutil.rmtree(home),
// Go's os.RemoveAll of the HOME variable, fs.rmSync(os.homedir(), …),
// FileUtils.rm_rf(Dir.home), rimraf("/"). A directory below one
// (os.path.join(home, ".cache")) is what such calls are for, so the
// argument must be the home or root itself, not merely mention it.

// homeExprs are the expressions, with spaces removed, lower case and
// double quotes, that name the user's home directory.
var homeExprs = map[string]bool{
	`os.path.expanduser("~")`: true, `os.path.expanduser("~/")`: true, `path.home()`: true, `pathlib.path.home()`: true,
	`path("~").expanduser()`: true, `pathlib.path("~").expanduser()`: true, `os.environ["home"]`: true,
	`os.environ.get("home")`: true, `os.getenv("home")`: true, `os.homedir()`: true, `require("os").homedir()`: true,
	`process.env.home`: true, `process.env["home"]`: true, `dir.home`: true, `env["home"]`: true, `env.fetch("home")`: true,
	`system.getproperty("user.home")`: true, `newfile(system.getproperty("user.home"))`: true,
	`paths.get(system.getproperty("user.home"))`: true, `system.getenv("home")`: true,
	`environment.getfolderpath(environment.specialfolder.userprofile)`: true, `getenv("home")`: true,
	`$_server["home"]`: true, `os.userhomedir()`: true,
}

// homeNames are variable names (lower case, underscores removed) that
// hold the home directory by every convention: shutil.rmtree(home) with
// no assignment in sight removes it.
var homeNames = map[string]bool{"home": true, "homedir": true, "userhome": true, "homepath": true, "userhomedir": true, "homedirectory": true}

// homeOrRoot: the first argument of a removal is a home or root
// directory: a home expression, a variable named for one, or a constant
// path that is the root, a home or a system directory.
func homeOrRoot(args []string) bool {
	if len(args) == 0 {
		return false
	}
	a := strings.TrimSpace(args[0])
	if isPyIdent(a) {
		return homeNames[strings.ToLower(strings.ReplaceAll(a, "_", ""))]
	}
	norm := strings.ToLower(strings.ReplaceAll(strings.ReplaceAll(a, " ", ""), "'", `"`))
	if homeExprs[norm] {
		return true
	}
	// Path("/"), new File("~"), Paths.get("/home"): the constant inside.
	for _, wrap := range []string{"path(", "pathlib.path(", "newfile(", "paths.get(", "path.of("} {
		if strings.HasPrefix(norm, wrap) && strings.HasSuffix(norm, ")") {
			a = strings.TrimSpace(a[strings.IndexByte(a, '(')+1 : len(a)-1])
			break
		}
	}
	if !constantArg(a) {
		return false
	}
	if a[0] != '"' && a[0] != '\'' && a[0] != '`' {
		a = a[1:] // r"…"
	}
	return rootPath(a[1 : len(a)-1])
}

// rootPath: p is the file system root, a home, a drive root, or a system
// directory whose whole content a system needs.
func rootPath(p string) bool {
	if p == "" {
		return false
	}
	t := strings.TrimRight(p, "/\\")
	switch strings.ToLower(t) {
	case "", "~", "$home", "${home}", "/*", "~/*", "c:", "c:\\*", "%userprofile%", "%systemroot%":
		return true
	}
	return systemDirs[strings.TrimRight(strings.TrimSuffix(t, "*"), "/")]
}
