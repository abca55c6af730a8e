//! What to build: the [`Recipe`] (the choices of `--python`, `--from`, `--base`, `--with`,
//! checked and spelt out), the [`Context`] `docker build` sees (the Dockerfile and the host's
//! certificate authorities), and the content tag derived from it.
//!
//! The recipe's text is [`crate::image::dockerfile`]'s; building it is
//! [`crate::image::build`]'s.
//!
//! # The tag
//! `dbgpipe/python-dbg:X.Y-HASH`, where HASH is the start of the SHA-256 of everything the
//! build sees: the Dockerfile text and the build context. An unchanged recipe therefore maps to
//! an existing image and is not rebuilt; any change to the text makes a new tag. The base image
//! is named, not hashed: a newer `debian:bookworm` under the same name does not change the tag
//! (`--force` rebuilds).
//!
//! The source recipe's tarball is in the text as its SHA-256 (python.org's and a `--tarball`
//! file's; the build checks the bytes against it), or as the Debian source package it comes
//! from, whose `.dsc` the build checks it against: the same text builds the same CPython.
//!
//! # Certificates
//! Behind a proxy that intercepts TLS, pip inside the build cannot reach PyPI unless it trusts
//! the proxy's certificate authority as the host does. The build context therefore carries the
//! host's locally added authorities, `/usr/local/share/ca-certificates/**/*.crt` (Debian's place
//! for them), and the recipe installs them with `update-ca-certificates`; pip is pointed at the
//! system bundle. Where there are none, the directory is empty and nothing changes.

use crate::Error;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The Python version when none is given: the one Debian's stable release ships.
pub const DEFAULT_PYTHON: &str = "3.11";

/// The memray release installed; pinned, so that the recipe's text (and so its tag) says
/// exactly what is in the image.
pub const MEMRAY_VERSION: &str = "1.20.0";

/// Repository part of the content tags.
pub const IMAGE_REPOSITORY: &str = "dbgpipe/python-dbg";

/// Where Debian keeps locally added certificate authorities.
pub const HOST_CA_DIR: &str = "/usr/local/share/ca-certificates";

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

/// python.org release tarballs outside [`SOURCE_RELEASES`] whose SHA-256 dbg-image knows, by
/// python.org's file name, to check tarballs that came another way. Debian's orig tarball of
/// bookworm's python3.11 (`python3.11_3.11.2.orig.tar.gz`) is python.org's
/// `Python-3.11.2.tgz`, byte for byte (the `.dsc`'s checksum is this one).
pub const OTHER_TARBALLS: &[(&str, &str)] = &[(
    "Python-3.11.2.tgz",
    "2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849",
)];

/// The SHA-256 dbg-image knows for a python.org tarball's file name (`Python-X.Y.Z.tar.xz`
/// from [`SOURCE_RELEASES`], or one of [`OTHER_TARBALLS`]).
pub fn known_sha256(python_org_name: &str) -> Option<&'static str> {
    SOURCE_RELEASES
        .iter()
        .find(|(v, _)| python_org_name == format!("Python-{v}.tar.xz"))
        .or_else(|| OTHER_TARBALLS.iter().find(|(n, _)| *n == python_org_name))
        .map(|(_, sha)| *sha)
}

/// Where the interpreter comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The distribution's `python3.X-dbg` package.
    Debian,
    /// A CPython release tarball, built in the image ([`Tarball`] says which and whence).
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

/// Where the source recipe's CPython tarball comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// python.org's release tarball, fetched in the build and checked against
    /// [`SOURCE_RELEASES`].
    PythonOrg,
    /// The orig tarball of Debian's `pythonX.Y` source package, fetched in the build from the
    /// base's own Debian mirror (`apt-get source --download-only`) and checked against its
    /// `.dsc`: the way to the source where only the package registries can be reached.
    DebianOrig,
    /// A release tarball on this machine (`--tarball FILE`), copied into the build context.
    File,
}

impl Source {
    /// The name in the image record and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Source::PythonOrg => "python.org",
            Source::DebianOrig => "debian-orig",
            Source::File => "file",
        }
    }
}

