//! dbg-image: the recipe for an image with a debug build of CPython beside valgrind, gdb and
//! memray, its content-derived tag, building it, checking it, and making a base image from
//! debootstrap for machines that cannot pull one.
//!
//! # One template
//! [`Recipe::dockerfile`] is the only source of the Dockerfiles: `dbg-image dockerfile` prints
//! it, `dbg-image build` builds it, and `docker/Dockerfile.debian` and `docker/Dockerfile.source`
//! are its output for the default Python with `--from debian` and `--from source` (a test checks
//! that they still are). Two recipes:
//! - `debian`: the distribution's `python3.X-dbg` (built with `--with-pydebug`) and
//!   `python3.X-dev`, with `PYTHONMALLOC=malloc` set in the image, since Debian's debug build
//!   keeps pymalloc and Valgrind must see every allocation;
//! - `source`: a CPython release tarball from python.org, checked against its SHA-256 (the
//!   table [`SOURCE_RELEASES`]), configured `--with-pydebug --with-valgrind --without-pymalloc
//!   OPT=-g` and installed with `make altinstall` as `/usr/local/bin/python3.X-dbg`.
//!
//! Both install gcc and the headers, so extensions are built inside the image for its
//! interpreter, and memray from PyPI into a venv of the distribution's *release* interpreter:
//! memray's wheels are built for the release ABI, which a debug interpreter cannot import.
//!
//! # The tag
//! `dbgpipe/python-dbg:X.Y-HASH`, where HASH is the start of the SHA-256 of everything the
//! build sees: the Dockerfile text and the build context. An unchanged recipe therefore maps to
//! an existing image and is not rebuilt; any change to the text makes a new tag. The base image
//! is named, not hashed: a newer `debian:bookworm` under the same name does not change the tag
//! (`--force` rebuilds).
//!
//! # Certificates
//! Behind a proxy that intercepts TLS, pip inside the build cannot reach PyPI unless it trusts
//! the proxy's certificate authority as the host does. The build context therefore carries the
//! host's locally added authorities, `/usr/local/share/ca-certificates/**/*.crt` (Debian's place
//! for them), and the recipe installs them with `update-ca-certificates`; pip is pointed at the
//! system bundle. Where there are none, the directory is empty and nothing changes.

use crate::image::engine::{first_line, Engine};
use crate::Error;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The Python version when none is given: the one Debian's stable release ships.
pub const DEFAULT_PYTHON: &str = "3.11";

/// The memray release installed; pinned, so that the recipe's text (and so its tag) says
/// exactly what is in the image.
pub const MEMRAY_VERSION: &str = "1.20.0";

/// Repository part of the content tags.
pub const IMAGE_REPOSITORY: &str = "dbgpipe/python-dbg";

/// Repository part of the debootstrap base images' tags (`dbgpipe/debootstrap:SUITE`).
pub const BASE_REPOSITORY: &str = "dbgpipe/debootstrap";

/// Where Debian keeps locally added certificate authorities.
pub const HOST_CA_DIR: &str = "/usr/local/share/ca-certificates";

/// The Debian mirror debootstrap uses by default.
pub const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";

/// The tools `--with` knows; any other name is an extra Debian package.
pub const TOOLS: &[&str] = &["valgrind", "gdb", "memray"];

/// Which Debian release ships `python3.X-dbg` for each version, for `--from debian` without
/// `--base`.
pub const DEBIAN_RELEASES: &[(&str, &str)] = &[
    ("3.9", "bullseye"),
    ("3.11", "bookworm"),
    ("3.13", "trixie"),
];

/// CPython release tarballs the source recipe can build: (version, SHA-256 of
/// `Python-VERSION.tar.xz` as published on python.org). `--python X.Y` takes the entry of that
/// minor version.
pub const SOURCE_RELEASES: &[(&str, &str)] = &[
    (
        "3.9.25",
        "00e07d7c0f2f0cc002432d1ee84d2a40dae404a99303e3f97701c10966c91834",
    ),
    (
        "3.10.19",
        "c8f4a596572201d81dd7df91f70e177e19a70f1d489968b54b5fbbf29a97c076",
    ),
    (
        "3.11.14",
        "8d3ed8ec5c88c1c95f5e558612a725450d2452813ddad5e58fdb1a53b1209b78",
    ),
    (
        "3.12.12",
        "fb85a13414b028c49ba18bbd523c2d055a30b56b18b92ce454ea2c51edc656c4",
    ),
    (
        "3.13.9",
        "ed5ef34cda36cfa2f3a340f07cac7e7814f91c7f3c411f6d3562323a866c5c66",
    ),
    (
        "3.14.0",
        "2299dae542d395ce3883aca00d3c910307cd68e0b2f7336098c8e7b7eee9f3e9",
    ),
];

/// Where the interpreter comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The distribution's `python3.X-dbg` package.
    Debian,
    /// A python.org release tarball, built in the image.
    Source,
}

impl Origin {
    /// The name used on the command line and in labels.
    pub fn name(self) -> &'static str {
        match self {
            Origin::Debian => "debian",
            Origin::Source => "source",
        }
    }
}

/// What to build: everything the Dockerfile depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipe {
    /// `X.Y`.
    pub python: String,
    /// For the source recipe: the release built (`X.Y.Z`) and its tarball's SHA-256.
    pub release: Option<(String, String)>,
    /// Where the interpreter comes from.
    pub origin: Origin,
    /// The `FROM` image.
    pub base: String,
    /// Tools among [`TOOLS`], in the order given.
    pub tools: Vec<String>,
    /// Extra Debian packages.
    pub packages: Vec<String>,
}

