//! dbg-image: the image with a debug build of CPython, valgrind, gdb and memray: its
//! Dockerfile, building it under a content-derived tag, and a debootstrap base for machines
//! that cannot pull one.

use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};
use dbgpipe_core::cli::{self, Outcome};
use dbgpipe_core::image::engine::Engine;
use dbgpipe_core::image::recipe::{self, Context, Fetch, Origin, Recipe};
use dbgpipe_core::image::records::Record;
use dbgpipe_core::image::{build, debootstrap, python_org};
use dbgpipe_core::output::{JsonLines, Printer, Sink};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

const AFTER_HELP: &str = "\
RECIPES:
  --from debian (the default where a Debian release ships the version: 3.9, 3.11, 3.13) installs
  python3.X-dbg and python3.X-dev with PYTHONMALLOC=malloc set, so that Valgrind sees every
  allocation. --from source builds CPython with --with-pydebug --with-valgrind --without-pymalloc
  OPT=-g (make -j on every core), as /usr/local/bin/python3.X-dbg. Its tarball comes from
  --tarball FILE (checked against the SHA-256 dbg-image knows for that release, when it knows
  it), else python.org when www.python.org:443 answers within 5 s (3.9.25 3.10.19 3.11.14
  3.12.12 3.13.9 3.14.0, checked by SHA-256), else Debian's pythonX.Y source package from the
  base's own mirror (apt-get source --download-only; checked against its .dsc): 3.11.2 on
  bookworm, byte for byte python.org's Python-3.11.2.tgz. --source python.org|debian chooses.
  The record says which (source, source_file, source_sha256). Both recipes bring gcc and the
  headers, to build extensions inside, and memray in a venv of the release interpreter (its
  wheels cannot load into a debug build). docker/Dockerfile.debian, docker/Dockerfile.source
  and docker/Dockerfile.source-debian are this template's output.

TAGS AND CACHING:
  The tag is dbgpipe/python-dbg:X.Y-HASH, HASH from the Dockerfile's text and the build context
  (the host's added certificate authorities from /usr/local/share/ca-certificates, which the
  image trusts so that pip works behind a TLS-intercepting proxy). An unchanged recipe finds its
  image and builds nothing; --force rebuilds without the layer cache.

