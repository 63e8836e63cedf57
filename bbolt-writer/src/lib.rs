//! Bulk writer for bbolt files.
#![deny(missing_docs)]