fn usage(message: impl Into<String>) -> Error {
    Error::at("recipe", None, message)
}

/// `X.Y` or `X.Y.Z`, digits only.
fn split_version(version: &str) -> Option<(String, Option<String>)> {
    let fields: Vec<&str> = version.split('.').collect();
    let numeric = |s: &&str| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit());
    match fields.as_slice() {
        [x, y] if [x, y].iter().all(|f| numeric(f)) => Some((format!("{x}.{y}"), None)),
        [x, y, _] if fields.iter().all(numeric) => {
            Some((format!("{x}.{y}"), Some(version.to_string())))
        }
        _ => None,
    }
}

/// True for a plausible image reference: no blanks or quotes that could change the Dockerfile.
fn is_image_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/:@".contains(&b))
}

/// True for a Debian package name (policy 5.6.1).
fn is_package_name(name: &str) -> bool {
    name.len() >= 2
        && name.as_bytes()[0].is_ascii_lowercase() | name.as_bytes()[0].is_ascii_digit()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
}

impl Default for Recipe {
    fn default() -> Self {
        Recipe::new(None, None, None, None).expect("the default recipe is valid")
    }
}

impl Recipe {
    /// The recipe for the command-line choices; `None` takes the default. `--from` defaults to
    /// `debian` where a Debian release ships the version, else `source`.
    pub fn new(
        python: Option<&str>,
        origin: Option<Origin>,
        base: Option<&str>,
        with: Option<&[String]>,
    ) -> Result<Recipe, Error> {
        let asked = python.unwrap_or(DEFAULT_PYTHON);
        let (minor, patch) = split_version(asked)
            .ok_or_else(|| usage(format!("--python {asked:?} is not a version X.Y or X.Y.Z")))?;
        let debian = DEBIAN_RELEASES.iter().find(|(v, _)| *v == minor);
        let origin = origin.unwrap_or(match (debian, &patch) {
            (Some(_), None) => Origin::Debian,
            _ => Origin::Source,
        });
        let release = match origin {
            Origin::Debian => {
                if patch.is_some() {
                    return Err(usage(format!(
                        "--from debian installs the distribution's python{minor}-dbg; a patch release ({asked}) needs --from source"
                    )));
                }
                None
            }
            Origin::Source => {
                let known = SOURCE_RELEASES.iter().find(|(v, _)| match &patch {
                    Some(p) => v == p,
                    None => split_version(v).is_some_and(|(m, _)| m == minor),
                });
                let (v, sha) = known.ok_or_else(|| {
                    let list: Vec<&str> = SOURCE_RELEASES.iter().map(|(v, _)| *v).collect();
                    usage(format!(
                        "no checksum known for CPython {asked}: the source recipe builds {}",
                        list.join(", ")
                    ))
                })?;
                Some((v.to_string(), sha.to_string()))
            }
        };
        let base = match base {
            Some(b) if is_image_name(b) => b.to_string(),
            Some(b) => return Err(usage(format!("--base {b:?} is not an image name"))),
            None => match (origin, debian) {
                (Origin::Debian, Some((_, suite))) => format!("debian:{suite}"),
                (Origin::Debian, None) => {
                    let list: Vec<String> = DEBIAN_RELEASES
                        .iter()
                        .map(|(v, s)| format!("{v} ({s})"))
                        .collect();
                    return Err(usage(format!(
                        "no Debian release ships python{minor}-dbg (Debian has {}): use --from source, or --base an image whose apt has it",
                        list.join(", ")
                    )));
                }
                (Origin::Source, _) => "debian:bookworm".to_string(),
            },
        };
        let default_with: Vec<String> = TOOLS.iter().map(|t| t.to_string()).collect();
        let mut tools = Vec::new();
        let mut packages = Vec::new();
        for item in with.unwrap_or(&default_with) {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            if TOOLS.contains(&item) {
                if !tools.iter().any(|t| t == item) {
                    tools.push(item.to_string());
                }
            } else if is_package_name(item) {
                if !packages.iter().any(|p| p == item) {
                    packages.push(item.to_string());
                }
            } else {
                return Err(usage(format!(
                    "--with {item:?} is neither one of {} nor a Debian package name",
                    TOOLS.join(", ")
                )));
            }
        }
        Ok(Recipe {
            python: minor,
            release,
            origin,
            base,
            tools,
            packages,
        })
    }

    /// The debug interpreter's path inside the image.
    pub fn interpreter(&self) -> String {
        match self.origin {
            Origin::Debian => format!("/usr/bin/python{}-dbg", self.python),
            Origin::Source => format!("/usr/local/bin/python{}-dbg", self.python),
        }
    }

    fn has(&self, tool: &str) -> bool {
        self.tools.iter().any(|t| t == tool)
    }

    /// The `--with` list: tools, then packages.
    pub fn with_list(&self) -> String {
        let all: Vec<&str> = self
            .tools
            .iter()
            .chain(&self.packages)
            .map(String::as_str)
            .collect();
        all.join(",")
    }

    /// The `dbg-image dockerfile` arguments that make this recipe, every value spelt out, so
    /// that equal recipes have equal text (and so equal tags) however they were asked for.
    pub fn canonical_args(&self) -> String {
        let python = match &self.release {
            Some((version, _)) => version.clone(),
            None => self.python.clone(),
        };
        format!(
            "--python {python} --from {} --base {} --with {}",
            self.origin.name(),
            self.base,
            self.with_list()
        )
    }

