//! Reader for etcd's write-ahead log and snapshot files.
#![deny(missing_docs)]
