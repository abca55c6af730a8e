//! run-in-image: the engine command line that runs a command in the debug image as if it
//! ran here, or the same command on the host (`--host`).
//!
//! What "as if it ran here" means, and how:
//! - **Same paths.** The current directory is bind-mounted at the same path and is the
//!   working directory, so paths in valgrind's and gdb's reports are the host's. `--mount`
//!   is a bind mount (`--mount type=bind`, which fails on a missing source instead of
//!   creating a root-owned directory the way `-v` does).
//! - **Same user.** docker runs as the invoking uid:gid (`--user`), so files written into the
//!   mount are the user's, not root's; `HOME` is then `/tmp`, since that uid has no home in
//!   the image. Rootless podman maps the user itself with `--userns=keep-id`.
//! - **A filter in a pipe.** stdin is passed through (`-i`) unless it is a terminal that no
//!   terminal is allocated for (a background job must not read the keyboard); a terminal
//!   (`-t`) is allocated only when stdin, stdout and stderr all are terminals, so output
//!   into a pipe never carries `\r\n`. `--init` reaps children and forwards signals; the
//!   command's exit status is the engine's.
//! - **Arguments are an array end to end.** The command is passed after the image as argv.
//!   Env files are parsed on the host ([`crate::image::envfile`]) and expanded inside the container
//!   by a constant `sh` program that receives the parsed pieces as arguments and never
//!   evaluates them; `--env K=V` is literal, as docker's `-e` is.
//! - `--ptrace` adds exactly `--cap-add=SYS_PTRACE --security-opt seccomp=unconfined`: the
//!   capability lets gdb attach, and the unconfined profile lets it disable address-space
//!   randomisation (docker's default profile refuses that `personality` call).

use crate::image::engine::{Engine, Kind};
use crate::image::envfile::{self, Assignment};
use crate::Error;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// What the user asked for.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `--mount HOST:CONTAINER[:ro]`, as given.
    pub mounts: Vec<String>,
    /// `--workdir DIR`.
    pub workdir: Option<PathBuf>,
    /// `--env-file FILE`, parsed, in order.
    pub assignments: Vec<Assignment>,
    /// `--env K=V` or `--env K` (the host's value).
    pub env: Vec<String>,
    /// `--ptrace`.
    pub ptrace: bool,
    /// `--user SPEC`, replacing the invoking user.
    pub user: Option<String>,
    /// `--no-cwd`: do not mount the current directory.
    pub no_cwd: bool,
    /// The command and its arguments.
    pub command: Vec<OsString>,
}

/// The invoking process's situation.
#[derive(Debug, Clone)]
pub struct Surroundings {
    /// The current directory.
    pub cwd: PathBuf,
    /// Effective user id.
    pub uid: u32,
    /// Effective group id.
    pub gid: u32,
    /// Whether stdin is a terminal.
    pub stdin_tty: bool,
    /// Whether stdout is a terminal.
    pub stdout_tty: bool,
    /// Whether stderr is a terminal.
    pub stderr_tty: bool,
}

/// A bind mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Host path, absolute.
    pub source: PathBuf,
    /// Container path, absolute.
    pub target: PathBuf,
    /// Mounted read-only.
    pub read_only: bool,
}

fn usage(message: impl Into<String>) -> Error {
    Error::at("usage", None, message)
}

/// Directories of the image that a mount must not cover: the image would stop working.
const SYSTEM_DIRS: &[&str] = &[
    "/",
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/proc",
    "/sbin",
    "/sys",
    "/usr",
    "/usr/bin",
    "/usr/lib",
    "/usr/local",
    "/usr/local/bin",
    "/var",
    "/run",
];

/// Parses `HOST:CONTAINER[:ro|:rw]`; a relative HOST is taken from `cwd`.
pub fn parse_mount(spec: &str, cwd: &Path) -> Result<Mount, Error> {
    let fields: Vec<&str> = spec.split(':').collect();
    let (host, target, read_only) = match fields.as_slice() {
        [h, c] => (*h, *c, false),
        [h, c, "ro"] => (*h, *c, true),
        [h, c, "rw"] => (*h, *c, false),
        _ => {
            return Err(usage(format!(
                "--mount {spec:?}: expected HOST:CONTAINER or HOST:CONTAINER:ro"
            )))
        }
    };
    if host.is_empty() || target.is_empty() {
        return Err(usage(format!("--mount {spec:?}: a path is empty")));
    }
    if !target.starts_with('/') {
        return Err(usage(format!(
            "--mount {spec:?}: the container path must be absolute"
        )));
    }
    let source = cwd.join(host);
    if !source.exists() {
        return Err(usage(format!(
            "--mount {spec:?}: {} does not exist",
            source.display()
        )));
    }
    Ok(Mount {
        source,
        target: PathBuf::from(target),
        read_only,
    })
}