    /// The Dockerfile.
    pub fn dockerfile(&self) -> String {
        let py = &self.python;
        let mut s = String::new();
        s.push_str(&format!(
            "# Generated by `dbg-image dockerfile {}`.\n\
             # Do not edit: docker/Dockerfile.* are regenerated from the same template by\n\
             # `cargo xtask image --regenerate`, and `dbg-image build` tags the image by this text.\n#\n",
            self.canonical_args()
        ));
        match &self.release {
            None => s.push_str(&format!(
                "# CPython {py} as a debug build (Py_DEBUG: sys.gettotalrefcount) from the distribution's\n\
                 # python{py}-dbg, for finding leaks and crashes in native extensions.\n"
            )),
            Some((version, _)) => s.push_str(&format!(
                "# CPython {version} built from python.org's release tarball as a debug build (Py_DEBUG:\n\
                 # sys.gettotalrefcount, Valgrind client requests, no pymalloc, no optimisation), for\n\
                 # finding leaks and crashes in native extensions.\n"
            )),
        }
        if !self.tools.is_empty() {
            s.push_str(&format!("# With {}.\n", self.tools.join(", ")));
        }
        s.push_str(&format!("FROM {}\n\n", self.base));
        s.push_str(&format!(
            "LABEL org.dbgpipe.recipe=\"{}\" \\\n      org.dbgpipe.python=\"{py}\" \\\n      \
             org.dbgpipe.interpreter=\"{}\" \\\n      org.dbgpipe.with=\"{}\"\n\n",
            self.origin.name(),
            self.interpreter(),
            self.with_list()
        ));
        s.push_str("ARG DEBIAN_FRONTEND=noninteractive\n");
        s.push_str(
            "ENV LANG=C.UTF-8 \\\n    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        );
        if self.origin == Origin::Debian {
            // Debian's debug build keeps pymalloc, whose arenas hide allocations from Valgrind.
            s.push_str(" \\\n    PYTHONMALLOC=malloc");
        }
        s.push_str("\n\n");

        // The release interpreter memray runs under, and the packages that bring it.
        let (release_python, release_packages): (String, Vec<String>) = match self.origin {
            Origin::Debian => (format!("python{py}"), vec![format!("python{py}-venv")]),
            Origin::Source => (
                "python3".into(),
                vec!["python3".into(), "python3-venv".into()],
            ),
        };
        let mut packages: Vec<String> = Vec::new();
        let mut comment = Vec::new();
        match self.origin {
            Origin::Debian => {
                comment.push(format!(
                    "python{py}-dbg is the debug interpreter; python{py}-dev the headers for the release one;"
                ));
                comment.push("gcc builds extensions here, for the image's interpreters;".into());
                packages.extend([
                    format!("python{py}-dbg"),
                    format!("python{py}-dev"),
                    "gcc".into(),
                    "libc6-dev".into(),
                ]);
            }
            Origin::Source => {
                comment.push(
                    "curl and xz fetch and unpack the release; the -dev packages are CPython's"
                        .into(),
                );
                comment.push(
                    "optional modules; valgrind's headers are needed by --with-valgrind;".into(),
                );
                packages.extend(
                    [
                        "curl",
                        "xz-utils",
                        "gcc",
                        "make",
                        "libc6-dev",
                        "pkg-config",
                        "libssl-dev",
                        "zlib1g-dev",
                        "libbz2-dev",
                        "liblzma-dev",
                        "libffi-dev",
                        "libsqlite3-dev",
                        "libreadline-dev",
                        "libncurses-dev",
                        "libgdbm-dev",
                        "libgdbm-compat-dev",
                        "uuid-dev",
                        "valgrind",
                    ]
                    .map(String::from),
                );
            }
        }
        if self.has("valgrind") && !packages.iter().any(|p| p == "valgrind") {
            packages.push("valgrind".into());
        }
        if self.has("gdb") {
            packages.push("gdb".into());
        }
        if self.has("valgrind") || self.has("gdb") {
            comment.push("libc6-dbg lets valgrind and gdb name libc's frames;".into());
            packages.push("libc6-dbg".into());
        }
        if self.has("memray") {
            comment.push(format!(
                "{} for memray (see below);",
                release_packages.join(" and ")
            ));
            packages.extend(release_packages);
        }
        comment.push("ca-certificates for pip and curl.".into());
        packages.push("ca-certificates".into());
        for p in &self.packages {
            if !packages.contains(p) {
                packages.push(p.clone());
            }
        }
        for line in &comment {
            s.push_str(&format!("# {line}\n"));
        }
        s.push_str("RUN apt-get update \\\n && apt-get install -y --no-install-recommends \\\n");
        s.push_str(&wrap(&packages, "      ", 90));
        s.push_str(" \\\n && rm -rf /var/lib/apt/lists/*\n\n");

        s.push_str(
            "# Certificate authorities the host added (dbg-image build copies them into the build\n\
             # context; empty on most machines), for networks whose proxy intercepts TLS.\n\
             COPY ca-certificates/ /usr/local/share/ca-certificates/\n\
             RUN update-ca-certificates\n\n",
        );

        if let Some((version, sha)) = &self.release {
            s.push_str(&format!(
                "# The release tarball, checked against the SHA-256 python.org publishes. The tree stays\n\
                 # in /usr/src/python (objects removed) so that gdb can list the interpreter's source.\n\
                 # `make altinstall` leaves the distribution's python3 alone; python{py}-dbg names the\n\
                 # debug interpreter as Debian does; python-gdb.py, auto-loaded for both of the names\n\
                 # `make altinstall` gives it, gives gdb py-bt.\n\
                 RUN curl -fsSL -o /tmp/Python.tar.xz https://www.python.org/ftp/python/{version}/Python-{version}.tar.xz \\\n \
                 && echo \"{sha}  /tmp/Python.tar.xz\" | sha256sum -c - \\\n \
                 && mkdir -p /usr/src/python \\\n \
                 && tar -xJf /tmp/Python.tar.xz -C /usr/src/python --strip-components=1 \\\n \
                 && rm /tmp/Python.tar.xz \\\n \
                 && cd /usr/src/python \\\n \
                 && ./configure --prefix=/usr/local --with-pydebug --with-valgrind --without-pymalloc OPT=-g \\\n \
                 && make -j\"$(nproc)\" \\\n \
                 && make altinstall \\\n \
                 && ln -s python{py} /usr/local/bin/python{py}-dbg \\\n \
                 && mkdir -p /usr/share/gdb/auto-load/usr/local/bin \\\n \
                 && for exe in python{py} python{py}d; do \\\n      \
                 cp python-gdb.py \"/usr/share/gdb/auto-load/usr/local/bin/$exe-gdb.py\"; done \\\n \
                 && make clean\n\n"
            ));
        }

        if self.has("memray") {
            s.push_str(&format!(
                "# memray's wheels are built for the release ABI, which the debug interpreter cannot\n\
                 # import: it gets a venv of the release interpreter {release_python}. pip is pointed at the\n\
                 # system bundle, which holds the authorities added above.\n\
                 RUN {release_python} -m venv /opt/memray \\\n \
                 && /opt/memray/bin/pip install --no-cache-dir --disable-pip-version-check \\\n      \
                 --cert /etc/ssl/certs/ca-certificates.crt memray=={MEMRAY_VERSION} \\\n \
                 && ln -s /opt/memray/bin/memray /usr/local/bin/memray\n"
            ));
        }
        s
    }
}

/// Packages as continued lines of at most `width` columns.
fn wrap(words: &[String], indent: &str, width: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::from(indent);
    for w in words {
        if line.len() > indent.len() && line.len() + 1 + w.len() > width {
            lines.push(std::mem::replace(&mut line, String::from(indent)));
        }
        if line.len() > indent.len() {
            line.push(' ');
        }
        line.push_str(w);
    }
    lines.push(line);
    lines.join(" \\\n")
}

/// Everything `docker build` sees: the Dockerfile and the certificate files of its context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The Dockerfile's text.
    pub dockerfile: String,
    /// `ca-certificates/NAME` files: (name, content), sorted by name.
    pub certificates: Vec<(String, Vec<u8>)>,
}

