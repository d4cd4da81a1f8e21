//! portplan-run: the decisions of one portplan run on one host, as pure
//! functions of what was read there.
//!
//! What it is: the middle of a run, between the shell's gathering (reading
//! `/proc`, the sysctls, the firewall tools' output, once each) and its
//! executing (running argv, rolling back, persisting): which backend to
//! drive and why, the warnings, the verdict against `fail_on`, the commands
//! and the rule set they must leave, and the verification of what was read
//! back. The Ansible module and the `portplan` CLI call the same steps.
//!
//! What it is not: it reads nothing and runs nothing (it builds for
//! `wasm32-unknown-unknown` like core), and it holds no rule of its own about
//! ports: those are core's. Errors are a typed [`RunError`].

#![forbid(unsafe_code)]

mod choice;
mod drift;
mod error;
mod persist;
mod reserve;
mod steps;
pub mod ufw;
mod undo;
mod verdict;
mod zone;

pub use choice::{Choice, Detected, FirewallChoice, choose, host_warnings};
pub use drift::drift;
pub use error::RunError;
pub use persist::{nft_conf, nft_conf_replaceable, normalized as normalized_saved};
pub use reserve::{
    DropIn, RESERVED_PORTS_KEY, Reservation, SYSCTL_DROPIN, dropin_is_ours, parse_ports,
    planned_ports, port_list, reserve, unreserve,
};
pub use steps::{Steps, Task, describe, steps, tagged, verify};
pub use undo::{UfwLists, undo};
pub use verdict::verdict;
pub use zone::asked_zone;
