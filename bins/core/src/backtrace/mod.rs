//! gdb backtraces: the parser of what gdb prints ([`gdb`]), C++ name simplification
//! ([`simplify`]; demangling itself is [`crate::demangle`]), and the `bt-demangle` filter
//! ([`filter`]): frames classified, runs of interpreter frames folded, a crash signature.

pub mod filter;
pub mod gdb;
pub mod simplify;