impl Context {
    /// A context for a Dockerfile, with the `*.crt` files under `ca_dir` (none when `None` or
    /// missing). Files in subdirectories are flattened to `sub-name.crt`.
    pub fn new(dockerfile: String, ca_dir: Option<&Path>) -> Result<Context, Error> {
        let mut certificates = Vec::new();
        if let Some(dir) = ca_dir.filter(|d| d.is_dir()) {
            collect_certificates(dir, "", &mut certificates)?;
        }
        certificates.sort();
        Ok(Context {
            dockerfile,
            certificates,
        })
    }

    /// The content tag: `dbgpipe/python-dbg:PYTHON-HASH`.
    pub fn tag(&self, python: &str) -> String {
        let mut hash = Sha256::new();
        // A version prefix, so that a change in how the context is laid out changes every tag.
        hash.update(b"dbgpipe-image-context-1\0");
        hash.update((self.dockerfile.len() as u64).to_le_bytes());
        hash.update(self.dockerfile.as_bytes());
        for (name, content) in &self.certificates {
            hash.update((name.len() as u64).to_le_bytes());
            hash.update(name.as_bytes());
            hash.update((content.len() as u64).to_le_bytes());
            hash.update(content);
        }
        let digest = hash.finalize();
        let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        let python: String = python
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
            .collect();
        format!("{IMAGE_REPOSITORY}:{python}-{hex}")
    }

    /// Writes the context into `dir`.
    fn write(&self, dir: &Path) -> Result<(), Error> {
        let io = |p: &Path, e: std::io::Error| Error::io(&p.display().to_string(), &e);
        let certs = dir.join("ca-certificates");
        std::fs::create_dir_all(&certs).map_err(|e| io(&certs, e))?;
        let file = dir.join("Dockerfile");
        std::fs::write(&file, &self.dockerfile).map_err(|e| io(&file, e))?;
        for (name, content) in &self.certificates {
            let path = certs.join(name);
            std::fs::write(&path, content).map_err(|e| io(&path, e))?;
        }
        Ok(())
    }

    /// The Python version a Dockerfile declares in its `org.dbgpipe.python` label.
    pub fn declared_python(&self) -> Option<String> {
        label_value(&self.dockerfile, "org.dbgpipe.python")
    }
}

/// The value of `KEY="VALUE"` in a Dockerfile's text.
fn label_value(text: &str, key: &str) -> Option<String> {
    let start = text.find(&format!("{key}=\""))? + key.len() + 2;
    let end = text[start..].find('"')? + start;
    Some(text[start..end].to_string())
}

