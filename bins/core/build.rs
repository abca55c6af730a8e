//! Links GNU libiberty statically: its `cplus_demangle` is the C++ demangler (see
//! src/demangle.rs for why). Debian and Ubuntu ship it as `libiberty-dev`; Fedora as
//! `binutils-devel`. `LIBIBERTY_DIR` names another directory holding `libiberty.a`.

use std::path::{Path, PathBuf};

const SEARCH: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
];

fn main() {
    println!("cargo:rerun-if-env-changed=LIBIBERTY_DIR");
    let given = std::env::var_os("LIBIBERTY_DIR").map(PathBuf::from);
    let found = given
        .into_iter()
        .chain(SEARCH.iter().map(PathBuf::from))
        .find(|dir| Path::new(dir).join("libiberty.a").is_file());
    match found {
        Some(dir) => {
            println!("cargo:rustc-link-search=native={}", dir.display());
            println!("cargo:rustc-link-lib=static=iberty");
        }
        None => {
            eprintln!(
                "dbgpipe-core: libiberty.a not found (searched LIBIBERTY_DIR and {}): \
                 install it (apt-get install libiberty-dev) or set LIBIBERTY_DIR",
                SEARCH.join(", ")
            );
            std::process::exit(1);
        }
    }
}
