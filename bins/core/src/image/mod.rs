//! The debug-interpreter image and running in it.
//!
//! `dbg-image`: the [`recipe`] (the choices, and the content tag of what the build sees), its
//! one [`dockerfile`] template, whether [`python_org`] answers (where the source recipe's
//! tarball comes from), [`build`]ing it and the in-image check ([`probe`]), the base
//! image from [`debootstrap`], and the [`records`] it prints. `run-in-image`: the command line
//! that runs a command in the image as if it ran here ([`run`]), with env files read without
//! a shell ([`envfile`]). Both drive the container [`engine`].

pub mod build;
pub mod debootstrap;
pub mod dockerfile;
pub mod engine;
pub mod envfile;
pub mod probe;
pub mod python_org;
pub mod recipe;
pub mod records;
pub mod run;
