//! The base image made without a registry: `debootstrap --variant=minbase` of a Debian suite
//! into a temporary root, imported into the engine as `dbgpipe/debootstrap:SUITE`
//! (`dbg-image base`). On machines that cannot pull `debian:bookworm`, the recipes build on
//! it (`dbg-image build --base dbgpipe/debootstrap:bookworm`).
//!
//! The tag names the suite, not the content: a second run finds the image and makes nothing
//! (`force` makes it again). debootstrap needs root, and so does this.

use crate::image::build::TempDir;
use crate::image::engine::{find_program, first_line, Engine};
use crate::image::records::{seconds, Base};
use crate::Error;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// Repository part of the debootstrap base images' tags (`dbgpipe/debootstrap:SUITE`).
pub const BASE_REPOSITORY: &str = "dbgpipe/debootstrap";

/// The Debian mirror debootstrap uses by default.
pub const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";

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
pub fn base(engine: &Engine, suite: &str, mirror: &str, force: bool) -> Result<Base, Error> {
    let start = Instant::now();
    if !is_suite(suite) {
        return Err(Error::at(
            "--debootstrap",
            None,
            format!("{suite:?} is not a Debian suite name (bookworm, trixie, stable…)"),
        ));
    }
    if !(mirror.starts_with("http://")
        || mirror.starts_with("https://")
        || mirror.starts_with("file:/"))
    {
        return Err(Error::at(
            "--mirror",
            None,
            format!("{mirror:?} is not an http(s) or file URL"),
        ));
    }
    let tag = base_tag(suite);
    let record = |id: String, built: bool| Base {
        tag: tag.clone(),
        id,
        suite: suite.into(),
        variant: "minbase".into(),
        mirror: mirror.into(),
        engine: engine.name().into(),
        built,
        seconds: seconds(start.elapsed()),
    };
    if !force {
        if let Some(id) = engine.image_id(&tag)? {
            return Ok(record(id, false));
        }
    }
    let debootstrap = find_program("debootstrap")
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
    let root = dir.path().join("root");
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
    fn suites_are_names_not_paths() {
        assert!(is_suite("bookworm") && is_suite("stable-updates") && is_suite("trixie"));
        assert!(!is_suite("../x") && !is_suite("") && !is_suite("Bad/Suite"));
        assert_eq!(base_tag("bookworm"), "dbgpipe/debootstrap:bookworm");
    }

    /// Bad names are refused before the engine is asked anything.
    #[test]
    fn bad_suites_and_mirrors_are_refused_first() {
        let engine = Engine {
            program: "/nonexistent/docker".into(),
            kind: crate::image::engine::Kind::Docker,
        };
        let e = base(&engine, "../etc", DEFAULT_MIRROR, false).unwrap_err();
        assert!(e.to_string().contains("is not a Debian suite name"), "{e}");
        let e = base(&engine, "bookworm", "ftp://x", false).unwrap_err();
        assert!(
            e.to_string().contains("is not an http(s) or file URL"),
            "{e}"
        );
    }
}
