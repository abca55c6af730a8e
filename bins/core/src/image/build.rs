//! Building a recipe's image: the build context written to a temporary directory, `docker
//! build` under the content tag unless that tag already exists, then the check
//! ([`crate::image::probe`]) whose answer becomes the [`Image`] record.
//!
//! The tag names the content ([`Context::tag`]), so an existing tag is the same image and
//! nothing is built; `force` rebuilds without the layer cache. The engine's progress goes to
//! standard error, so that standard output holds only the record.

use crate::image::engine::Engine;
use crate::image::probe;
use crate::image::recipe::Context;
use crate::image::records::{seconds, Image};
use crate::Error;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

/// Builds the context's image unless its tag exists (or `force`), then checks it.
///
/// `python` is the version used in the tag when the Dockerfile declares none. The record
/// says what the check found; a failed build is an error.
pub fn build(
    engine: &Engine,
    context: &Context,
    python: &str,
    force: bool,
) -> Result<Image, Error> {
    let start = Instant::now();
    let declared = context.declared_python();
    let python = declared.as_deref().unwrap_or(python);
    let tag = context.tag(python);
    let existing = if force { None } else { engine.image_id(&tag)? };
    let built = existing.is_none();
    if built {
        let dir = TempDir::new("dbg-image")?;
        write_context(context, dir.path())?;
        eprintln!(
            "dbg-image: building {tag} with {} (its progress follows)",
            engine.name()
        );
        let what = format!("{} build", engine.name());
        let mut cmd = engine.command();
        cmd.args(["build", "--force-rm", "--tag", &tag]);
        if force {
            cmd.arg("--no-cache");
        }
        cmd.arg("--file")
            .arg(dir.path().join("Dockerfile"))
            .arg(dir.path());
        let status = cmd
            .stdin(Stdio::null())
            .stdout(std::io::stderr())
            .stderr(std::io::stderr())
            .status()
            .map_err(|e| Error::at(&what, None, e.to_string()))?;
        if !status.success() {
            return Err(Error::at(
                &what,
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
    // A Dockerfile not made by the template has no labels: a debug interpreter of the
    // declared version, with valgrind and gdb, is what any image for these tools needs.
    let interpreter =
        label("org.dbgpipe.interpreter").unwrap_or_else(|| format!("python{python}-dbg"));
    let wanted: Vec<String> = match label("org.dbgpipe.with") {
        Some(list) => list.split(',').map(str::to_string).collect(),
        None => vec!["valgrind".into(), "gdb".into()],
    };
    let recipe = label("org.dbgpipe.recipe");
    let answer = probe::run(engine, &tag, &interpreter)?;
    let problems = answer.problems(&interpreter, &wanted, recipe.as_deref());
    Ok(Image {
        tag,
        id,
        python: answer.python,
        interpreter: answer.executable.unwrap_or(interpreter),
        version: answer.version,
        debug_build: answer.debug_build,
        pymalloc: answer.pymalloc,
        with_valgrind: answer.with_valgrind,
        valgrind: answer.valgrind,
        gdb: answer.gdb,
        memray: answer.memray,
        memray_path: answer.memray_path,
        memray_python: answer.memray_python,
        recipe,
        source: answer.source,
        source_file: answer.source_file,
        source_sha256: answer.source_sha256,
        engine: engine.name().into(),
        built,
        seconds: seconds(start.elapsed()),
        problems,
    })
}

/// Writes the context into `dir`: `Dockerfile`, `ca-certificates/` (empty when the host
/// added no authorities: the template's `COPY` needs the directory) and the source recipe's
/// tarball file, when it has one (hard-linked where it can be, else copied).
fn write_context(context: &Context, dir: &Path) -> Result<(), Error> {
    let io = |p: &Path, e: std::io::Error| Error::io(&p.display().to_string(), &e);
    if let Some((source, name)) = &context.tarball {
        let dest = dir.join(name);
        if std::fs::hard_link(source, &dest).is_err() {
            std::fs::copy(source, &dest).map_err(|e| io(source, e))?;
        }
    }
    let certs = dir.join("ca-certificates");
    std::fs::create_dir_all(&certs).map_err(|e| io(&certs, e))?;
    let file = dir.join("Dockerfile");
    std::fs::write(&file, &context.dockerfile).map_err(|e| io(&file, e))?;
    for (name, content) in &context.certificates {
        let path = certs.join(name);
        std::fs::write(&path, content).map_err(|e| io(&path, e))?;
    }
    Ok(())
}

/// A directory of our own under the temporary directory, removed with everything in it when
/// dropped: a build context, or debootstrap's root.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    /// Makes a new directory `WHAT-PID-N`, readable by its owner only. It is made, not found:
    /// dbg-image runs as root for debootstrap, and a directory someone else made in advance
    /// under `/tmp` must not be used (and later removed) as ours.
    pub(crate) fn new(what: &str) -> Result<TempDir, Error> {
        use std::os::unix::fs::DirBuilderExt;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let mut last = None;
        for attempt in 0..100u32 {
            let dir = std::env::temp_dir().join(format!(
                "{what}-{}-{}",
                std::process::id(),
                nanos.wrapping_add(attempt)
            ));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => return Ok(TempDir(dir)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(dir),
                Err(e) => return Err(Error::io(&dir.display().to_string(), &e)),
            }
        }
        Err(Error::at(
            &last.map(|d| d.display().to_string()).unwrap_or_default(),
            None,
            "cannot make a new temporary directory: 100 names taken",
        ))
    }

    /// Its path.
    pub(crate) fn path(&self) -> &Path {
        &self.0
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

/// True when some mount point lies under `dir` (and when that cannot be told).
fn mounted_under(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return true;
    };
    let prefix = format!("{}/", dir.display());
    text.lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .any(|mount| mount.starts_with(&prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_is_written_and_its_directory_removed() {
        let context = Context {
            dockerfile: "FROM x\n".into(),
            certificates: vec![("corp-a.crt".into(), b"A".to_vec())],
            tarball: None,
        };
        let kept;
        {
            let dir = TempDir::new("dbgpipe-test-context").unwrap();
            kept = dir.path().to_path_buf();
            write_context(&context, dir.path()).unwrap();
            assert_eq!(
                std::fs::read_to_string(kept.join("Dockerfile")).unwrap(),
                "FROM x\n"
            );
            assert_eq!(
                std::fs::read(kept.join("ca-certificates/corp-a.crt")).unwrap(),
                b"A"
            );
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&kept).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        assert!(!kept.exists());
        // Two at once get two directories.
        let a = TempDir::new("dbgpipe-test-two").unwrap();
        let b = TempDir::new("dbgpipe-test-two").unwrap();
        assert_ne!(a.path(), b.path());
    }
}
