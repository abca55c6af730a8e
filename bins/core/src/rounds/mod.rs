//! Rounds: a workload repeated, and a value measured after each round (RSS, the interpreter's
//! total reference count, allocated blocks). The line formats that carry them ([`lines`]),
//! the statistics that decide whether a series grows ([`trend`]), plots ([`plot`]), the
//! Python harness that runs a workload in rounds ([`harness`]), the watcher that samples a
//! process tree's memory from outside ([`watch`], [`memory`]), and the `rss-rounds` filter
//! ([`filter`]).

pub mod filter;
pub mod harness;
pub mod lines;
pub mod memory;
pub mod plot;
pub mod trend;
pub mod watch;