OUTPUT:
  build prints one record after checking the image with its debug interpreter:
  {\"type\":\"image\",\"tag\":…,\"id\":\"sha256:…\",\"python\":\"3.11\",\"interpreter\":\"/usr/bin/python3.11-dbg\",
   \"version\":\"3.11.2\",\"debug_build\":true,\"pymalloc\":true,\"with_valgrind\":true,\"valgrind\":\"3.19.0\",
   \"gdb\":\"13.1\",\"memray\":\"1.20.0\",\"memray_path\":…,\"memray_python\":…,\"recipe\":\"debian\",
   \"source\":null,\"source_file\":null,\"source_sha256\":null,\"engine\":\"docker\",\"built\":false,
   \"seconds\":1.2,\"problems\":[]}
  The source recipe's image must have pymalloc false and with_valgrind true.
  base prints {\"type\":\"base\",\"tag\":\"dbgpipe/debootstrap:SUITE\",\"id\":…,\"suite\":…,\"variant\":\"minbase\",
   \"mirror\":…,\"engine\":…,\"built\":…,\"seconds\":…}. The engine's progress goes to stderr.

EXAMPLES:
  dbg-image build --python 3.11
  dbg-image base --debootstrap bookworm && dbg-image build --base dbgpipe/debootstrap:bookworm
  dbg-image build --from source --python 3.11 --base dbgpipe/debootstrap:bookworm
  dbg-image build --from source --tarball Python-3.12.12.tar.xz
  dbg-image dockerfile --from source --source python.org --python 3.12 > Dockerfile
  dbg-image dockerfile | sed 's/ gdb / gdb strace /' | dbg-image build -
  docker rmi $(dbg-image tag)

LIMITS:
  a Dockerfile (a file or -) over 1 MiB, or not UTF-8, is refused.

EXIT STATUS:
  0  done (build: the image is a debug build, without pymalloc and with Valgrind client
     requests for --from source, and the tools it should have run)
  1  build: the image failed its check (the record's problems say why)
  2  bad usage, no engine, a failed build or debootstrap";

/// The debug-interpreter image: Dockerfile, build, base.
#[derive(Parser, Debug)]
#[command(name = "dbg-image", version, after_help = AFTER_HELP, max_term_width = 100)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the Dockerfile of a recipe.
    Dockerfile(RecipeArgs),
    /// Print the tag `build` gives a recipe (on this host).
    Tag(RecipeArgs),
    /// Build a recipe's image (or a Dockerfile's, `-` for stdin) unless its tag exists, check
    /// it, and print its record.
    Build(BuildArgs),
    /// Make a base image from a debootstrap root filesystem (`docker import`); needs root.
    Base(BaseArgs),
}

#[derive(ClapArgs, Debug, Clone)]
struct RecipeArgs {
    /// Python version X.Y (or X.Y.Z from source). [default: 3.11]
    #[arg(long, value_name = "X.Y")]
    python: Option<String>,

    /// Where the debug interpreter comes from. [default: debian where Debian ships the
    /// version, else source]
    #[arg(long = "from", value_enum, value_name = "ORIGIN")]
    origin: Option<OriginArg>,

    /// The FROM image. [default: debian:<the release shipping the version>, debian:bookworm
    /// for source]
    #[arg(long, value_name = "IMAGE")]
    base: Option<String>,

    /// Tools to install, comma separated: valgrind, gdb, memray; other names are extra Debian
    /// packages. [default: valgrind,gdb,memray]
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    with: Option<Vec<String>>,

    /// For --from source: where CPython's tarball comes from. [default: python.org when it
    /// answers, else debian]
    #[arg(long, value_enum, value_name = "WHERE", conflicts_with = "tarball")]
    source: Option<SourceArg>,

    /// For --from source: build this release tarball (python.org's Python-X.Y.Z.tar.xz or
    /// .tgz, or Debian's pythonX.Y_X.Y.Z.orig.tar.gz), checked against the SHA-256 dbg-image
    /// knows for that release.
    #[arg(long, value_name = "FILE")]
    tarball: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum OriginArg {
    Debian,
    Source,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SourceArg {
    /// python.org's release tarball.
    #[value(name = "python.org")]
    PythonOrg,
    /// The orig tarball of Debian's pythonX.Y source package, from the base's mirror.
    Debian,
}

#[derive(ClapArgs, Debug)]
struct BuildArgs {
    #[command(flatten)]
    recipe: RecipeArgs,

    /// Build this Dockerfile instead of a recipe (`-`: standard input).
    #[arg(value_name = "DOCKERFILE")]
    dockerfile: Option<PathBuf>,

    /// Container engine: docker or podman (or a path). [default: the first on PATH]
    #[arg(long, value_name = "ENGINE")]
    engine: Option<String>,

    /// Rebuild even when the tag exists, without the layer cache.
    #[arg(long)]
    force: bool,

    /// Leave the host's certificate authorities out of the build context.
    #[arg(long)]
    no_host_certificates: bool,
}

#[derive(ClapArgs, Debug)]
struct BaseArgs {
    /// The Debian suite to bootstrap (bookworm, trixie, stable…).
    #[arg(long, value_name = "SUITE")]
    debootstrap: String,

    /// The Debian mirror.
    #[arg(long, value_name = "URL", default_value = debootstrap::DEFAULT_MIRROR)]
    mirror: String,

    /// Container engine: docker or podman (or a path). [default: the first on PATH]
    #[arg(long, value_name = "ENGINE")]
    engine: Option<String>,

    /// Make it again even when the tag exists.
    #[arg(long)]
    force: bool,
}

fn main() -> std::process::ExitCode {
    cli::main("dbg-image", || run(Args::parse()))
}

fn recipe(args: &RecipeArgs) -> anyhow::Result<Recipe> {
    let origin = args.origin.map(|o| match o {
        OriginArg::Debian => Origin::Debian,
        OriginArg::Source => Origin::Source,
    });
    let fetch = match (&args.tarball, args.source) {
        (Some(file), _) => Some(Fetch::File(file.clone())),
        (None, Some(SourceArg::PythonOrg)) => Some(Fetch::PythonOrg),
        (None, Some(SourceArg::Debian)) => Some(Fetch::Debian),
        (None, None) => None,
    };
    let make = |fetch: Option<&Fetch>| {
        Recipe::new(
            args.python.as_deref(),
            origin,
            args.base.as_deref(),
            args.with.as_deref(),
            fetch,
        )
    };
    let recipe = make(fetch.as_ref())?;
    if recipe.origin != Origin::Source || fetch.is_some() {
        return Ok(recipe);
    }
    // No source named: python.org when it answers, else Debian's source package.
    let Err(why) = python_org::reachable(python_org::TIMEOUT) else {
        return Ok(recipe);
    };
    let debian = make(Some(&Fetch::Debian)).map_err(|e| {
        anyhow::anyhow!(
            "python.org cannot be reached ({why}), and {e}",
            e = e.to_string().trim_start_matches("recipe: ")
        )
    })?;
    eprintln!(
        "dbg-image: python.org cannot be reached ({why}): CPython's source comes from Debian's python{} source package (--source debian)",
        debian.python
    );
    Ok(debian)
}

fn ca_dir(skip: bool) -> Option<&'static Path> {
    (!skip).then(|| Path::new(recipe::HOST_CA_DIR))
}

/// The one record of a run, as one JSON line.
fn print(record: &Record) -> io::Result<()> {
    let mut out = JsonLines::new(Sink::new(io::stdout().lock(), false));
    out.record(record)?;
    Printer::<Record>::finish(&mut out)
}

fn run(args: Args) -> anyhow::Result<Outcome> {
    let stdout = io::stdout();
    match args.command {
        Command::Dockerfile(r) => {
            let mut out = stdout.lock();
            out.write_all(recipe(&r)?.dockerfile().as_bytes())?;
            out.flush()?;
        }
        Command::Tag(r) => {
            let recipe = recipe(&r)?;
            let tag = recipe::host_context(&recipe)?.tag(&recipe.python);
            let mut out = stdout.lock();
            writeln!(out, "{tag}")?;
            out.flush()?;
        }
        Command::Build(b) => {
            let context = match &b.dockerfile {
                None => Context::of(&recipe(&b.recipe)?, ca_dir(b.no_host_certificates))?,
                Some(path) => {
                    let r = &b.recipe;
                    if r.origin.is_some()
                        || r.base.is_some()
                        || r.with.is_some()
                        || r.source.is_some()
                        || r.tarball.is_some()
                    {
                        anyhow::bail!("--from, --base, --with, --source and --tarball make a recipe; they cannot change a given Dockerfile");
                    }
                    Context::new(
                        recipe::read_dockerfile(path)?,
                        ca_dir(b.no_host_certificates),
                    )?
                }
            };
            let engine = Engine::find(b.engine.as_deref())?;
            let python = b
                .recipe
                .python
                .clone()
                .unwrap_or_else(|| recipe::DEFAULT_PYTHON.into());
            let image = build::build(&engine, &context, &python, b.force)?;
            let findings = !image.problems.is_empty();
            print(&Record::Image(image))?;
            if findings {
                return Ok(Outcome::Findings);
            }
        }
        Command::Base(b) => {
            let engine = Engine::find(b.engine.as_deref())?;
            let base = debootstrap::base(&engine, &b.debootstrap, &b.mirror, b.force)?;
            print(&Record::Base(base))?;
        }
    }
    Ok(Outcome::Clean)
}

#[cfg(test)]
mod tests {
    /// The flags are consistent, and every documented example parses with them.
    #[test]
    fn help_is_true() {
        dbgpipe_core::cli::assert_help_is_true::<super::Args>("dbg-image", &[super::AFTER_HELP], 5);
    }
}
