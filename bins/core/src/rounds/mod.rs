//! Rounds: a workload repeated, and a value measured after each round (RSS, the interpreter's
//! total reference count, allocated blocks), judged for a leak. This folder is `rss-rounds`:
//! - [`lines`]: the line formats that carry the values (leak-test scripts' lines,
//!   `--pattern`s, and rss-rounds' own CSV and JSON lines read back); [`massif`]: Valgrind
//!   Massif's `massif.out` files, their heap series and growing allocation sites;
//! - [`filter`]: lines in, series kept, records out; [`series`]: one series as kept;
//! - [`records`]: the records (the wire format); [`print`](mod@print): the printers; [`words`]: the
//!   verdicts and the summary in words;
//! - [`trend`]: the rules that decide whether a series grows (on the rank-based statistics
//!   of `stats.rs`); [`plot`]: pictures of it;
//! - [`harness`]: the Python harness that runs a workload in rounds (`rss-rounds run`);
//!   [`watch`] and [`memory`]: sampling a process tree's memory from outside
//!   (`rss-rounds watch`).

pub mod filter;
pub mod harness;
pub mod lines;
pub mod massif;
pub mod memory;
pub mod plot;
pub mod print;
pub mod records;
pub mod series;
mod stats;
pub mod trend;
pub mod watch;
pub mod words;
