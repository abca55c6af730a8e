//! gdb backtraces and the `bt-demangle` filter, one job per module:
//! - [`gdb`]: the parser of what gdb prints (frames, threads, signals, `py-bt`);
//! - [`simplify`]: shorter C++ names (demangling itself is [`crate::demangle`]);
//! - [`classify`]: whose code a frame is (`project`, `python`, `system`, `unknown`);
//! - [`signature`]: the crash signature, a hash of function names;
//! - [`records`]: bt-demangle's records, as its JSON lines and CSV carry them;
//! - [`filter`]: input (gdb's text, or the JSON lines read back) → records;
//! - `ahead`: files read ahead, a second thread demangling every other chunk of lines;
//! - [`print`]: records → the text report, JSON lines or CSV.

mod ahead;
pub mod classify;
pub mod filter;
pub mod gdb;
pub mod print;
pub mod records;
pub mod signature;
pub mod simplify;