/// The `--mount` value for the engine. docker reads it as CSV, so paths with a comma, a
/// quote or a newline are refused rather than quoted.
fn mount_arg(m: &Mount) -> Result<String, Error> {
    for path in [&m.source, &m.target] {
        let text = path
            .to_str()
            .ok_or_else(|| usage(format!("{} is not UTF-8", path.display())))?;
        if text.contains([',', '"', '\n']) {
            return Err(usage(format!(
                "{text:?} holds a comma, quote or newline, which the engine's --mount cannot take"
            )));
        }
    }
    let target = m.target.to_string_lossy();
    let normal = target.trim_end_matches('/');
    if SYSTEM_DIRS.contains(&if normal.is_empty() { "/" } else { normal }) {
        return Err(usage(format!(
            "refusing to mount over the image's {target}: run from a project directory, or pass --no-cwd"
        )));
    }
    let mut arg = format!(
        "type=bind,source={},target={}",
        m.source.display(),
        m.target.display()
    );
    if m.read_only {
        arg.push_str(",readonly");
    }
    Ok(arg)
}

/// `--env K=V` or `--env K` resolved against `lookup` (the host environment); `None` for an
/// unset `K`, which, as with docker, sets nothing.
pub fn resolve_env(
    spec: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<(String, String)>, Error> {
    let (name, value) = match spec.split_once('=') {
        Some((n, v)) => (n, Some(v.to_string())),
        None => (spec, None),
    };
    if !envfile::is_name(name) {
        return Err(usage(format!(
            "--env {spec:?}: {name:?} is not a variable name"
        )));
    }
    if name.starts_with(envfile::RESERVED) {
        return Err(usage(format!(
            "--env {spec:?}: names starting with {} are run-in-image's own",
            envfile::RESERVED
        )));
    }
    Ok(value
        .or_else(|| lookup(name))
        .map(|v| (name.to_string(), v)))
}

/// The working directory inside: `--workdir` (relative to the current directory), else the
/// current directory unless it is not mounted.
fn workdir(req: &Request, sur: &Surroundings) -> Option<PathBuf> {
    match &req.workdir {
        Some(dir) => Some(sur.cwd.join(dir)),
        None if req.no_cwd => None,
        None => Some(sur.cwd.clone()),
    }
}

/// The engine's argv (program first) that runs `req.command` in `image`.
pub fn container_argv(
    engine: &Engine,
    image: &str,
    req: &Request,
    sur: &Surroundings,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<OsString>, Error> {
    if req.command.is_empty() {
        return Err(usage(
            "no command given: run-in-image [OPTIONS] -- CMD [ARGS...]",
        ));
    }
    if image.is_empty() || image.starts_with('-') || image.contains(char::is_whitespace) {
        return Err(usage(format!("--image {image:?} is not an image name")));
    }
    let mut argv: Vec<OsString> = vec![engine.program.clone().into()];
    let mut push = |s: &str| argv.push(s.into());
    push("run");
    push("--rm");
    push("--init");
    let tty = sur.stdin_tty && sur.stdout_tty && sur.stderr_tty;
    if !sur.stdin_tty || tty {
        push("-i");
    }
    if tty {
        push("-t");
    }
    match (&req.user, engine.kind) {
        (Some(spec), _) => {
            push("--user");
            push(spec);
        }
        (None, Kind::Podman) if sur.uid != 0 => push("--userns=keep-id"),
        (None, _) => {
            push("--user");
            push(&format!("{}:{}", sur.uid, sur.gid));
        }
    }
    if req.user.is_none() && sur.uid != 0 {
        push("--env");
        push("HOME=/tmp");
    }
    let mut mounts = Vec::new();
    if !req.no_cwd {
        mounts.push(Mount {
            source: sur.cwd.clone(),
            target: sur.cwd.clone(),
            read_only: false,
        });
    }
    for spec in &req.mounts {
        mounts.push(parse_mount(spec, &sur.cwd)?);
    }
    for m in &mounts {
        push("--mount");
        push(&mount_arg(m)?);
    }
    if let Some(dir) = workdir(req, sur) {
        push("--workdir");
        argv.push(dir.into_os_string());
    }
    let mut push = |s: &str| argv.push(s.into());
    if req.ptrace {
        push("--cap-add=SYS_PTRACE");
        push("--security-opt");
        push("seccomp=unconfined");
    }
    let mut literals = Vec::new();
    for spec in &req.env {
        if let Some((name, value)) = resolve_env(spec, lookup)? {
            literals.push((name, value));
        }
    }
    if req.assignments.is_empty() {
        for (name, value) in &literals {
            push("--env");
            push(&format!("{name}={value}"));
        }
    }
    push(image);
    if !req.assignments.is_empty() {
        // --env entries come after the file's, so that they win, as they do with docker.
        let mut all = req.assignments.clone();
        all.extend(literals.iter().map(|(n, v)| envfile::literal(n, v)));
        push("/bin/sh");
        push("-c");
        push(envfile::EXPANDER);
        push("run-in-image");
        for step in envfile::expander_args(&all) {
            push(&step);
        }
        push("--");
    }
    argv.extend(req.command.iter().cloned());
    Ok(argv)
}

/// The same command on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPlan {
    /// The program and its arguments.
    pub command: Vec<OsString>,
    /// Variables to set, in order.
    pub env: Vec<(String, String)>,
    /// Working directory (`--workdir`), if any.
    pub cwd: Option<PathBuf>,
}

impl HostPlan {
    /// An equivalent `env [-C DIR] K=V… CMD…` argv, for `--dry-run`.
    pub fn display_argv(&self) -> Vec<OsString> {
        let mut argv: Vec<OsString> = vec!["env".into()];
        if let Some(dir) = &self.cwd {
            argv.push("-C".into());
            argv.push(dir.clone().into_os_string());
        }
        argv.extend(
            self.env
                .iter()
                .map(|(n, v)| OsString::from(format!("{n}={v}"))),
        );
        argv.extend(self.command.iter().cloned());
        argv
    }
}

/// Plans `req` on the host: the env files expanded against the host environment (`PWD` being
/// the working directory), then `--env`.
pub fn host_plan(
    req: &Request,
    sur: &Surroundings,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<HostPlan, Error> {
    if req.command.is_empty() {
        return Err(usage(
            "no command given: run-in-image --host [OPTIONS] -- CMD [ARGS...]",
        ));
    }
    if !req.mounts.is_empty() {
        return Err(usage(
            "--mount has no meaning with --host: the host's paths are used as they are",
        ));
    }
    let cwd = req.workdir.as_ref().map(|d| sur.cwd.join(d));
    let pwd = cwd.clone().unwrap_or_else(|| sur.cwd.clone());
    let pwd_text = pwd.display().to_string();
    let lookup_here = |name: &str| {
        if name == "PWD" {
            Some(pwd_text.clone())
        } else {
            lookup(name)
        }
    };
    let mut env = envfile::expand(&req.assignments, lookup_here)?;
    for spec in &req.env {
        if let Some((name, value)) = resolve_env(spec, lookup)? {
            env.retain(|(n, _)| *n != name);
            env.push((name, value));
        }
    }
    if cwd.is_some() && !env.iter().any(|(n, _)| n == "PWD") {
        env.push(("PWD".into(), pwd_text.clone()));
    }
    Ok(HostPlan {
        command: req.command.clone(),
        env,
        cwd,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(kind: Kind) -> Engine {
        Engine {
            program: PathBuf::from(if kind == Kind::Docker {
                "/usr/bin/docker"
            } else {
                "/usr/bin/podman"
            }),
            kind,
        }
    }

    fn sur(uid: u32, stdin_tty: bool, out_tty: bool) -> Surroundings {
        Surroundings {
            cwd: PathBuf::from("/work/proj"),
            uid,
            gid: uid + 1,
            stdin_tty,
            stdout_tty: out_tty,
            stderr_tty: out_tty,
        }
    }

    fn strings(argv: &[OsString]) -> Vec<String> {
        argv.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    fn request(cmd: &[&str]) -> Request {
        Request {
            command: cmd.iter().map(OsString::from).collect(),
            ..Request::default()
        }
    }

    const NONE: &dyn Fn(&str) -> Option<String> = &|_| None;

    #[test]
    fn the_plain_command_line() {
        let argv = container_argv(
            &engine(Kind::Docker),
            "img:1",
            &request(&["python3", "-c", "x; y"]),
            &sur(1000, false, false),
            NONE,
        )
        .unwrap();
        assert_eq!(
            strings(&argv),
            [
                "/usr/bin/docker",
                "run",
                "--rm",
                "--init",
                "-i",
                "--user",
                "1000:1001",
                "--env",
                "HOME=/tmp",
                "--mount",
                "type=bind,source=/work/proj,target=/work/proj",
                "--workdir",
                "/work/proj",
                "img:1",
                "python3",
                "-c",
                "x; y"
            ]
        );
    }

    #[test]
    fn terminals_decide_i_and_t() {
        let flags = |stdin_tty, out_tty| {
            let argv = container_argv(
                &engine(Kind::Docker),
                "i",
                &request(&["x"]),
                &sur(0, stdin_tty, out_tty),
                NONE,
            )
            .unwrap();
            let s = strings(&argv);
            (s.contains(&"-i".to_string()), s.contains(&"-t".to_string()))
        };
        // A pipe or file on stdin is passed through; a terminal only with a terminal inside.
        assert_eq!(flags(false, false), (true, false));
        assert_eq!(flags(false, true), (true, false));
        assert_eq!(flags(true, false), (false, false));
        assert_eq!(flags(true, true), (true, true));
    }

    #[test]
    fn root_runs_as_root_without_a_home_override_and_podman_keeps_the_id() {
        let argv = strings(
            &container_argv(
                &engine(Kind::Docker),
                "i",
                &request(&["x"]),
                &sur(0, false, false),
                NONE,
            )
            .unwrap(),
        );
        assert!(argv.windows(2).any(|w| w == ["--user", "0:1"]), "{argv:?}");
        assert!(!argv.contains(&"HOME=/tmp".to_string()));
        let argv = strings(
            &container_argv(
                &engine(Kind::Podman),
                "i",
                &request(&["x"]),
                &sur(1000, false, false),
                NONE,
            )
            .unwrap(),
        );
        assert!(argv.contains(&"--userns=keep-id".to_string()), "{argv:?}");
        assert!(!argv.contains(&"--user".to_string()), "{argv:?}");
        let mut req = request(&["x"]);
        req.user = Some("root".into());
        let argv = strings(
            &container_argv(
                &engine(Kind::Docker),
                "i",
                &req,
                &sur(1000, false, false),
                NONE,
            )
            .unwrap(),
        );
        assert!(argv.windows(2).any(|w| w == ["--user", "root"]), "{argv:?}");
        assert!(!argv.contains(&"HOME=/tmp".to_string()));
    }

    #[test]
    fn ptrace_adds_exactly_the_capability_and_the_profile() {
        let mut req = request(&["gdb"]);
        req.ptrace = true;
        let argv = strings(
            &container_argv(
                &engine(Kind::Docker),
                "i",
                &req,
                &sur(0, false, false),
                NONE,
            )
            .unwrap(),
        );
        let at = argv
            .iter()
            .position(|a| a == "--cap-add=SYS_PTRACE")
            .unwrap();
        assert_eq!(
            argv[at + 1..at + 3],
            ["--security-opt", "seccomp=unconfined"]
        );
        assert!(!argv.iter().any(|a| a.contains("privileged")));
    }

    #[test]
    fn env_files_go_through_the_expander_and_env_wins() {
        let mut req = request(&["printenv", "A"]);
        req.assignments = envfile::parse("f", "export A=$HOME/x\nexport B=1").unwrap();
        req.env = vec!["B=2".into(), "C".into(), "UNSET".into()];
        let lookup = |n: &str| (n == "C").then(|| "from-host".to_string());
        let argv = strings(
            &container_argv(
                &engine(Kind::Docker),
                "img",
                &req,
                &sur(0, false, false),
                &lookup,
            )
            .unwrap(),
        );
        let at = argv.iter().position(|a| a == "img").unwrap();
        assert_eq!(argv[at + 1..at + 4], ["/bin/sh", "-c", envfile::EXPANDER]);
        assert_eq!(
            argv[at + 4..],
            [
                "run-in-image",
                "=A",
                "VHOME",
                "L/x",
                "E",
                "=B",
                "L1",
                "E",
                "=B",
                "L2",
                "E",
                "=C",
                "Lfrom-host",
                "E",
                "--",
                "printenv",
                "A"
            ]
        );
        // Without an env file, --env is docker's own -e.
        req.assignments.clear();
        let argv = strings(
            &container_argv(
                &engine(Kind::Docker),
                "img",
                &req,
                &sur(0, false, false),
                &lookup,
            )
            .unwrap(),
        );
        assert!(argv.windows(2).any(|w| w == ["--env", "B=2"]), "{argv:?}");
        assert!(
            argv.windows(2).any(|w| w == ["--env", "C=from-host"]),
            "{argv:?}"
        );
        assert!(!argv.iter().any(|a| a.contains("UNSET")), "{argv:?}");
    }

    #[test]
    fn mounts_and_workdirs() {
        let cwd = std::env::temp_dir();
        let m = parse_mount(".:/src:ro", &cwd).unwrap();
        assert_eq!((m.target.as_path(), m.read_only), (Path::new("/src"), true));
        assert_eq!(
            mount_arg(&m).unwrap(),
            format!("type=bind,source={}/.,target=/src,readonly", cwd.display())
        );
        for (spec, needle) in [
            ("a", "expected HOST:CONTAINER"),
            ("a:b:c:d", "expected HOST:CONTAINER"),
            (".:rel", "must be absolute"),
            ("/nonexistent-dbgpipe:/x", "does not exist"),
            (":/x", "a path is empty"),
        ] {
            let e = parse_mount(spec, &cwd).unwrap_err().to_string();
            assert!(e.contains(needle), "{spec}: {e}");
        }
        let over = Mount {
            source: cwd.clone(),
            target: PathBuf::from("/usr/"),
            read_only: false,
        };
        assert!(mount_arg(&over)
            .unwrap_err()
            .to_string()
            .contains("refusing to mount over"));
        let comma = Mount {
            source: PathBuf::from("/a,b"),
            target: PathBuf::from("/x"),
            read_only: false,
        };
        assert!(mount_arg(&comma).unwrap_err().to_string().contains("comma"));
        let mut req = request(&["x"]);
        req.workdir = Some(PathBuf::from("sub"));
        req.no_cwd = true;
        let argv = strings(
            &container_argv(
                &engine(Kind::Docker),
                "i",
                &req,
                &sur(0, false, false),
                NONE,
            )
            .unwrap(),
        );
        assert!(
            argv.windows(2)
                .any(|w| w == ["--workdir", "/work/proj/sub"]),
            "{argv:?}"
        );
        assert!(!argv.contains(&"--mount".to_string()), "{argv:?}");
    }

    #[test]
    fn bad_requests() {
        let e = container_argv(
            &engine(Kind::Docker),
            "i",
            &request(&[]),
            &sur(0, false, false),
            NONE,
        )
        .unwrap_err();
        assert!(e.to_string().contains("no command given"), "{e}");
        let e = container_argv(
            &engine(Kind::Docker),
            "--privileged",
            &request(&["x"]),
            &sur(0, false, false),
            NONE,
        )
        .unwrap_err();
        assert!(e.to_string().contains("not an image name"), "{e}");
        let mut req = request(&["x"]);
        req.env = vec!["1X=2".into()];
        let e = container_argv(
            &engine(Kind::Docker),
            "i",
            &req,
            &sur(0, false, false),
            NONE,
        )
        .unwrap_err();
        assert!(e.to_string().contains("not a variable name"), "{e}");
        let mut req = request(&["x"]);
        req.mounts = vec!["a:/b".into()];
        let e = host_plan(&req, &sur(0, false, false), NONE).unwrap_err();
        assert!(
            e.to_string().contains("--mount has no meaning with --host"),
            "{e}"
        );
    }

    #[test]
    fn the_host_plan_expands_with_the_host_environment() {
        let mut req = request(&["make", "test"]);
        req.assignments = envfile::parse("f", "export PATH=$PATH:$PWD/bin\nexport B=1").unwrap();
        req.env = vec!["B=2".into()];
        req.workdir = Some(PathBuf::from("sub"));
        let lookup = |n: &str| (n == "PATH").then(|| "/usr/bin".to_string());
        let plan = host_plan(&req, &sur(0, false, false), &lookup).unwrap();
        assert_eq!(
            plan.env,
            [
                (
                    "PATH".to_string(),
                    "/usr/bin:/work/proj/sub/bin".to_string()
                ),
                ("B".to_string(), "2".to_string()),
                ("PWD".to_string(), "/work/proj/sub".to_string()),
            ]
        );
        assert_eq!(
            strings(&plan.display_argv()),
            [
                "env",
                "-C",
                "/work/proj/sub",
                "PATH=/usr/bin:/work/proj/sub/bin",
                "B=2",
                "PWD=/work/proj/sub",
                "make",
                "test"
            ]
        );
    }
}