fn collect_certificates(
    dir: &Path,
    prefix: &str,
    out: &mut Vec<(String, Vec<u8>)>,
) -> Result<(), Error> {
    let name = dir.display().to_string();
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(&name, &e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(&name, &e))?;
        let path = entry.path();
        let file = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            collect_certificates(&path, &format!("{prefix}{file}-"), out)?;
        } else if file.ends_with(".crt") {
            let content =
                std::fs::read(&path).map_err(|e| Error::io(&path.display().to_string(), &e))?;
            out.push((format!("{prefix}{file}"), content));
        }
    }
    Ok(())
}

/// The context of a recipe on this host (its certificates included): what `dbg-image build`
/// builds and what run-in-image's default image is.
pub fn host_context(recipe: &Recipe) -> Result<Context, Error> {
    Context::new(recipe.dockerfile(), Some(Path::new(HOST_CA_DIR)))
}

/// The tag `dbg-image build` gives the default recipe on this host.
pub fn default_tag() -> Result<String, Error> {
    let recipe = Recipe::default();
    Ok(host_context(&recipe)?.tag(&recipe.python))
}

/// The record `dbg-image build` prints.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImageRecord {
    /// Always `image`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The content tag.
    pub tag: String,
    /// The engine's image id.
    pub id: String,
    /// `X.Y` of the debug interpreter found in the image.
    pub python: Option<String>,
    /// Its path in the image.
    pub interpreter: String,
    /// Its full version.
    pub version: Option<String>,
    /// `sys.gettotalrefcount` exists: a `--with-pydebug` build.
    pub debug_build: bool,
    /// valgrind's version when it ran a program in the image, else null.
    pub valgrind: Option<String>,
    /// gdb's version when it ran, else null.
    pub gdb: Option<String>,
    /// memray's version when it ran, else null.
    pub memray: Option<String>,
    /// memray's path in the image.
    pub memray_path: Option<String>,
    /// The release interpreter memray runs under.
    pub memray_python: Option<String>,
    /// `debian` or `source`, from the image's label (null for other Dockerfiles).
    pub recipe: Option<String>,
    /// `docker` or `podman`.
    pub engine: String,
    /// False when the image already existed under its tag and nothing was built.
    pub built: bool,
    /// Time taken, in seconds.
    pub seconds: f64,
    /// What the check found wrong; empty for a good image.
    pub problems: Vec<String>,
}

/// The record `dbg-image base` prints.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BaseRecord {
    /// Always `base`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `dbgpipe/debootstrap:SUITE`.
    pub tag: String,
    /// The engine's image id.
    pub id: String,
    /// The Debian suite.
    pub suite: String,
    /// debootstrap's variant.
    pub variant: String,
    /// The mirror it was fetched from.
    pub mirror: String,
    /// `docker` or `podman`.
    pub engine: String,
    /// False when the image already existed.
    pub built: bool,
    /// Time taken, in seconds.
    pub seconds: f64,
}

/// The check run inside a built image by its debug interpreter: a fixed program whose JSON
/// answer becomes the record. valgrind must run a program (a missing `ld.so` redirection only
/// shows then) and gdb must start, not merely print versions.
pub const PROBE: &str = r##"import json, os, platform, shutil, subprocess, sys
def run(argv):
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    except (OSError, subprocess.SubprocessError) as e:
        return None, str(e)
    return p.returncode, p.stdout.decode("utf-8", "replace")
def first(text):
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    return lines[0] if lines else ""
out = {"executable": sys.executable, "python": "%d.%d" % sys.version_info[:2],
       "version": platform.python_version(), "debug_build": hasattr(sys, "gettotalrefcount"),
       "valgrind": None, "gdb": None, "memray": None, "memray_path": None, "memray_python": None,
       "problems": []}
if not out["debug_build"]:
    out["problems"].append("not a debug build: sys.gettotalrefcount is missing")
code, text = run(["valgrind", "--version"])
if code == 0:
    c, t = run(["valgrind", "-q", "--error-exitcode=99", "true"])
    if c == 0:
        out["valgrind"] = first(text).replace("valgrind-", "")
    else:
        out["problems"].append("valgrind cannot run a program: " + first(t))
else:
    out["problems"].append("valgrind: " + first(text))
code, text = run(["gdb", "--version"])
if code == 0:
    c, t = run(["gdb", "-nx", "-batch", "-ex", "print 6*7"])
    if c == 0 and "42" in t:
        out["gdb"] = first(text).split()[-1]
    else:
        out["problems"].append("gdb does not start: " + first(t))
else:
    out["problems"].append("gdb: " + first(text))
path = shutil.which("memray")
if path:
    code, text = run([path, "--version"])
    if code == 0:
        out["memray"] = first(text).split()[-1]
        out["memray_path"] = path
        try:
            with open(os.path.realpath(path), "rb") as f:
                line = f.readline().decode("utf-8", "replace")
            if line.startswith("#!"):
                out["memray_python"] = line[2:].strip()
        except OSError:
            pass
    else:
        out["problems"].append("memray: " + first(text))
else:
    out["problems"].append("memray: not on PATH")
print(json.dumps(out))
"##;