/// The source recipe's tarball.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tarball {
    /// Where it comes from.
    pub source: Source,
    /// The release, `X.Y.Z`; `None` for Debian's when no patch release was asked: whichever
    /// the base's Debian release ships.
    pub version: Option<String>,
    /// Its SHA-256 when known before the build (python.org's and a file's); Debian's is
    /// read from the `.dsc` in the build.
    pub sha256: Option<String>,
    /// For [`Source::File`]: the file, and the name it has in the build context.
    pub file: Option<(PathBuf, String)>,
}

/// How the source recipe is to get its tarball: the `--source` and `--tarball` choices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetch {
    /// From python.org.
    PythonOrg,
    /// From Debian's source package.
    Debian,
    /// This file.
    File(PathBuf),
}

/// What to build: everything the Dockerfile depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipe {
    /// `X.Y`.
    pub python: String,
    /// For the source recipe: the tarball built and where it comes from.
    pub tarball: Option<Tarball>,
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

/// `3.9 (bullseye), 3.11 (bookworm), …`: the versions Debian ships, for messages.
fn debian_list() -> String {
    let list: Vec<String> = DEBIAN_RELEASES
        .iter()
        .map(|(v, s)| format!("{v} ({s})"))
        .collect();
    list.join(", ")
}

/// python.org's tarball of `asked` (`X.Y`: the release [`SOURCE_RELEASES`] has for it).
fn python_org(asked: &str, minor: &str, patch: Option<&str>) -> Result<Tarball, Error> {
    let known = SOURCE_RELEASES.iter().find(|(v, _)| match patch {
        Some(p) => *v == p,
        None => split_version(v).is_some_and(|(m, _)| m == minor),
    });
    let (v, sha) = known.ok_or_else(|| {
        let list: Vec<&str> = SOURCE_RELEASES.iter().map(|(v, _)| *v).collect();
        usage(format!(
            "no checksum known for CPython {asked}: the source recipe builds {} from python.org (or any release from --tarball FILE)",
            list.join(", ")
        ))
    })?;
    Ok(Tarball {
        source: Source::PythonOrg,
        version: Some(v.to_string()),
        sha256: Some(sha.to_string()),
        file: None,
    })
}

/// The release (`X.Y.Z`) a tarball's file name names: python.org's `Python-X.Y.Z.tar.xz` or
/// `Python-X.Y.Z.tgz`, or Debian's `pythonX.Y_X.Y.Z.orig.tar.gz` (or `.xz`).
pub fn tarball_release(name: &str) -> Option<String> {
    let version = if let Some(rest) = name.strip_prefix("Python-") {
        rest.strip_suffix(".tar.xz")
            .or_else(|| rest.strip_suffix(".tgz"))?
    } else {
        let (package, rest) = name.strip_prefix("python")?.split_once('_')?;
        let version = rest
            .strip_suffix(".orig.tar.gz")
            .or_else(|| rest.strip_suffix(".orig.tar.xz"))?;
        if !version.starts_with(&format!("{package}.")) {
            return None;
        }
        version
    };
    match split_version(version)? {
        (_, Some(patch)) => Some(patch),
        _ => None,
    }
}

/// python.org's name for a tarball named by [`tarball_release`]: Debian's orig tarball of a
/// release is upstream's, `.tar.gz` python.org's `.tgz`.
pub fn python_org_name(name: &str) -> Option<String> {
    let version = tarball_release(name)?;
    if name.starts_with("Python-") {
        return Some(name.to_string());
    }
    let ext = if name.ends_with(".gz") {
        "tgz"
    } else {
        "tar.xz"
    };
    Some(format!("Python-{version}.{ext}"))
}

/// A `--tarball` file's release and file name, from its name.
fn file_release(path: &Path) -> Result<(String, String), Error> {
    let shown = path.display().to_string();
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::at(&shown, None, "is not a file name"))?;
    let version = tarball_release(name).ok_or_else(|| {
        Error::at(
            &shown,
            None,
            "cannot tell the CPython release from the name: expected python.org's Python-X.Y.Z.tar.xz or .tgz, or Debian's pythonX.Y_X.Y.Z.orig.tar.gz",
        )
    })?;
    Ok((version, name.to_string()))
}

