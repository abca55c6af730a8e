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
//! # Certificates
//! Behind a proxy that intercepts TLS, pip inside the build cannot reach PyPI unless it trusts
//! the proxy's certificate authority as the host does. The build context therefore carries the
//! host's locally added authorities, `/usr/local/share/ca-certificates/**/*.crt` (Debian's place
//! for them), and the recipe installs them with `update-ca-certificates`; pip is pointed at the
//! system bundle. Where there are none, the directory is empty and nothing changes.

use crate::Error;
use sha2::{Digest, Sha256};
use std::path::Path;

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

    /// The Dockerfile ([`crate::image::dockerfile::render`]).
    pub fn dockerfile(&self) -> String {
        crate::image::dockerfile::render(self)
    }
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
    Context::new(recipe.dockerfile(), Some(Path::new(HOST_CA_DIR)))
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