/// What [`PROBE`] prints.
#[derive(Debug, Deserialize)]
struct Probe {
    executable: Option<String>,
    python: Option<String>,
    version: Option<String>,
    debug_build: bool,
    valgrind: Option<String>,
    gdb: Option<String>,
    memray: Option<String>,
    memray_path: Option<String>,
    memray_python: Option<String>,
    problems: Vec<String>,
}

/// Removes a directory tree when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> Result<TempDir, Error> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("{what}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir.display().to_string(), &e))?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // A mount left inside (debootstrap mounts /proc while it runs) must not be walked
        // into: remove nothing then, and say where the tree is.
        if mounted_under(&self.0) {
            eprintln!(
                "dbg-image: {} still has mounts; left in place",
                self.0.display()
            );
            return;
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// True when some mount point lies under `dir`.
fn mounted_under(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return true;
    };
    let prefix = format!("{}/", dir.display());
    text.lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .any(|mount| mount.starts_with(&prefix))
}

/// Builds the context's image unless its tag exists (or `force`), then checks it.
///
/// `python` is the version used in the tag when the Dockerfile declares none. The engine's
/// progress goes to stderr. The record says what the check found; a failed build is an error.
pub fn build(
    engine: &Engine,
    context: &Context,
    python: &str,
    force: bool,
) -> Result<ImageRecord, Error> {
    let start = Instant::now();
    let declared = context.declared_python();
    let python = declared.as_deref().unwrap_or(python);
    let tag = context.tag(python);
    let existing = if force { None } else { engine.image_id(&tag)? };
    let built = existing.is_none();
    if built {
        let dir = TempDir::new("dbg-image")?;
        context.write(&dir.0)?;
        eprintln!(
            "dbg-image: building {tag} with {} (its progress follows)",
            engine.name()
        );
        let mut cmd = engine.command();
        cmd.args(["build", "--force-rm", "--tag", &tag]);
        if force {
            cmd.arg("--no-cache");
        }
        cmd.arg("--file").arg(dir.0.join("Dockerfile")).arg(&dir.0);
        let status = cmd
            .stdin(Stdio::null())
            .stdout(std::io::stderr())
            .stderr(std::io::stderr())
            .status()
            .map_err(|e| Error::at(&format!("{} build", engine.name()), None, e.to_string()))?;
        if !status.success() {
            return Err(Error::at(
                &format!("{} build", engine.name()),
                None,
                format!("failed ({status}); its output is above"),
            ));
        }
    }
    let id = engine
        .image_id(&tag)?
        .ok_or_else(|| Error::at(&tag, None, "the engine built no image under this tag"))?;
    let labels = engine.labels(&tag)?;
    let label = |key: &str| labels.get(key).and_then(|v| v.as_str()).map(str::to_string);
    let interpreter =
        label("org.dbgpipe.interpreter").unwrap_or_else(|| format!("python{python}-dbg"));
    let wanted: Vec<String> = match label("org.dbgpipe.with") {
        Some(list) => list.split(',').map(str::to_string).collect(),
        None => vec!["valgrind".into(), "gdb".into()],
    };
    let probe = run_probe(engine, &tag, &interpreter)?;
    let mut problems: Vec<String> = Vec::new();
    if !probe.debug_build {
        problems.push(format!(
            "{interpreter} is not a debug build: sys.gettotalrefcount is missing"
        ));
    }
    for p in &probe.problems {
        let tool = p
            .split(':')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .next()
            .unwrap_or("");
        if TOOLS.contains(&tool) && !wanted.iter().any(|w| w == tool) {
            continue;
        }
        if !p.starts_with("not a debug build") {
            problems.push(p.clone());
        }
    }
    Ok(ImageRecord {
        kind: "image".into(),
        tag,
        id,
        python: probe.python,
        interpreter: probe.executable.unwrap_or(interpreter),
        version: probe.version,
        debug_build: probe.debug_build,
        valgrind: probe.valgrind,
        gdb: probe.gdb,
        memray: probe.memray,
        memray_path: probe.memray_path,
        memray_python: probe.memray_python,
        recipe: label("org.dbgpipe.recipe"),
        engine: engine.name().into(),
        built,
        seconds: round(start.elapsed().as_secs_f64()),
        problems,
    })
}

fn round(seconds: f64) -> f64 {
    (seconds * 10.0).round() / 10.0
}

/// Runs [`PROBE`] in a throwaway container of `tag` with its debug interpreter.
fn run_probe(engine: &Engine, tag: &str, interpreter: &str) -> Result<Probe, Error> {
    let what = format!("checking {tag}");
    let out = engine
        .command()
        .args([
            "run",
            "--rm",
            "--network",
            "none",
            "--entrypoint",
            interpreter,
            tag,
        ])
        .args(["-I", "-c", PROBE])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::at(&what, None, e.to_string()))?;
    if !out.status.success() {
        return Ok(Probe {
            executable: None,
            python: None,
            version: None,
            debug_build: false,
            valgrind: None,
            gdb: None,
            memray: None,
            memray_path: None,
            memray_python: None,
            problems: vec![format!(
                "{interpreter} did not run in the image: {}",
                first_line(&out.stderr)
            )],
        });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).map_err(|e| {
        Error::at(
            &what,
            None,
            format!(
                "the check printed no JSON ({e}): {}",
                first_line(&out.stdout)
            ),
        )
    })
}

/// True for a Debian suite or codename.
fn is_suite(suite: &str) -> bool {
    !suite.is_empty()
        && suite.as_bytes()[0].is_ascii_lowercase()
        && suite
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.".contains(&b))
}