/// The SHA-256 of a file, in hex.
pub fn file_sha256(path: &Path) -> Result<String, Error> {
    let shown = path.display().to_string();
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(&shown, &e))?;
    let mut hash = Sha256::new();
    std::io::copy(&mut file, &mut hash).map_err(|e| Error::io(&shown, &e))?;
    Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
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
        Recipe::new(None, None, None, None, None).expect("the default recipe is valid")
    }
}

impl Recipe {
    /// The recipe for the command-line choices; `None` takes the default. `--from` defaults to
    /// `debian` where a Debian release ships the version (and no tarball is chosen), else
    /// `source`; the source recipe's tarball defaults to python.org's (`dbg-image` chooses
    /// between python.org and Debian by whether python.org answers:
    /// [`crate::image::python_org::reachable`]). A `--tarball` file is read here, for its
    /// SHA-256.
    pub fn new(
        python: Option<&str>,
        origin: Option<Origin>,
        base: Option<&str>,
        with: Option<&[String]>,
        fetch: Option<&Fetch>,
    ) -> Result<Recipe, Error> {
        // A tarball names its release: it is the version when --python is not given.
        let from_file = match fetch {
            Some(Fetch::File(path)) => Some(file_release(path)?.0),
            _ => None,
        };
        let asked = python.or(from_file.as_deref()).unwrap_or(DEFAULT_PYTHON);
        let (minor, patch) = split_version(asked)
            .ok_or_else(|| usage(format!("--python {asked:?} is not a version X.Y or X.Y.Z")))?;
        let debian = DEBIAN_RELEASES.iter().find(|(v, _)| *v == minor);
        let origin = origin.unwrap_or(match (debian, &patch, fetch) {
            (Some(_), None, None) => Origin::Debian,
            _ => Origin::Source,
        });
        let tarball = match origin {
            Origin::Debian => {
                if fetch.is_some() {
                    return Err(usage(format!(
                        "--source and --tarball choose the source recipe's tarball; --from debian installs the distribution's python{minor}-dbg"
                    )));
                }
                if patch.is_some() {
                    return Err(usage(format!(
                        "--from debian installs the distribution's python{minor}-dbg; a patch release ({asked}) needs --from source"
                    )));
                }
                None
            }
            Origin::Source => Some(match fetch.unwrap_or(&Fetch::PythonOrg) {
                Fetch::PythonOrg => python_org(asked, &minor, patch.as_deref())?,
                Fetch::Debian => {
                    if debian.is_none() {
                        return Err(usage(format!(
                            "no Debian release has a python{minor} source package (Debian has {}): use --source python.org or --tarball FILE",
                            debian_list()
                        )));
                    }
                    Tarball {
                        source: Source::DebianOrig,
                        version: patch.clone(),
                        sha256: None,
                        file: None,
                    }
                }
                Fetch::File(path) => {
                    let (version, name) = file_release(path)?;
                    if split_version(&version).is_some_and(|(m, _)| m != minor)
                        || patch.as_ref().is_some_and(|p| *p != version)
                    {
                        return Err(Error::at(
                            &path.display().to_string(),
                            None,
                            format!("is CPython {version}'s tarball, not {asked}'s (--python)"),
                        ));
                    }
                    let sha = file_sha256(path)?;
                    let known =
                        python_org_name(&name).and_then(|n| known_sha256(&n).map(|k| (n, k)));
                    if let Some((official, known)) = known.filter(|(_, k)| *k != sha) {
                        return Err(Error::at(
                            &path.display().to_string(),
                            None,
                            format!("SHA-256 {sha} is not python.org's for {official} ({known})"),
                        ));
                    }
                    Tarball {
                        source: Source::File,
                        version: Some(version),
                        sha256: Some(sha),
                        file: Some((path.clone(), name)),
                    }
                }
            }),
        };
        let base = match base {
            Some(b) if is_image_name(b) => {
                // A base named after a Debian release that has no such source package would
                // fail in the build, after minutes; say so now.
                let suite = b.rsplit(':').next().unwrap_or("");
                let ships = DEBIAN_RELEASES.iter().find(|(_, s)| *s == suite);
                if let (
                    Some(Tarball {
                        source: Source::DebianOrig,
                        ..
                    }),
                    Some((v, _)),
                ) = (&tarball, ships)
                {
                    if *v != minor {
                        return Err(usage(format!(
                            "--base {b}: Debian {suite} has the python{v} source package, not python{minor}'s: use a base of {}",
                            debian.map_or("another release", |(_, s)| s)
                        )));
                    }
                }
                b.to_string()
            }
            Some(b) => return Err(usage(format!("--base {b:?} is not an image name"))),
            None => match (origin, debian) {
                (Origin::Debian, Some((_, suite))) => format!("debian:{suite}"),
                (Origin::Debian, None) => {
                    return Err(usage(format!(
                        "no Debian release ships python{minor}-dbg (Debian has {}): use --from source, or --base an image whose apt has it",
                        debian_list()
                    )));
                }
                // Debian's source package comes from the base's own release.
                (Origin::Source, Some((_, suite)))
                    if tarball
                        .as_ref()
                        .is_some_and(|t| t.source == Source::DebianOrig) =>
                {
                    format!("debian:{suite}")
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
            tarball,
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

    /// Whether `tool` (one of [`TOOLS`]) is to be installed.
    pub fn has(&self, tool: &str) -> bool {
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
        let python = match self.tarball.as_ref().and_then(|t| t.version.as_ref()) {
            Some(version) => version.clone(),
            None => self.python.clone(),
        };
        let source = match &self.tarball {
            None => String::new(),
            Some(Tarball {
                file: Some((_, name)),
                ..
            }) => format!(" --tarball {name}"),
            Some(Tarball {
                source: Source::DebianOrig,
                ..
            }) => " --source debian".into(),
            Some(_) => " --source python.org".into(),
        };
        format!(
            "--python {python} --from {}{source} --base {} --with {}",
            self.origin.name(),
            self.base,
            self.with_list()
        )
    }

    /// The Dockerfile ([`crate::image::dockerfile::render`]).
    pub fn dockerfile(&self) -> String {
        crate::image::dockerfile::render(self)
    }
}

/// Everything `docker build` sees: the Dockerfile, the certificate files of its context and
/// the source recipe's `--tarball` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The Dockerfile's text.
    pub dockerfile: String,
    /// `ca-certificates/NAME` files: (name, content), sorted by name.
    pub certificates: Vec<(String, Vec<u8>)>,
    /// A tarball file and its name in the context. Not hashed into the tag: the text holds
    /// its SHA-256, which the build checks.
    pub tarball: Option<(PathBuf, String)>,
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
            tarball: None,
        })
    }

