//! Read-only, zero-copy reader for bbolt database files.
#![deny(missing_docs)]
