//! librampart.so (work in progress)