    /// The context of a recipe: its Dockerfile, the certificates under `ca_dir`, and its
    /// tarball file when it has one.
    pub fn of(recipe: &Recipe, ca_dir: Option<&Path>) -> Result<Context, Error> {
        let mut context = Context::new(recipe.dockerfile(), ca_dir)?;
        context.tarball = recipe.tarball.as_ref().and_then(|t| t.file.clone());
        Ok(context)
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

/// Reads a Dockerfile given to `dbg-image build` (`-`: standard input): at most
/// [`crate::input::MAX_SMALL_FILE`] bytes (a Dockerfile is a few kilobytes, and standard input
/// may be anything), UTF-8, not blank.
pub fn read_dockerfile(path: &Path) -> Result<String, Error> {
    use crate::input::{read_file_capped, read_to_end_capped, MAX_SMALL_FILE};
    let stdin = path == Path::new("-");
    let name = if stdin {
        "<stdin>".to_string()
    } else {
        path.display().to_string()
    };
    let bytes = if stdin {
        read_to_end_capped(&name, std::io::stdin(), MAX_SMALL_FILE)?
    } else {
        read_file_capped(path, MAX_SMALL_FILE)?
    };
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::at(&name, None, "is not UTF-8 text, so not a Dockerfile"))?;
    if text.trim().is_empty() {
        return Err(Error::at(&name, None, "is empty, so not a Dockerfile"));
    }
    Ok(text)
}

/// The context of a recipe on this host (its certificates included): what `dbg-image build`
/// builds and what run-in-image's default image is.
pub fn host_context(recipe: &Recipe) -> Result<Context, Error> {
    Context::of(recipe, Some(Path::new(HOST_CA_DIR)))
}

/// The tag `dbg-image build` gives the default recipe on this host.
pub fn default_tag() -> Result<String, Error> {
    let recipe = Recipe::default();
    Ok(host_context(&recipe)?.tag(&recipe.python))
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
        let r = Recipe::new(Some("3.13"), None, None, None, None).unwrap();
        assert_eq!(
            (r.origin, r.base.as_str()),
            (Origin::Debian, "debian:trixie")
        );
        let r = Recipe::new(Some("3.12"), None, None, None, None).unwrap();
        assert_eq!(r.origin, Origin::Source);
        assert_eq!(
            r.tarball.as_ref().unwrap().version.as_deref(),
            Some("3.12.12")
        );
        assert_eq!(r.interpreter(), "/usr/local/bin/python3.12-dbg");
        let r = Recipe::new(Some("3.11.14"), None, None, None, None).unwrap();
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
            let error = Recipe::new(python, origin, base, w.as_deref(), None)
                .unwrap_err()
                .to_string();
            assert!(error.contains(needle), "{error}");
        }
    }

    #[test]
    fn equal_recipes_have_equal_text_and_tags() {
        let a = Recipe::new(Some("3.12"), Some(Origin::Source), None, None, None).unwrap();
        let b = Recipe::new(Some("3.12.12"), None, Some("debian:bookworm"), None, None).unwrap();
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

    fn source(python: Option<&str>, base: Option<&str>, fetch: &Fetch) -> Result<Recipe, Error> {
        Recipe::new(python, Some(Origin::Source), base, None, Some(fetch))
    }

    #[test]
    fn the_source_recipe_from_python_org() {
        let r = source(
            None,
            Some("dbgpipe/debootstrap:bookworm"),
            &Fetch::PythonOrg,
        )
        .unwrap();
        let text = r.dockerfile();
        for needle in [
            "FROM dbgpipe/debootstrap:bookworm",
            "curl xz-utils gcc",
            "https://www.python.org/ftp/python/3.11.14/Python-3.11.14.tar.xz",
            "8d3ed8ec5c88c1c95f5e558612a725450d2452813ddad5e58fdb1a53b1209b78  /tmp/Python.tar\" | sha256sum -c -",
            "echo \"python.org Python-3.11.14.tar.xz 8d3ed8ec",
            "./configure --prefix=/usr/local --with-pydebug --with-valgrind --without-pymalloc OPT=-g",
            "make -j\"$(nproc)\"",
            "make altinstall",
            "ln -s python3.11 /usr/local/bin/python3.11-dbg",
            "RUN python3 -m venv /opt/memray",
            "--python 3.11.14 --from source --source python.org --base dbgpipe/debootstrap:bookworm",
        ] {
            assert!(text.contains(needle), "{needle}\n{text}");
        }
        assert!(!text.contains("PYTHONMALLOC"), "{text}");
        // The default source is python.org's (the command line chooses by reachability).
        let default = Recipe::new(None, Some(Origin::Source), None, None, None).unwrap();
        assert_eq!(default.tarball.unwrap().source, Source::PythonOrg);
    }

    #[test]
    fn the_source_recipe_from_debian() {
        let r = source(None, None, &Fetch::Debian).unwrap();
        assert_eq!(r.base, "debian:bookworm");
        assert_eq!(r.python, "3.11");
        let text = r.dockerfile();
        for needle in [
            "sed -n 's/^deb /deb-src /p'",
            "sed 's/^Types:.*/Types: deb-src/'",
            "apt-get source --download-only python3.11",
            "orig=$(ls python3.11_*.orig.tar.?z)",
            "echo \"$sha  $orig\" | sha256sum -c -",
            "echo \"debian-orig $orig $sha\" > /usr/local/share/dbgpipe/python-source",
            "rm -f /etc/apt/sources.list.d/dbgpipe-src.*",
            "--with-pydebug --with-valgrind --without-pymalloc",
            "--python 3.11 --from source --source debian --base debian:bookworm",
        ] {
            assert!(text.contains(needle), "{needle}\n{text}");
        }
        assert!(
            !text.contains("python.org/ftp") && !text.contains(" curl "),
            "{text}"
        );
        assert!(!text.contains("case \"$orig\""), "{text}");
        // A patch release asked is checked against the orig tarball's name.
        let exact = source(Some("3.11.2"), None, &Fetch::Debian)
            .unwrap()
            .dockerfile();
        assert!(
            exact.contains("case \"$orig\" in python3.11_3.11.2.orig.tar.?z) ;;"),
            "{exact}"
        );
        // The base follows the release that has the source package.
        let trixie = source(Some("3.13"), None, &Fetch::Debian).unwrap();
        assert_eq!(trixie.base, "debian:trixie");
        for (python, base, needle) in [
            (Some("3.12"), None, "no Debian release has a python3.12 source package"),
            (
                Some("3.13"),
                Some("dbgpipe/debootstrap:bookworm"),
                "Debian bookworm has the python3.11 source package, not python3.13's: use a base of trixie",
            ),
        ] {
            let e = source(python, base, &Fetch::Debian).unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
        // A base not named after a release is the user's to know.
        assert!(source(Some("3.13"), Some("mine:latest"), &Fetch::Debian).is_ok());
    }

    /// Every continued line of every recipe's text goes on with an indented line (`&&`, a
    /// pipe, a package list), never with a bare command that the shell would take as an
    /// argument of the line before.
    #[test]
    fn continued_lines_go_on_indented() {
        let dir = std::env::temp_dir().join(format!("dbgpipe-continued-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // A release dbg-image knows no checksum for: the file's own goes into the text.
        let file = dir.join("Python-3.12.3.tgz");
        std::fs::write(&file, b"x").unwrap();
        let recipes = [
            Recipe::default(),
            source(None, None, &Fetch::PythonOrg).unwrap(),
            source(None, None, &Fetch::Debian).unwrap(),
            source(Some("3.11.2"), None, &Fetch::Debian).unwrap(),
            source(None, None, &Fetch::File(file)).unwrap(),
        ];
        std::fs::remove_dir_all(&dir).unwrap();
        for r in &recipes {
            let text = r.dockerfile();
            let lines: Vec<&str> = text.lines().collect();
            for pair in lines.windows(2) {
                if pair[0].ends_with('\\') {
                    assert!(
                        pair[1].starts_with(' '),
                        "{:?} goes on with {:?}",
                        pair[0],
                        pair[1]
                    );
                }
            }
        }
    }

    #[test]
    fn tarball_names_give_the_release() {
        for (name, release, official) in [
            (
                "Python-3.11.14.tar.xz",
                Some("3.11.14"),
                Some("Python-3.11.14.tar.xz"),
            ),
            (
                "Python-3.11.2.tgz",
                Some("3.11.2"),
                Some("Python-3.11.2.tgz"),
            ),
            (
                "python3.11_3.11.2.orig.tar.gz",
                Some("3.11.2"),
                Some("Python-3.11.2.tgz"),
            ),
            (
                "python3.12_3.12.1.orig.tar.xz",
                Some("3.12.1"),
                Some("Python-3.12.1.tar.xz"),
            ),
            ("python3.11_3.12.1.orig.tar.xz", None, None),
            ("Python-3.13.0rc1.tar.xz", None, None),
            ("Python-3.11.tar.xz", None, None),
            ("Python-3.11.2.zip", None, None),
            ("cpython-3.11.2.tar.gz", None, None),
        ] {
            assert_eq!(tarball_release(name).as_deref(), release, "{name}");
            assert_eq!(python_org_name(name).as_deref(), official, "{name}");
        }
        assert_eq!(
            known_sha256("Python-3.11.2.tgz"),
            Some("2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849")
        );
        assert_eq!(
            known_sha256("Python-3.12.12.tar.xz"),
            Some("fb85a13414b028c49ba18bbd523c2d055a30b56b18b92ce454ea2c51edc656c4")
        );
        assert_eq!(known_sha256("Python-3.11.2.tar.xz"), None);
    }

    #[test]
    fn a_tarball_file_is_checked_and_copied_into_the_context() {
        let dir = std::env::temp_dir().join(format!("dbgpipe-tarball-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // An unknown release: its own SHA-256 goes into the text.
        let file = dir.join("Python-3.12.3.tar.xz");
        std::fs::write(&file, b"not really a tarball").unwrap();
        let sha = file_sha256(&file).unwrap();
        assert_eq!(sha.len(), 64);
        let r = source(None, None, &Fetch::File(file.clone())).unwrap();
        assert_eq!(r.python, "3.12");
        let t = r.tarball.as_ref().unwrap();
        assert_eq!(
            (t.source, t.version.as_deref()),
            (Source::File, Some("3.12.3"))
        );
        let text = r.dockerfile();
        for needle in [
            "COPY Python-3.12.3.tar.xz /tmp/Python.tar\n".to_string(),
            format!("echo \"{sha}  /tmp/Python.tar\" | sha256sum -c -"),
            format!("echo \"file Python-3.12.3.tar.xz {sha}\""),
            "--python 3.12.3 --from source --tarball Python-3.12.3.tar.xz --base debian:bookworm"
                .into(),
        ] {
            assert!(text.contains(&needle), "{needle}\n{text}");
        }
        assert!(
            !text.contains(" curl ") && !text.contains(&dir.display().to_string()),
            "{text}"
        );
        let context = Context::of(&r, None).unwrap();
        assert_eq!(
            context.tarball,
            Some((file.clone(), "Python-3.12.3.tar.xz".into()))
        );
        // Not the release asked for, a known release with other bytes, an unknown name, a
        // missing file: errors naming the file.
        let known = dir.join("Python-3.11.14.tar.xz");
        std::fs::write(&known, b"tampered").unwrap();
        let odd = dir.join("python.tar.xz");
        std::fs::write(&odd, b"x").unwrap();
        for (python, path, needle) in [
            (
                Some("3.11"),
                file.clone(),
                "is CPython 3.12.3's tarball, not 3.11's (--python)",
            ),
            (
                Some("3.12.4"),
                file.clone(),
                "is CPython 3.12.3's tarball, not 3.12.4's",
            ),
            (
                None,
                known.clone(),
                "is not python.org's for Python-3.11.14.tar.xz (8d3ed8ec",
            ),
            (
                None,
                odd.clone(),
                "cannot tell the CPython release from the name",
            ),
            (None, dir.join("Python-3.12.9.tar.xz"), "No such file"),
        ] {
            let e = source(python, None, &Fetch::File(path.clone()))
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(&path.display().to_string()), "{e}");
            assert!(e.contains(needle), "{e}");
        }
        // --from debian takes no tarball.
        let e = Recipe::new(
            None,
            Some(Origin::Debian),
            None,
            None,
            Some(&Fetch::File(file)),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("--source and --tarball choose the source recipe's tarball"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn with_chooses_tools_and_extra_packages() {
        let with: Vec<String> = ["gdb", "strace", "gdb"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let r = Recipe::new(None, None, None, Some(&with), None).unwrap();
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
    fn a_given_dockerfile_is_text_and_not_blank() {
        let dir = std::env::temp_dir().join(format!("dbgpipe-df-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = |name: &str, bytes: &[u8]| {
            let p = dir.join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let good = file("Dockerfile", b"FROM x\r\nRUN true\r\n");
        assert_eq!(read_dockerfile(&good).unwrap(), "FROM x\r\nRUN true\r\n");
        for (path, needle) in [
            (file("blank", b" \n\t\n"), "blank: is empty"),
            (
                file("latin1", b"RUN echo caf\xe9\n"),
                "latin1: is not UTF-8 text",
            ),
            (dir.join("missing"), "missing: No such file"),
        ] {
            let e = read_dockerfile(&path).unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
            assert!(e.starts_with(&dir.display().to_string()), "{e}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn labels_are_read_from_the_text() {
        assert_eq!(
            label_value("LABEL a.b=\"1\" \\\n c=\"2\"", "c").as_deref(),
            Some("2")
        );
        assert_eq!(label_value("FROM x", "c"), None);
    }
}