/// `dbgpipe/debootstrap:SUITE`.
pub fn base_tag(suite: &str) -> String {
    format!("{BASE_REPOSITORY}:{suite}")
}

/// Makes (or finds) the base image of a Debian suite: `debootstrap --variant=minbase` into a
/// temporary root, then `tar | engine import`. Needs root, as debootstrap does.
pub fn base(engine: &Engine, suite: &str, mirror: &str, force: bool) -> Result<BaseRecord, Error> {
    let start = Instant::now();
    if !is_suite(suite) {
        return Err(usage(format!(
            "{suite:?} is not a Debian suite name (bookworm, trixie, stable…)"
        )));
    }
    if !(mirror.starts_with("http://")
        || mirror.starts_with("https://")
        || mirror.starts_with("file:/"))
    {
        return Err(usage(format!(
            "--mirror {mirror:?} is not an http(s) or file URL"
        )));
    }
    let tag = base_tag(suite);
    let record = |id: String, built: bool| BaseRecord {
        kind: "base".into(),
        tag: tag.clone(),
        id,
        suite: suite.into(),
        variant: "minbase".into(),
        mirror: mirror.into(),
        engine: engine.name().into(),
        built,
        seconds: round(start.elapsed().as_secs_f64()),
    };
    if !force {
        if let Some(id) = engine.image_id(&tag)? {
            return Ok(record(id, false));
        }
    }
    let debootstrap = crate::image::engine::find_program("debootstrap")
        .or_else(|| {
            let p = Path::new("/usr/sbin/debootstrap");
            p.is_file().then(|| p.to_path_buf())
        })
        .ok_or_else(|| {
            Error::at(
                "debootstrap",
                None,
                "not found: install it (apt-get install debootstrap)",
            )
        })?;
    let dir = TempDir::new("dbg-image-base")?;
    let root = dir.0.join("root");
    eprintln!("dbg-image: debootstrap {suite} from {mirror} (its progress follows)");
    let status = Command::new(&debootstrap)
        .arg("--variant=minbase")
        .arg(suite)
        .arg(&root)
        .arg(mirror)
        .stdin(Stdio::null())
        .stdout(std::io::stderr())
        .stderr(std::io::stderr())
        .status()
        .map_err(|e| Error::at("debootstrap", None, e.to_string()))?;
    if !status.success() {
        return Err(Error::at(
            "debootstrap",
            None,
            format!("failed ({status}); its output is above (it needs root and the mirror)"),
        ));
    }
    eprintln!("dbg-image: importing the root filesystem as {tag}");
    let mut tar = Command::new("tar")
        .arg("--numeric-owner")
        .arg("-C")
        .arg(&root)
        .args(["-c", "."])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| Error::at("tar", None, e.to_string()))?;
    let tar_out = tar
        .stdout
        .take()
        .ok_or_else(|| Error::at("tar", None, "no output pipe"))?;
    let imported = engine
        .command()
        .args(["import", "--change", "CMD [\"/bin/bash\"]"])
        .arg("--change")
        .arg(format!(
            "LABEL org.dbgpipe.suite={suite} org.dbgpipe.variant=minbase"
        ))
        .args(["-", &tag])
        .stdin(tar_out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| Error::at(&format!("{} import", engine.name()), None, e.to_string()))?;
    let tar_status = tar
        .wait()
        .map_err(|e| Error::at("tar", None, e.to_string()))?;
    if !tar_status.success() {
        return Err(Error::at("tar", None, format!("failed ({tar_status})")));
    }
    if !imported.status.success() {
        return Err(Error::at(
            &format!("{} import", engine.name()),
            None,
            format!(
                "failed ({}): {}",
                imported.status,
                first_line(&imported.stderr)
            ),
        ));
    }
    let id = engine
        .image_id(&tag)?
        .ok_or_else(|| Error::at(&tag, None, "the engine imported no image under this tag"))?;
    Ok(record(id, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_debian_where_it_has_the_version() {
        let r = Recipe::default();
        assert_eq!(r.python, "3.11");
        assert_eq!(r.origin, Origin::Debian);
        assert_eq!(r.base, "debian:bookworm");
        assert_eq!(r.tools, ["valgrind", "gdb", "memray"]);
        assert_eq!(r.interpreter(), "/usr/bin/python3.11-dbg");
        let r = Recipe::new(Some("3.13"), None, None, None).unwrap();
        assert_eq!(
            (r.origin, r.base.as_str()),
            (Origin::Debian, "debian:trixie")
        );
        let r = Recipe::new(Some("3.12"), None, None, None).unwrap();
        assert_eq!(r.origin, Origin::Source);
        assert_eq!(r.release.as_ref().unwrap().0, "3.12.12");
        assert_eq!(r.interpreter(), "/usr/local/bin/python3.12-dbg");
        let r = Recipe::new(Some("3.11.14"), None, None, None).unwrap();
        assert_eq!(r.origin, Origin::Source);
    }

    #[test]
    fn bad_choices_are_errors_that_say_why() {
        let with = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for (python, origin, base, w, needle) in [
            (Some("3"), None, None, None, "not a version"),
            (Some("3.x"), None, None, None, "not a version"),
            (
                Some("3.12"),
                Some(Origin::Debian),
                None,
                None,
                "no Debian release ships python3.12-dbg",
            ),
            (
                Some("3.11.2"),
                Some(Origin::Debian),
                None,
                None,
                "needs --from source",
            ),
            (
                Some("3.8"),
                Some(Origin::Source),
                None,
                None,
                "no checksum known for CPython 3.8",
            ),
            (Some("3.12.99"), None, None, None, "no checksum known"),
            (
                None,
                None,
                Some("debian:bookworm\nRUN rm -rf /"),
                None,
                "is not an image name",
            ),
            (None, None, Some("a b"), None, "is not an image name"),
            (
                None,
                None,
                None,
                Some(with(&["gdb", "Bad Name"])),
                "neither one of",
            ),
            (None, None, None, Some(with(&["gdb;rm"])), "neither one of"),
        ] {
            let error = Recipe::new(python, origin, base, w.as_deref())
                .unwrap_err()
                .to_string();
            assert!(error.contains(needle), "{error}");
        }
    }

    #[test]
    fn equal_recipes_have_equal_text_and_tags() {
        let a = Recipe::new(Some("3.12"), Some(Origin::Source), None, None).unwrap();
        let b = Recipe::new(Some("3.12.12"), None, Some("debian:bookworm"), None).unwrap();
        assert_eq!(a.dockerfile(), b.dockerfile());
        let ca = Context::new(a.dockerfile(), None).unwrap();
        assert_eq!(
            ca.tag("3.12"),
            Context::new(b.dockerfile(), None).unwrap().tag("3.12")
        );
        assert!(ca.tag("3.12").starts_with("dbgpipe/python-dbg:3.12-"));
        let c = Context::new(a.dockerfile() + "\n", None).unwrap();
        assert_ne!(ca.tag("3.12"), c.tag("3.12"));
        let d = Context {
            certificates: vec![("x.crt".into(), b"cert".to_vec())],
            ..ca.clone()
        };
        assert_ne!(ca.tag("3.12"), d.tag("3.12"));
        assert_eq!(ca.declared_python().as_deref(), Some("3.12"));
    }

    #[test]
    fn the_debian_recipe() {
        let text = Recipe::default().dockerfile();
        assert!(text.contains("\nFROM debian:bookworm\n"), "{text}");
        for needle in [
            "python3.11-dbg python3.11-dev gcc libc6-dev valgrind gdb libc6-dbg python3.11-venv",
            "PYTHONMALLOC=malloc",
            "org.dbgpipe.interpreter=\"/usr/bin/python3.11-dbg\"",
            "RUN python3.11 -m venv /opt/memray",
            "memray==1.20.0",
            "COPY ca-certificates/ /usr/local/share/ca-certificates/",
            "--python 3.11 --from debian --base debian:bookworm --with valgrind,gdb,memray",
        ] {
            assert!(text.contains(needle), "{needle}\n{text}");
        }
        assert!(!text.contains("python.org"), "{text}");
    }

    #[test]
    fn the_source_recipe() {
        let r = Recipe::new(
            None,
            Some(Origin::Source),
            Some("dbgpipe/debootstrap:bookworm"),
            None,
        )
        .unwrap();
        let text = r.dockerfile();
        for needle in [
            "FROM dbgpipe/debootstrap:bookworm",
            "https://www.python.org/ftp/python/3.11.14/Python-3.11.14.tar.xz",
            "8d3ed8ec5c88c1c95f5e558612a725450d2452813ddad5e58fdb1a53b1209b78  /tmp/Python.tar.xz\" | sha256sum -c -",
            "./configure --prefix=/usr/local --with-pydebug --with-valgrind --without-pymalloc OPT=-g",
            "make altinstall",
            "ln -s python3.11 /usr/local/bin/python3.11-dbg",
            "RUN python3 -m venv /opt/memray",
        ] {
            assert!(text.contains(needle), "{needle}\n{text}");
        }
        assert!(!text.contains("PYTHONMALLOC"), "{text}");
    }

    #[test]
    fn with_chooses_tools_and_extra_packages() {
        let with: Vec<String> = ["gdb", "strace", "gdb"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let r = Recipe::new(None, None, None, Some(&with)).unwrap();
        assert_eq!(r.with_list(), "gdb,strace");
        let text = r.dockerfile();
        assert!(text.contains("      python3.11-dbg python3.11-dev gcc libc6-dev gdb libc6-dbg ca-certificates strace \\\n"), "{text}");
        assert!(!text.contains("memray"), "{text}");
    }

    #[test]
    fn certificates_are_collected_flat_and_sorted() {
        let dir = std::env::temp_dir().join(format!("dbgpipe-ca-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("corp")).unwrap();
        std::fs::write(dir.join("b.crt"), "B").unwrap();
        std::fs::write(dir.join("corp/a.crt"), "A").unwrap();
        std::fs::write(dir.join("notes.txt"), "no").unwrap();
        let ctx = Context::new("FROM x\n".into(), Some(&dir)).unwrap();
        let names: Vec<&str> = ctx.certificates.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["b.crt", "corp-a.crt"]);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(Context::new("x".into(), Some(&dir))
            .unwrap()
            .certificates
            .is_empty());
    }

    #[test]
    fn labels_are_read_from_the_text() {
        assert_eq!(
            label_value("LABEL a.b=\"1\" \\\n c=\"2\"", "c").as_deref(),
            Some("2")
        );
        assert_eq!(label_value("FROM x", "c"), None);
        assert!(
            is_suite("bookworm")
                && is_suite("stable-updates")
                && !is_suite("../x")
                && !is_suite("")
        );
    }
}
