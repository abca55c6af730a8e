//! The debug-interpreter image: its recipe, tag, build and check ([`recipe`], `dbg-image`),
//! the container engine ([`engine`]), env files read without a shell ([`envfile`]), and the
//! command line that runs a command in the image as if it ran here ([`run`],
//! `run-in-image`).

pub mod engine;
pub mod envfile;
pub mod recipe;
pub mod run;
